
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * Signs the requests read from stdin with ngx_http_lfv_sigv4.c, one
 * per line, fields separated by tabs:
 *
 *   id mode method uri host content-type(hex) x-amz-date security-token
 *   client-token region service access-key-id secret(hex) body(hex)
 *
 * mode: "c" takes the signing key from a small cache (derived once per
 * secret, date, region and service, evicted round robin by deriving
 * into the old slot, as ngx_http_lfv_sign.c does), "r" finds or makes
 * the cached key and derives it again in place, "f" derives a fresh key
 * and frees it.  A "v" after the mode adds the canonical request (hex).
 *
 * Prints "id<TAB>signature<TAB>authorization[<TAB>canonical]" or
 * "id<TAB>error<TAB>why" per line; counters go to stderr at the end.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>

#include "ngx_http_lfv_sigv4.h"
#include "ngx_lfv_unit.h"


#define NGX_LFV_UNIT_FIELDS  14
#define NGX_LFV_UNIT_KEYS    16


typedef struct {
    ngx_uint_t                    valid;
    ngx_str_t                     secret;
    u_char                        date[NGX_HTTP_LFV_DATE_LEN];
    ngx_str_t                     region;
    ngx_str_t                     service;
    ngx_http_lfv_sigv4_key_t      key;
} ngx_lfv_unit_key_t;


typedef struct {
    ngx_http_lfv_sigv4_crypto_t   crypto;
    ngx_lfv_unit_key_t            keys[NGX_LFV_UNIT_KEYS];
    ngx_uint_t                    next;

    ngx_uint_t                    vectors;
    ngx_uint_t                    derived;
    ngx_uint_t                    hits;
    ngx_uint_t                    rederived;
    ngx_uint_t                    fresh;
    ngx_uint_t                    errors;
} ngx_lfv_unit_signer_t;


static char *ngx_lfv_unit_sign(ngx_lfv_unit_signer_t *s, u_char *line,
    size_t len);
static ngx_http_lfv_sigv4_key_t *ngx_lfv_unit_key(ngx_lfv_unit_signer_t *s,
    ngx_http_lfv_sigv4_request_t *sr, ngx_str_t *secret, ngx_uint_t again);
static ngx_int_t ngx_lfv_unit_eq(ngx_str_t *a, ngx_str_t *b);
static ngx_int_t ngx_lfv_unit_dup(ngx_str_t *dst, ngx_str_t *src);
static void ngx_lfv_unit_key_clear(ngx_lfv_unit_key_t *k);
static void ngx_lfv_unit_print_hex(u_char *p, size_t len);


int
main(int argc, char **argv)
{
    char                   *err;
    u_char                 *line;
    size_t                  size;
    ssize_t                 n;
    ngx_uint_t              i;
    ngx_lfv_unit_signer_t   s;

    ngx_memzero(&s, sizeof(ngx_lfv_unit_signer_t));

    if (ngx_http_lfv_sigv4_crypto_init(&s.crypto) != NGX_OK) {
        fprintf(stderr, "sigv4_driver: crypto init failed\n");
        return 2;
    }

    line = NULL;
    size = 0;

    while ((n = getline((char **) &line, &size, stdin)) != -1) {

        if (n && line[n - 1] == '\n') {
            n--;
        }

        if (n == 0) {
            continue;
        }

        err = ngx_lfv_unit_sign(&s, line, n);

        if (err) {
            s.errors++;
            printf("\terror\t%s\n", err);
        }

        s.vectors++;
    }

    free(line);

    for (i = 0; i < NGX_LFV_UNIT_KEYS; i++) {
        ngx_lfv_unit_key_clear(&s.keys[i]);
        ngx_http_lfv_sigv4_key_free(&s.keys[i].key);
    }

    ngx_http_lfv_sigv4_crypto_free(&s.crypto);

    fprintf(stderr, "sigv4_driver: vectors %lu derived %lu cache_hits %lu "
            "rederived %lu fresh %lu errors %lu\n",
            (unsigned long) s.vectors, (unsigned long) s.derived,
            (unsigned long) s.hits, (unsigned long) s.rederived,
            (unsigned long) s.fresh, (unsigned long) s.errors);

    return 0;
}


/* returns NULL when a signature was printed, or why there is none */

