
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_sign.h"


#define NGX_HTTP_LFV_SCRATCH  4096


static ngx_http_lfv_sigv4_key_t *ngx_http_lfv_sign_key(ngx_http_request_t *r,
    ngx_http_lfv_creds_t *creds, ngx_http_lfv_sigv4_request_t *sr);
static ngx_int_t ngx_http_lfv_sign_headers(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_sigv4_request_t *sr,
    ngx_str_t *authorization);
static ngx_int_t ngx_http_lfv_sign_header(ngx_list_t *headers, char *name,
    char *lowcase, ngx_str_t *value);


static ngx_str_t  ngx_http_lfv_service = ngx_string("lookoutvision");
static ngx_str_t  ngx_http_lfv_content_type = ngx_string("application/json");


/*
 * Signs the validated request and replaces the headers that go upstream
 * with exactly the signed set: what the client sent is kept aside for
 * the log phase and never reaches the proxy module.
 */

ngx_int_t
ngx_http_lfv_sign(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_creds_t *creds, ngx_str_t *body)
{
    u_char                        *p, *scratch;
    size_t                         size;
    time_t                         now;
    ngx_tm_t                       tm;
    ngx_str_t                      authorization;
    ngx_http_lfv_main_conf_t      *lmcf;
    ngx_http_lfv_loc_conf_t       *llcf;
    ngx_http_lfv_sigv4_key_t      *key;
    ngx_http_lfv_sigv4_request_t   sr;
    u_char                         signature[NGX_HTTP_LFV_SHA256_HEX_LEN];
    u_char                         buf[NGX_HTTP_LFV_SCRATCH];

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);
    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    /*
     * nginx's cached time: the clock AWS checks is seconds-coarse too.
     * Formatted once a second; the request keeps its own copy.
     */

    now = ngx_time();

    if (lmcf->date_time != now) {
        ngx_gmtime(now, &tm);

        (void) ngx_sprintf(lmcf->date, "%4d%02d%02dT%02d%02d%02dZ",
                           tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                           tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

        lmcf->date_time = now;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_LFV_AMZ_DATE_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, lmcf->date, NGX_HTTP_LFV_AMZ_DATE_LEN);

    ngx_str_set(&sr.method, "POST");
    sr.uri = r->uri;
    sr.host = llcf->host;
    sr.content_type = ngx_http_lfv_content_type;
    sr.amz_date.data = p;
    sr.amz_date.len = NGX_HTTP_LFV_AMZ_DATE_LEN;
    sr.security_token = creds->session_token;
    sr.client_token = ctx->client_token;
    sr.region = llcf->region;
    sr.service = ngx_http_lfv_service;
    sr.access_key_id = creds->access_key_id;

    if (ngx_http_lfv_sigv4_sha256_hex(&lmcf->crypto, body->data, body->len,
                                      sr.payload_hash)
        != NGX_OK)
    {
        ngx_ssl_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "lfv: SHA-256 failed");
        return NGX_ERROR;
    }

    key = ngx_http_lfv_sign_key(r, creds, &sr);
    if (key == NULL) {
        return NGX_ERROR;
    }

    size = ngx_http_lfv_sigv4_canonical_len(&sr) + 256;

    if (size <= sizeof(buf)) {
        scratch = buf;
        size = sizeof(buf);

    } else {
        scratch = ngx_pnalloc(r->pool, size);
        if (scratch == NULL) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_lfv_sigv4_signature(&lmcf->crypto, &sr, key, scratch, size,
                                     signature)
        != NGX_OK)
    {
        ngx_ssl_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "lfv: signing failed");
        return NGX_ERROR;
    }

    authorization.len = ngx_http_lfv_sigv4_authorization_len(&sr);
    authorization.data = ngx_pnalloc(r->pool, authorization.len);
    if (authorization.data == NULL) {
        return NGX_ERROR;
    }

    authorization.len = ngx_http_lfv_sigv4_authorization(&sr, signature,
                                                         authorization.data)
                        - authorization.data;

    return ngx_http_lfv_sign_headers(r, ctx, &sr, &authorization);
}


/* a signing key is derived once a day per credentials and region */

static ngx_http_lfv_sigv4_key_t *
ngx_http_lfv_sign_key(ngx_http_request_t *r, ngx_http_lfv_creds_t *creds,
    ngx_http_lfv_sigv4_request_t *sr)
{
    ngx_uint_t                 i;
    ngx_http_lfv_key_cache_t  *kc;
    ngx_http_lfv_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);

    for (i = 0; i < NGX_HTTP_LFV_KEY_CACHE; i++) {
        kc = &lmcf->keys[i];

        if (kc->generation == creds->generation
            && kc->region.len == sr->region.len
            && ngx_strncmp(kc->region.data, sr->region.data, sr->region.len)
               == 0
            && ngx_strncmp(kc->date, sr->amz_date.data, NGX_HTTP_LFV_DATE_LEN)
               == 0)
        {
            return &kc->key;
        }
    }

    kc = &lmcf->keys[lmcf->next_key++ % NGX_HTTP_LFV_KEY_CACHE];

    /* the slot is invalid until the derivation succeeds */

    kc->generation = 0;

    if (ngx_http_lfv_sigv4_derive_key(&lmcf->crypto, &creds->secret_access_key,
                                      sr->amz_date.data, &sr->region,
                                      &sr->service, &kc->key)
        != NGX_OK)
    {
        ngx_ssl_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "lfv: signing key derivation failed");
        return NULL;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "lfv: derived a signing key for region \"%V\"",
                   &sr->region);

    kc->generation = creds->generation;
    kc->region = sr->region;
    ngx_memcpy(kc->date, sr->amz_date.data, NGX_HTTP_LFV_DATE_LEN);

    return &kc->key;
}


static ngx_int_t
ngx_http_lfv_sign_headers(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_sigv4_request_t *sr, ngx_str_t *authorization)
{
    ngx_list_t  headers;

    if (ngx_list_init(&headers, r->pool, 6, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_lfv_sign_header(&headers, "Content-Type", "content-type",
                                 &sr->content_type)
        != NGX_OK
        || ngx_http_lfv_sign_header(&headers, "X-Amz-Date", "x-amz-date",
                                    &sr->amz_date)
           != NGX_OK
        || ngx_http_lfv_sign_header(&headers, "Authorization",
                                    "authorization", authorization)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sr->security_token.len
        && ngx_http_lfv_sign_header(&headers, "X-Amz-Security-Token",
                                    "x-amz-security-token",
                                    &sr->security_token)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sr->client_token.len
        && ngx_http_lfv_sign_header(&headers, "X-Amzn-Client-Token",
                                    "x-amzn-client-token", &sr->client_token)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!ctx->swapped) {
        ctx->client_headers = r->headers_in.headers;
        ctx->swapped = 1;
    }

    r->headers_in.headers = headers;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_sign_header(ngx_list_t *headers, char *name, char *lowcase,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->lowcase_key = (u_char *) lowcase;
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/* the log phase sees what the client sent, for $http_* in access logs */

void
ngx_http_lfv_sign_restore_headers(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx)
{
    if (ctx->swapped) {
        r->headers_in.headers = ctx->client_headers;
        ctx->swapped = 0;
    }
}


void
ngx_http_lfv_sign_cleanup(ngx_http_lfv_main_conf_t *lmcf)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LFV_KEY_CACHE; i++) {
        ngx_http_lfv_sigv4_key_free(&lmcf->keys[i].key);
    }

    ngx_http_lfv_sigv4_crypto_free(&lmcf->crypto);
}
