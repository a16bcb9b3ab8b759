
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/hmac.h>
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
#include <openssl/core_names.h>
#endif

#include "ngx_http_lfv_sigv4.h"
#include "ngx_http_lfv_creds_doc.h"


static ngx_int_t ngx_http_lfv_sigv4_hmac(ngx_http_lfv_sigv4_crypto_t *c,
    u_char *key, size_t key_len, u_char *data, size_t len, u_char *out);
static u_char *ngx_http_lfv_sigv4_header(u_char *p,
    ngx_http_lfv_sigv4_header_t *h, ngx_str_t *value);
static u_char *ngx_http_lfv_sigv4_scope(ngx_http_lfv_sigv4_request_t *sr,
    u_char *p);
static void ngx_http_lfv_sigv4_hex(u_char *dst, u_char *digest);
static u_char *ngx_http_lfv_sigv4_reencode(u_char *p, size_t len,
    u_char *dst);
static ngx_int_t ngx_http_lfv_sigv4_strcmp(ngx_str_t *a, ngx_str_t *b);


static u_char  ngx_http_lfv_sigv4_algorithm[] = "AWS4-HMAC-SHA256";
static u_char  ngx_http_lfv_sigv4_terminator[] = "aws4_request";


/* "00" to "ff": a digest becomes hex two characters at a time */

static uint16_t  ngx_http_lfv_sigv4_hex_pairs[256];


/* indexed by ngx_http_lfv_signed_e */

ngx_http_lfv_sigv4_header_t  ngx_http_lfv_sigv4_headers[] = {
    { ngx_string("content-type") },
    { ngx_string("host") },
    { ngx_string("x-amz-date") },
    { ngx_string("x-amz-security-token") },
    { ngx_string("x-amz-target") },
    { ngx_string("x-amzn-client-token") },
};


ngx_int_t
ngx_http_lfv_sigv4_crypto_init(ngx_http_lfv_sigv4_crypto_t *c)
{
    u_char      pair[2];
    ngx_uint_t  i;

    static const u_char  hex[] = "0123456789abcdef";

    for (i = 0; i < 256; i++) {
        pair[0] = hex[i >> 4];
        pair[1] = hex[i & 0xf];
        ngx_memcpy(&ngx_http_lfv_sigv4_hex_pairs[i], pair, 2);
    }

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    OSSL_PARAM  params[2];

    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);

    if (c->sha256 == NULL || c->hmac == NULL) {
        return NGX_ERROR;
    }

    c->mac = EVP_MAC_CTX_new(c->hmac);
    if (c->mac == NULL) {
        return NGX_ERROR;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_CTX_set_params(c->mac, params) != 1) {
        return NGX_ERROR;
    }

#else
    c->sha256 = (EVP_MD *) EVP_sha256();