static char *
ngx_lfv_unit_sign(ngx_lfv_unit_signer_t *s, u_char *line, size_t len)
{
    u_char                        *scratch, *canonical, *auth, *p, *q;
    u_char                        *last;
    size_t                         size, n;
    ngx_str_t                     *f, secret, body;
    ngx_uint_t                     fresh, again, verbose;
    ngx_http_lfv_sigv4_key_t      *key, local;
    ngx_http_lfv_sigv4_request_t   sr;
    ngx_str_t                      fields[NGX_LFV_UNIT_FIELDS];
    u_char                         signature[NGX_HTTP_LFV_SHA256_HEX_LEN];

    /* static: a ListModels query is at most a few kilobytes */
    static u_char                  query_tmp[NGX_HTTP_LFV_QUERY_SIZE(16384)];
    static u_char                  query_out[NGX_HTTP_LFV_QUERY_SIZE(16384)];

    f = fields;

    if (ngx_lfv_unit_split(line, len, f, NGX_LFV_UNIT_FIELDS)
        != NGX_LFV_UNIT_FIELDS)
    {
        fprintf(stderr, "sigv4_driver: bad line: %.*s\n", (int) len, line);
        exit(2);
    }

    printf("%.*s", (int) f[0].len, f[0].data);

    if (ngx_lfv_unit_unhex(&f[5]) != NGX_OK
        || ngx_lfv_unit_unhex(&f[12]) != NGX_OK
        || ngx_lfv_unit_unhex(&f[13]) != NGX_OK)
    {
        fprintf(stderr, "sigv4_driver: bad hex in %.*s\n",
                (int) f[0].len, f[0].data);
        exit(2);
    }

    fresh = (ngx_strlchr(f[1].data, f[1].data + f[1].len, 'f') != NULL);
    again = (ngx_strlchr(f[1].data, f[1].data + f[1].len, 'r') != NULL);
    verbose = (ngx_strlchr(f[1].data, f[1].data + f[1].len, 'v') != NULL);

    sr.method = f[2];
    sr.uri = f[3];
    ngx_str_null(&sr.query);

    /* "path?query": the query canonicalized as the signer does it */

    q = ngx_strlchr(f[3].data, f[3].data + f[3].len, '?');

    if (q) {
        sr.uri.len = q - f[3].data;
        q++;
        n = f[3].data + f[3].len - q;

        if (NGX_HTTP_LFV_QUERY_SIZE(n) > sizeof(query_tmp)) {
            return "query too long";
        }

        sr.query.data = query_out;
        last = ngx_http_lfv_sigv4_query(q, n, query_tmp, query_out);
        if (last == NULL) {
            return "query pairs";
        }

        sr.query.len = last - query_out;
    }
    sr.header[NGX_HTTP_LFV_H_HOST] = f[4];
    sr.header[NGX_HTTP_LFV_H_CONTENT_TYPE] = f[5];
    sr.header[NGX_HTTP_LFV_H_AMZ_DATE] = f[6];
    sr.header[NGX_HTTP_LFV_H_SECURITY_TOKEN] = f[7];
    ngx_str_null(&sr.header[NGX_HTTP_LFV_H_TARGET]);
    sr.header[NGX_HTTP_LFV_H_CLIENT_TOKEN] = f[8];
    sr.region = f[9];
    sr.service = f[10];
    sr.access_key_id = f[11];
    secret = f[12];
    body = f[13];

    if (sr.header[NGX_HTTP_LFV_H_AMZ_DATE].len != NGX_HTTP_LFV_AMZ_DATE_LEN) {
        return "x-amz-date";
    }

    if (ngx_http_lfv_sigv4_sha256_hex(&s->crypto, body.data, body.len,
                                      sr.payload_hash)
        != NGX_OK)
    {
        return "sha256";
    }

    if (fresh) {
        ngx_memzero(&local, sizeof(ngx_http_lfv_sigv4_key_t));

        if (ngx_http_lfv_sigv4_derive_key(&s->crypto, &secret,
                                          ngx_http_lfv_sigv4_date(&sr),
                                          &sr.region, &sr.service, &local)
            != NGX_OK)
        {
            ngx_http_lfv_sigv4_key_free(&local);
            return "derive";
        }

        s->fresh++;
        key = &local;

    } else {
        key = ngx_lfv_unit_key(s, &sr, &secret, again);
        if (key == NULL) {
            return "derive";
        }
    }

    /* exactly the size the signer asks for: ASan sees any overrun */

    size = ngx_lfv_unit_scratch_size(&sr);

    scratch = malloc(size);
    if (scratch == NULL) {
        exit(2);
    }

    if (ngx_http_lfv_sigv4_signature(&s->crypto, &sr, key, scratch, size,
                                     signature)
        != NGX_OK)
    {
        free(scratch);

        if (fresh) {
            ngx_http_lfv_sigv4_key_free(&local);
        }

        return "signature";
    }

    free(scratch);

    if (fresh) {
        ngx_http_lfv_sigv4_key_free(&local);
    }

    size = ngx_http_lfv_sigv4_authorization_len(&sr);

    auth = malloc(size);
    if (auth == NULL) {
        exit(2);
    }

    p = ngx_http_lfv_sigv4_authorization(&sr, signature, auth);

    if ((size_t) (p - auth) > size) {
        fprintf(stderr, "sigv4_driver: authorization overran its length\n");
        abort();
    }

    printf("\t%.*s\t%.*s", NGX_HTTP_LFV_SHA256_HEX_LEN, signature,
           (int) (p - auth), auth);

    free(auth);

    if (verbose) {
        size = ngx_http_lfv_sigv4_canonical_len(&sr);

        canonical = malloc(size);
        if (canonical == NULL) {
            exit(2);
        }

        p = ngx_http_lfv_sigv4_canonical(&sr, canonical);

        if ((size_t) (p - canonical) > size) {
            fprintf(stderr, "sigv4_driver: canonical overran its length\n");
            abort();
        }

        printf("\t");
        ngx_lfv_unit_print_hex(canonical, p - canonical);
        free(canonical);
    }

    printf("\n");

    return NULL;
}


