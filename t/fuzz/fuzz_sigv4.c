
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: SigV4 canonicalisation and signing of a request
 * made from the fuzz bytes.  The input is split at NUL bytes into
 *
 *   method uri host content-type x-amz-date security-token client-token
 *   region service access-key-id secret body
 *
 * (missing fields are empty, the body takes the rest).  Every output is
 * written into a buffer malloc()ed to exactly the length that the
 * signer's own *_len() function gives, so that ASan catches overruns:
 * the canonical request, the signature scratch (which must also be
 * refused one byte shorter) and the Authorization value.  A key derived
 * once, derived again in place and derived fresh must sign alike.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_sigv4.h"
#include "ngx_lfv_unit.h"


#define NGX_LFV_FUZZ_FIELDS      11
#define NGX_LFV_FUZZ_SECRET_MAX  256


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_query(u_char *p, size_t len);
static void ngx_lfv_fuzz_sign(ngx_http_lfv_sigv4_crypto_t *c,
    ngx_http_lfv_sigv4_request_t *sr, ngx_str_t *secret);
static void ngx_lfv_fuzz_signature(ngx_http_lfv_sigv4_crypto_t *c,
    ngx_http_lfv_sigv4_request_t *sr, ngx_http_lfv_sigv4_key_t *key,
    u_char *signature);
static void *ngx_lfv_fuzz_alloc(size_t size);


static void
ngx_lfv_fuzz_query(u_char *p, size_t len)
{
    u_char  *tmp, *dst, *last;

    tmp = malloc(NGX_HTTP_LFV_QUERY_SIZE(len));
    dst = malloc(NGX_HTTP_LFV_QUERY_SIZE(len));

    if (tmp == NULL || dst == NULL) {
        abort();
    }

    last = ngx_http_lfv_sigv4_query(p, len, tmp, dst);

    if (last && (last < dst || last > dst + NGX_HTTP_LFV_QUERY_SIZE(len))) {
        abort();
    }

    free(tmp);
    free(dst);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                               *in, *p, *last, *s, *buf, *end;
    size_t                                n;
    ngx_str_t                             f[NGX_LFV_FUZZ_FIELDS + 1];
    ngx_uint_t                            i;
    ngx_http_lfv_sigv4_request_t          sr;
    static ngx_uint_t                     initialized;
    static ngx_http_lfv_sigv4_crypto_t    crypto;

    if (!initialized) {
        if (ngx_http_lfv_sigv4_crypto_init(&crypto) != NGX_OK) {
            abort();
        }

        initialized = 1;
    }

    in = ngx_lfv_fuzz_alloc(size);
    ngx_memcpy(in, data, size);

    p = in;
    last = in + size;

    /* fields at NUL bytes; the body takes the rest */

    for (i = 0; i < NGX_LFV_FUZZ_FIELDS + 1; i++) {
        s = p;

        if (i < NGX_LFV_FUZZ_FIELDS) {
            while (p < last && *p != '\0') {
                p++;
            }

        } else {
            p = last;
        }

        f[i].data = s;
        f[i].len = p - s;

        if (p < last) {
            p++;
        }
    }

    sr.method = f[0];
    sr.uri = f[1];
    ngx_str_null(&sr.query);

    /* the query canonicalizer on the same bytes, into exact buffers */

    ngx_lfv_fuzz_query(f[1].data, f[1].len);
    sr.header[NGX_HTTP_LFV_H_HOST] = f[2];
    sr.header[NGX_HTTP_LFV_H_CONTENT_TYPE] = f[3];
    sr.header[NGX_HTTP_LFV_H_AMZ_DATE] = f[4];
    sr.header[NGX_HTTP_LFV_H_SECURITY_TOKEN] = f[5];
    ngx_str_null(&sr.header[NGX_HTTP_LFV_H_TARGET]);
    sr.header[NGX_HTTP_LFV_H_CLIENT_TOKEN] = f[6];
    sr.region = f[7];
    sr.service = f[8];
    sr.access_key_id = f[9];

    if (ngx_http_lfv_sigv4_sha256_hex(&crypto, f[11].data, f[11].len,
                                      sr.payload_hash)
        != NGX_OK)
    {
        abort();
    }

    /* the canonical request fits the bound, and so do the signed headers */

    n = ngx_http_lfv_sigv4_canonical_len(&sr);
    buf = ngx_lfv_fuzz_alloc(n);

    end = ngx_http_lfv_sigv4_canonical(&sr, buf);
    if (end < buf || (size_t) (end - buf) > n) {
        abort();
    }

    free(buf);

    n = sizeof("content-type;host;x-amz-date;x-amz-security-token;"
               "x-amzn-client-token") - 1;
    buf = ngx_lfv_fuzz_alloc(n);

    end = ngx_http_lfv_sigv4_signed_headers(&sr, buf);
    if ((size_t) (end - buf) > n) {
        abort();
    }

    free(buf);

    ngx_lfv_fuzz_sign(&crypto, &sr, &f[10]);

    free(in);

    return 0;
}