#endif

    c->md = EVP_MD_CTX_new();
    if (c->md == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_lfv_sigv4_crypto_free(ngx_http_lfv_sigv4_crypto_t *c)
{
    if (c->md) {
        EVP_MD_CTX_free(c->md);
        c->md = NULL;
    }

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    if (c->mac) {
        EVP_MAC_CTX_free(c->mac);
        c->mac = NULL;
    }

    if (c->hmac) {
        EVP_MAC_free(c->hmac);
        c->hmac = NULL;
    }

    if (c->sha256) {
        EVP_MD_free(c->sha256);
        c->sha256 = NULL;
    }
#endif
}


ngx_int_t
ngx_http_lfv_sigv4_sha256_hex(ngx_http_lfv_sigv4_crypto_t *c, u_char *data,
    size_t len, u_char *hex)
{
    u_char  md[NGX_HTTP_LFV_SHA256_LEN];

    if (EVP_DigestInit_ex(c->md, c->sha256, NULL) != 1
        || EVP_DigestUpdate(c->md, data, len) != 1
        || EVP_DigestFinal_ex(c->md, md, NULL) != 1)
    {
        return NGX_ERROR;
    }

    ngx_http_lfv_sigv4_hex(hex, md);

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_sigv4_hmac(ngx_http_lfv_sigv4_crypto_t *c, u_char *key,
    size_t key_len, u_char *data, size_t len, u_char *out)
{
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    size_t  n;

    if (EVP_MAC_init(c->mac, key, key_len, NULL) != 1
        || EVP_MAC_update(c->mac, data, len) != 1
        || EVP_MAC_final(c->mac, out, &n, NGX_HTTP_LFV_SHA256_LEN) != 1)
    {
        return NGX_ERROR;
    }

#else
    if (HMAC(c->sha256, key, key_len, data, len, out, NULL) == NULL) {
        return NGX_ERROR;
    }
#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_sigv4_derive_key(ngx_http_lfv_sigv4_crypto_t *c,
    ngx_str_t *secret, u_char *date, ngx_str_t *region, ngx_str_t *service,
    ngx_http_lfv_sigv4_key_t *key)
{
    u_char     *k;
    ngx_int_t   rc;
    u_char      buf[4 + NGX_HTTP_LFV_SECRET_MAX];
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    EVP_MAC_CTX  *mac;
#endif

    if (secret->len > NGX_HTTP_LFV_SECRET_MAX) {
        return NGX_ERROR;
    }

    k = key->key;

    ngx_memcpy(buf, "AWS4", 4);
    ngx_memcpy(buf + 4, secret->data, secret->len);

    rc = ngx_http_lfv_sigv4_hmac(c, buf, 4 + secret->len, date,
                                 NGX_HTTP_LFV_DATE_LEN, k);

    ngx_explicit_memzero(buf, sizeof(buf));

    if (rc != NGX_OK
        || ngx_http_lfv_sigv4_hmac(c, k, NGX_HTTP_LFV_SHA256_LEN,
                                   region->data, region->len, k)
           != NGX_OK
        || ngx_http_lfv_sigv4_hmac(c, k, NGX_HTTP_LFV_SHA256_LEN,
                                   service->data, service->len, k)
           != NGX_OK
        || ngx_http_lfv_sigv4_hmac(c, k, NGX_HTTP_LFV_SHA256_LEN,
                                   ngx_http_lfv_sigv4_terminator,
                                   sizeof(ngx_http_lfv_sigv4_terminator) - 1,
                                   k)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)

    /* keep the HMAC state keyed once: a signature then costs one HMAC */

    mac = key->mac;

    if (mac == NULL) {
        mac = EVP_MAC_CTX_dup(c->mac);
        if (mac == NULL) {
            return NGX_ERROR;
        }

        key->mac = mac;
    }

    if (EVP_MAC_init(mac, k, NGX_HTTP_LFV_SHA256_LEN, NULL) != 1) {
        return NGX_ERROR;
    }

#endif

    return NGX_OK;
}


void
ngx_http_lfv_sigv4_key_free(ngx_http_lfv_sigv4_key_t *key)
{
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    if (key->mac) {
        EVP_MAC_CTX_free(key->mac);
        key->mac = NULL;
    }
#endif

    ngx_explicit_memzero(key->key, NGX_HTTP_LFV_SHA256_LEN);
}


u_char *
ngx_http_lfv_sigv4_query(u_char *src, size_t len, u_char *tmp, u_char *dst)
{
    u_char      *last, *start, *t;
    ngx_int_t    rc;
    ngx_str_t    pair;
    ngx_uint_t   i, j, n;
    ngx_str_t    name[NGX_HTTP_LFV_QUERY_PAIRS];
    ngx_str_t    value[NGX_HTTP_LFV_QUERY_PAIRS];

    last = src + len;
    t = tmp;
    n = 0;

    while (src < last) {

        for (start = src; src < last && *src != '&'; src++) { /* void */ }

        pair.data = start;
        pair.len = src - start;

        if (src < last) {
            src++;
        }

        if (pair.len == 0) {
            continue;
        }

        if (n == NGX_HTTP_LFV_QUERY_PAIRS) {
            return NULL;
        }

        for (i = 0; i < pair.len && pair.data[i] != '='; i++) { /* void */ }

        name[n].data = t;
        t = ngx_http_lfv_sigv4_reencode(pair.data, i, t);
        name[n].len = t - name[n].data;

        value[n].data = t;
        t = ngx_http_lfv_sigv4_reencode(pair.data + ngx_min(i + 1, pair.len),
                                        pair.len - ngx_min(i + 1, pair.len),
                                        t);
        value[n].len = t - value[n].data;

        /* insertion sort: by name, then by value, bytewise */

        for (j = n; j > 0; j--) {
            rc = ngx_http_lfv_sigv4_strcmp(&name[j - 1], &name[j]);

            if (rc < 0
                || (rc == 0
                    && ngx_http_lfv_sigv4_strcmp(&value[j - 1], &value[j])
                       <= 0))
            {
                break;
            }

            pair = name[j]; name[j] = name[j - 1]; name[j - 1] = pair;
            pair = value[j]; value[j] = value[j - 1]; value[j - 1] = pair;
        }

        n++;
    }

    for (i = 0; i < n; i++) {
        if (i) {
            *dst++ = '&';
        }

        dst = ngx_cpymem(dst, name[i].data, name[i].len);
        *dst++ = '=';
        dst = ngx_cpymem(dst, value[i].data, value[i].len);
    }

    return dst;
}


/* decoded, then encoded as SigV4 wants: unreserved as is, %XX otherwise */

static u_char *
ngx_http_lfv_sigv4_reencode(u_char *p, size_t len, u_char *dst)
{
    u_char     *last, c;
    ngx_int_t   hex;

    static const u_char  digits[] = "0123456789ABCDEF";

    for (last = p + len; p < last; p++) {
        c = *p;

        if (c == '%' && last - p > 2
            && (hex = ngx_hextoi(p + 1, 2)) != NGX_ERROR)
        {
            c = (u_char) hex;
            p += 2;
        }

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '_' || c == '.' || c == '~')
        {
            *dst++ = c;
            continue;
        }

        *dst++ = '%';
        *dst++ = digits[c >> 4];
        *dst++ = digits[c & 0xf];
    }

    return dst;
}


static ngx_int_t
ngx_http_lfv_sigv4_strcmp(ngx_str_t *a, ngx_str_t *b)
{
    ngx_int_t  rc;

    rc = ngx_memcmp(a->data, b->data, ngx_min(a->len, b->len));

    if (rc == 0) {
        rc = (a->len > b->len) - (a->len < b->len);
    }

    return rc;
}


size_t
ngx_http_lfv_sigv4_canonical_len(ngx_http_lfv_sigv4_request_t *sr)
{
    size_t      len;
    ngx_uint_t  i;

    /* an upper bound: canonical header values are never longer */

    len = sr->method.len + 1 + sr->uri.len + 1 + sr->query.len + 1 + 1
          + NGX_HTTP_LFV_SHA256_HEX_LEN;

    for (i = 0; i < NGX_HTTP_LFV_H_LAST; i++) {
        len += ngx_http_lfv_sigv4_headers[i].lowcase.len + 1
               + sr->header[i].len + 1
               + ngx_http_lfv_sigv4_headers[i].lowcase.len + 1;
    }

    return len;
}


u_char *
ngx_http_lfv_sigv4_canonical(ngx_http_lfv_sigv4_request_t *sr, u_char *p)
{
    ngx_uint_t  i;

    p = ngx_cpymem(p, sr->method.data, sr->method.len);
    *p++ = '\n';
    p = ngx_cpymem(p, sr->uri.data, sr->uri.len);
    *p++ = '\n';
    if (sr->query.len) {
        p = ngx_cpymem(p, sr->query.data, sr->query.len);
    }

    *p++ = '\n';

    for (i = 0; i < NGX_HTTP_LFV_H_LAST; i++) {
        if (sr->header[i].len) {
            p = ngx_http_lfv_sigv4_header(p, &ngx_http_lfv_sigv4_headers[i],
                                          &sr->header[i]);
        }
    }

    *p++ = '\n';

    p = ngx_http_lfv_sigv4_signed_headers(sr, p);
    *p++ = '\n';

    return ngx_cpymem(p, sr->payload_hash, NGX_HTTP_LFV_SHA256_HEX_LEN);
}


static u_char *
ngx_http_lfv_sigv4_header(u_char *p, ngx_http_lfv_sigv4_header_t *h,
    ngx_str_t *value)
{
    u_char  *s, *end;

    p = ngx_cpymem(p, h->lowcase.data, h->lowcase.len);
    *p++ = ':';

    s = value->data;
    end = s + value->len;

    /*
     * Most values (dates, tokens) have no blanks: copied at once.  A
     * session token is a kilobyte; a loop over its bytes showed up in
     * profiles.
     */

    if (memchr(s, ' ', value->len) == NULL
        && memchr(s, '\t', value->len) == NULL)
    {
        p = ngx_cpymem(p, s, value->len);
        *p++ = '\n';
        return p;
    }

    /* trim, and fold each run of spaces and tabs into one space */

    while (s < end && (*s == ' ' || *s == '\t')) {
        s++;
    }

    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    while (s < end) {

        if (*s == ' ' || *s == '\t') {
            *p++ = ' ';

            while (*s == ' ' || *s == '\t') {
                s++;
            }

            continue;
        }

        *p++ = *s++;
    }

    *p++ = '\n';

    return p;
}


u_char *
ngx_http_lfv_sigv4_signed_headers(ngx_http_lfv_sigv4_request_t *sr, u_char *p)
{
    u_char      *start;
    ngx_uint_t   i;

    start = p;

    for (i = 0; i < NGX_HTTP_LFV_H_LAST; i++) {
        if (sr->header[i].len == 0) {
            continue;
        }

        if (p != start) {
            *p++ = ';';
        }

        p = ngx_cpymem(p, ngx_http_lfv_sigv4_headers[i].lowcase.data,
                       ngx_http_lfv_sigv4_headers[i].lowcase.len);
    }

    return p;
}


ngx_int_t
ngx_http_lfv_sigv4_signature(ngx_http_lfv_sigv4_crypto_t *c,
    ngx_http_lfv_sigv4_request_t *sr, ngx_http_lfv_sigv4_key_t *key,
    u_char *scratch, size_t size, u_char *signature)
{
    u_char     *p, *sts;
    size_t      n;
    ngx_str_t  *date;
    u_char      mac[NGX_HTTP_LFV_SHA256_LEN];

    date = &sr->header[NGX_HTTP_LFV_H_AMZ_DATE];

    n = ngx_http_lfv_sigv4_canonical_len(sr);

    if (n + sizeof(ngx_http_lfv_sigv4_algorithm) + date->len + 1
        + NGX_HTTP_LFV_DATE_LEN + 1 + sr->region.len + 1 + sr->service.len
        + 1 + sizeof(ngx_http_lfv_sigv4_terminator)
        + NGX_HTTP_LFV_SHA256_HEX_LEN
        > size
        || date->len != NGX_HTTP_LFV_AMZ_DATE_LEN)
    {
        return NGX_ERROR;
    }

    /* the string to sign goes after the canonical request */

    sts = ngx_http_lfv_sigv4_canonical(sr, scratch);

    p = ngx_cpymem(sts, ngx_http_lfv_sigv4_algorithm,
                   sizeof(ngx_http_lfv_sigv4_algorithm) - 1);
    *p++ = '\n';
    p = ngx_cpymem(p, date->data, date->len);
    *p++ = '\n';
    p = ngx_http_lfv_sigv4_scope(sr, p);
    *p++ = '\n';

    if (ngx_http_lfv_sigv4_sha256_hex(c, scratch, sts - scratch, p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p += NGX_HTTP_LFV_SHA256_HEX_LEN;

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    {
    size_t  len;

    if (key->mac == NULL
        || EVP_MAC_init(key->mac, NULL, 0, NULL) != 1
        || EVP_MAC_update(key->mac, sts, p - sts) != 1
        || EVP_MAC_final(key->mac, mac, &len, sizeof(mac)) != 1)
    {
        return NGX_ERROR;
    }
    }
#else
    if (ngx_http_lfv_sigv4_hmac(c, key->key, NGX_HTTP_LFV_SHA256_LEN,
                                sts, p - sts, mac)
        != NGX_OK)
    {
        return NGX_ERROR;
    }
#endif

    ngx_http_lfv_sigv4_hex(signature, mac);

    return NGX_OK;
}


/* a SHA-256 digest in lower-case hex, as SigV4 writes hashes */

static void
ngx_http_lfv_sigv4_hex(u_char *dst, u_char *digest)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LFV_SHA256_LEN; i++) {
        ngx_memcpy(dst + 2 * i, &ngx_http_lfv_sigv4_hex_pairs[digest[i]], 2);
    }
}


/* the credential scope, in the string to sign and in Authorization */

static u_char *
ngx_http_lfv_sigv4_scope(ngx_http_lfv_sigv4_request_t *sr, u_char *p)
{
    p = ngx_cpymem(p, ngx_http_lfv_sigv4_date(sr), NGX_HTTP_LFV_DATE_LEN);
    *p++ = '/';
    p = ngx_cpymem(p, sr->region.data, sr->region.len);
    *p++ = '/';
    p = ngx_cpymem(p, sr->service.data, sr->service.len);
    *p++ = '/';

    return ngx_cpymem(p, ngx_http_lfv_sigv4_terminator,
                      sizeof(ngx_http_lfv_sigv4_terminator) - 1);
}


size_t
ngx_http_lfv_sigv4_authorization_len(ngx_http_lfv_sigv4_request_t *sr)
{
    size_t      len;
    ngx_uint_t  i;

    len = sizeof(ngx_http_lfv_sigv4_algorithm) - 1
          + sizeof(" Credential=") - 1 + sr->access_key_id.len
          + 1 + NGX_HTTP_LFV_DATE_LEN + 1 + sr->region.len
          + 1 + sr->service.len + 1
          + sizeof(ngx_http_lfv_sigv4_terminator) - 1
          + sizeof(", SignedHeaders=") - 1
          + sizeof(", Signature=") - 1 + NGX_HTTP_LFV_SHA256_HEX_LEN;

    for (i = 0; i < NGX_HTTP_LFV_H_LAST; i++) {
        len += ngx_http_lfv_sigv4_headers[i].lowcase.len + 1;
    }

    return len;
}


u_char *
ngx_http_lfv_sigv4_authorization(ngx_http_lfv_sigv4_request_t *sr,
    u_char *signature, u_char *p)
{
    p = ngx_cpymem(p, ngx_http_lfv_sigv4_algorithm,
                   sizeof(ngx_http_lfv_sigv4_algorithm) - 1);
    p = ngx_cpymem(p, " Credential=", sizeof(" Credential=") - 1);
    p = ngx_cpymem(p, sr->access_key_id.data, sr->access_key_id.len);
    *p++ = '/';
    p = ngx_http_lfv_sigv4_scope(sr, p);
    p = ngx_cpymem(p, ", SignedHeaders=", sizeof(", SignedHeaders=") - 1);
    p = ngx_http_lfv_sigv4_signed_headers(sr, p);
    p = ngx_cpymem(p, ", Signature=", sizeof(", Signature=") - 1);

    return ngx_cpymem(p, signature, NGX_HTTP_LFV_SHA256_HEX_LEN);
}