static ngx_http_lfv_sigv4_key_t *
ngx_lfv_unit_key(ngx_lfv_unit_signer_t *s, ngx_http_lfv_sigv4_request_t *sr,
    ngx_str_t *secret, ngx_uint_t again)
{
    ngx_uint_t           i;
    ngx_lfv_unit_key_t  *k;

    for (i = 0; i < NGX_LFV_UNIT_KEYS; i++) {
        k = &s->keys[i];

        if (k->valid
            && ngx_memcmp(k->date, ngx_http_lfv_sigv4_date(sr),
                          NGX_HTTP_LFV_DATE_LEN)
               == 0
            && ngx_lfv_unit_eq(&k->secret, secret)
            && ngx_lfv_unit_eq(&k->region, &sr->region)
            && ngx_lfv_unit_eq(&k->service, &sr->service))
        {
            if (!again) {
                s->hits++;
                return &k->key;
            }

            /* derive again into a key whose HMAC context already exists */

            k->valid = 0;

            if (ngx_http_lfv_sigv4_derive_key(&s->crypto, secret,
                                              ngx_http_lfv_sigv4_date(sr),
                                              &sr->region, &sr->service,
                                              &k->key)
                != NGX_OK)
            {
                ngx_lfv_unit_key_clear(k);
                return NULL;
            }

            k->valid = 1;
            s->rederived++;

            return &k->key;
        }
    }

    /* a new entry: evict round robin, keeping the old HMAC context */

    k = &s->keys[s->next++ % NGX_LFV_UNIT_KEYS];

    ngx_lfv_unit_key_clear(k);

    if (ngx_http_lfv_sigv4_derive_key(&s->crypto, secret,
                                      ngx_http_lfv_sigv4_date(sr),
                                      &sr->region, &sr->service, &k->key)
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_lfv_unit_dup(&k->secret, secret) != NGX_OK
        || ngx_lfv_unit_dup(&k->region, &sr->region) != NGX_OK
        || ngx_lfv_unit_dup(&k->service, &sr->service) != NGX_OK)
    {
        exit(2);
    }

    ngx_memcpy(k->date, ngx_http_lfv_sigv4_date(sr), NGX_HTTP_LFV_DATE_LEN);
    k->valid = 1;
    s->derived++;

    return &k->key;
}


static ngx_int_t
ngx_lfv_unit_eq(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_memcmp(a->data, b->data, a->len) == 0);
}


static ngx_int_t
ngx_lfv_unit_dup(ngx_str_t *dst, ngx_str_t *src)
{
    dst->data = malloc(src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->len = src->len;

    return NGX_OK;
}


/* forgets what the entry is for; its derived key stays for reuse */

static void
ngx_lfv_unit_key_clear(ngx_lfv_unit_key_t *k)
{
    k->valid = 0;

    if (k->secret.data) {
        ngx_explicit_memzero(k->secret.data, k->secret.len);
    }

    free(k->secret.data);
    free(k->region.data);
    free(k->service.data);

    ngx_str_null(&k->secret);
    ngx_str_null(&k->region);
    ngx_str_null(&k->service);
}


static void
ngx_lfv_unit_print_hex(u_char *p, size_t len)
{
    u_char  buf[2 * 256];
    size_t  n;

    while (len) {
        n = ngx_min(len, 256);
        ngx_hex_dump(buf, p, n);
        fwrite(buf, 1, 2 * n, stdout);
        p += n;
        len -= n;
    }
}