static void
ngx_lfv_fuzz_sign(ngx_http_lfv_sigv4_crypto_t *c,
    ngx_http_lfv_sigv4_request_t *sr, ngx_str_t *secret)
{
    u_char                    *scratch, *auth, *end;
    size_t                     size;
    ngx_int_t                  rc;
    ngx_http_lfv_sigv4_key_t   key, fresh;
    u_char                     sig1[NGX_HTTP_LFV_SHA256_HEX_LEN];
    u_char                     sig2[NGX_HTTP_LFV_SHA256_HEX_LEN];

    ngx_memzero(&key, sizeof(ngx_http_lfv_sigv4_key_t));
    ngx_memzero(&fresh, sizeof(ngx_http_lfv_sigv4_key_t));

    size = ngx_lfv_unit_scratch_size(sr);

    if (sr->header[NGX_HTTP_LFV_H_AMZ_DATE].len != NGX_HTTP_LFV_AMZ_DATE_LEN) {

        /* refused before the key is looked at */

        scratch = ngx_lfv_fuzz_alloc(size);

        if (ngx_http_lfv_sigv4_signature(c, sr, &key, scratch, size, sig1)
            != NGX_ERROR)
        {
            abort();
        }

        free(scratch);
        return;
    }

    /* the date is the first 8 bytes of x-amz-date */

    rc = ngx_http_lfv_sigv4_derive_key(c, secret, ngx_http_lfv_sigv4_date(sr),
                                       &sr->region, &sr->service, &key);

    if (rc != (secret->len > NGX_LFV_FUZZ_SECRET_MAX ? NGX_ERROR : NGX_OK)) {
        abort();
    }

    if (rc != NGX_OK) {
        ngx_http_lfv_sigv4_key_free(&key);
        return;
    }

    /* one byte short: refused, and nothing written past it */

    scratch = ngx_lfv_fuzz_alloc(size - 1);

    if (ngx_http_lfv_sigv4_signature(c, sr, &key, scratch, size - 1, sig1)
        != NGX_ERROR)
    {
        abort();
    }

    free(scratch);

    ngx_lfv_fuzz_signature(c, sr, &key, sig1);

    /* derived again in place (the HMAC context is reused) */

    if (ngx_http_lfv_sigv4_derive_key(c, secret, ngx_http_lfv_sigv4_date(sr),
                                      &sr->region, &sr->service, &key)
        != NGX_OK)
    {
        abort();
    }

    ngx_lfv_fuzz_signature(c, sr, &key, sig2);

    if (ngx_memcmp(sig1, sig2, NGX_HTTP_LFV_SHA256_HEX_LEN) != 0) {
        abort();
    }

    /* and a fresh key, while the first one still exists */

    if (ngx_http_lfv_sigv4_derive_key(c, secret, ngx_http_lfv_sigv4_date(sr),
                                      &sr->region, &sr->service, &fresh)
        != NGX_OK)
    {
        abort();
    }

    ngx_lfv_fuzz_signature(c, sr, &fresh, sig2);

    if (ngx_memcmp(sig1, sig2, NGX_HTTP_LFV_SHA256_HEX_LEN) != 0
        || ngx_memcmp(fresh.key, key.key, NGX_HTTP_LFV_SHA256_LEN) != 0)
    {
        abort();
    }

    ngx_http_lfv_sigv4_key_free(&fresh);
    ngx_http_lfv_sigv4_key_free(&key);

    size = ngx_http_lfv_sigv4_authorization_len(sr);
    auth = ngx_lfv_fuzz_alloc(size);

    end = ngx_http_lfv_sigv4_authorization(sr, sig1, auth);
    if ((size_t) (end - auth) > size) {
        abort();
    }

    free(auth);
}


static void
ngx_lfv_fuzz_signature(ngx_http_lfv_sigv4_crypto_t *c,
    ngx_http_lfv_sigv4_request_t *sr, ngx_http_lfv_sigv4_key_t *key,
    u_char *signature)
{
    u_char  *scratch;
    size_t   size, i;

    size = ngx_lfv_unit_scratch_size(sr);
    scratch = ngx_lfv_fuzz_alloc(size);

    if (ngx_http_lfv_sigv4_signature(c, sr, key, scratch, size, signature)
        != NGX_OK)
    {
        abort();
    }

    free(scratch);

    for (i = 0; i < NGX_HTTP_LFV_SHA256_HEX_LEN; i++) {
        if (!((signature[i] >= '0' && signature[i] <= '9')
              || (signature[i] >= 'a' && signature[i] <= 'f')))
        {
            abort();
        }
    }
}


static void *
ngx_lfv_fuzz_alloc(size_t size)
{
    void  *p;

    /* malloc(0) may give NULL; a 0-byte buffer must not be written anyway */

    p = malloc(size ? size : 1);
    if (p == NULL) {
        abort();
    }

    return p;
}
