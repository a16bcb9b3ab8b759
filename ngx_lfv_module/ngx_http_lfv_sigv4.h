
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_SIGV4_H_INCLUDED_
#define _NGX_HTTP_LFV_SIGV4_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>


#define NGX_HTTP_LFV_SHA256_LEN      32
#define NGX_HTTP_LFV_SHA256_HEX_LEN  64
#define NGX_HTTP_LFV_AMZ_DATE_LEN    16       /* 20261126T231127Z */
#define NGX_HTTP_LFV_DATE_LEN        8        /* 20261126 */


/*
 * The digest and MAC algorithms are fetched once and their contexts
 * reused: with OpenSSL 3 an implicit fetch per call costs more than
 * the hashing itself.
 */

typedef struct {
    EVP_MD                     *sha256;
    EVP_MD_CTX                 *md;
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    EVP_MAC                    *hmac;
    EVP_MAC_CTX                *mac;
#endif
} ngx_http_lfv_sigv4_crypto_t;


/* a derived signing key; valid for one date, region, service and secret */

typedef struct {
    u_char                      key[NGX_HTTP_LFV_SHA256_LEN];
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    EVP_MAC_CTX                *mac;      /* keyed once, reinitialised */
#endif
} ngx_http_lfv_sigv4_key_t;


/*
 * The signed headers, indexed in the byte order of their lower-case
 * names, as the canonical request lists them: one table for the
 * canonical headers, SignedHeaders and their lengths; the request
 * context keeps the values by the same index for lfv_proxy_params.
 */

typedef enum {
    NGX_HTTP_LFV_H_CONTENT_TYPE = 0,
    NGX_HTTP_LFV_H_HOST,
    NGX_HTTP_LFV_H_AMZ_DATE,
    NGX_HTTP_LFV_H_SECURITY_TOKEN,
    NGX_HTTP_LFV_H_TARGET,              /* DynamoDB's operation */
    NGX_HTTP_LFV_H_CLIENT_TOKEN,
    NGX_HTTP_LFV_H_LAST
} ngx_http_lfv_signed_e;


typedef struct {
    ngx_str_t                   lowcase;           /* as signed */
} ngx_http_lfv_sigv4_header_t;


extern ngx_http_lfv_sigv4_header_t  ngx_http_lfv_sigv4_headers[];


/* the date of the scope: the first 8 bytes of X-Amz-Date */

#define ngx_http_lfv_sigv4_date(sr)                                          \
    ((sr)->header[NGX_HTTP_LFV_H_AMZ_DATE].data)


/*
 * Everything that is signed.  The values are sent exactly as given;
 * the canonical form trims and folds their whitespace as SigV4 says.
 * An empty header is not signed (host and date never are empty).
 * The URI must need no encoding (the request validator ensures it).
 */

typedef struct {
    ngx_str_t                   method;
    ngx_str_t                   uri;
    ngx_str_t                   query;          /* canonical, or empty */
    ngx_str_t                   header[NGX_HTTP_LFV_H_LAST];
    ngx_str_t                   region;
    ngx_str_t                   service;
    ngx_str_t                   access_key_id;
    u_char                      payload_hash[NGX_HTTP_LFV_SHA256_HEX_LEN];
} ngx_http_lfv_sigv4_request_t;


ngx_int_t ngx_http_lfv_sigv4_crypto_init(ngx_http_lfv_sigv4_crypto_t *c);
void ngx_http_lfv_sigv4_crypto_free(ngx_http_lfv_sigv4_crypto_t *c);

ngx_int_t ngx_http_lfv_sigv4_sha256_hex(ngx_http_lfv_sigv4_crypto_t *c,
    u_char *data, size_t len, u_char *hex);
ngx_int_t ngx_http_lfv_sigv4_derive_key(ngx_http_lfv_sigv4_crypto_t *c,
    ngx_str_t *secret, u_char *date, ngx_str_t *region, ngx_str_t *service,
    ngx_http_lfv_sigv4_key_t *key);
void ngx_http_lfv_sigv4_key_free(ngx_http_lfv_sigv4_key_t *key);

/*
 * The canonical query of SigV4 from a raw one: names and values
 * percent-decoded and encoded again (unreserved characters as they are,
 * everything else as %XX in upper case), the pairs sorted by name, then
 * by value.  "tmp" and "dst" hold NGX_HTTP_LFV_QUERY_SIZE(len) bytes
 * each; NULL when there are more than NGX_HTTP_LFV_QUERY_PAIRS pairs.
 */
#define NGX_HTTP_LFV_QUERY_PAIRS       16
#define NGX_HTTP_LFV_QUERY_SIZE(len)   (3 * (len) + NGX_HTTP_LFV_QUERY_PAIRS)

u_char *ngx_http_lfv_sigv4_query(u_char *src, size_t len, u_char *tmp,
    u_char *dst);

size_t ngx_http_lfv_sigv4_canonical_len(ngx_http_lfv_sigv4_request_t *sr);
u_char *ngx_http_lfv_sigv4_canonical(ngx_http_lfv_sigv4_request_t *sr,
    u_char *p);
u_char *ngx_http_lfv_sigv4_signed_headers(ngx_http_lfv_sigv4_request_t *sr,
    u_char *p);

ngx_int_t ngx_http_lfv_sigv4_signature(ngx_http_lfv_sigv4_crypto_t *c,
    ngx_http_lfv_sigv4_request_t *sr, ngx_http_lfv_sigv4_key_t *key,
    u_char *scratch, size_t size, u_char *signature);

size_t ngx_http_lfv_sigv4_authorization_len(ngx_http_lfv_sigv4_request_t *sr);
u_char *ngx_http_lfv_sigv4_authorization(ngx_http_lfv_sigv4_request_t *sr,
    u_char *signature, u_char *p);


#endif /* _NGX_HTTP_LFV_SIGV4_H_INCLUDED_ */
