
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


static ngx_str_t  ngx_http_lfv_service = ngx_string("lookoutvision");
static ngx_str_t  ngx_http_lfv_content_type = ngx_string("application/json");


/*
 * Signs the validated request.  The signed values stay in the request
 * context, where the variables of lfv_proxy_params give them to the
 * proxy module; the client's headers are left as they are.
 */

ngx_int_t
ngx_http_lfv_sign(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_creds_t *creds, ngx_str_t *body)
{
    u_char                        *p, *q, *last, *scratch;
    size_t                         size;
    time_t                         now;
    ngx_tm_t                       tm;
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

    sr.method = r->method_name;
    sr.uri = r->uri;
    ngx_str_null(&sr.query);

    if (ctx->query.len) {
        q = ngx_pnalloc(r->pool, 2 * NGX_HTTP_LFV_QUERY_SIZE(ctx->query.len));
        if (q == NULL) {
            return NGX_ERROR;
        }

        sr.query.data = q + NGX_HTTP_LFV_QUERY_SIZE(ctx->query.len);

        last = ngx_http_lfv_sigv4_query(ctx->query.data, ctx->query.len, q,
                                        sr.query.data);
        if (last == NULL) {
            return NGX_ERROR;
        }

        sr.query.len = last - sr.query.data;
    }

    /* a read sends no body, so no Content-Type */

    if (r->method == NGX_HTTP_POST) {
        sr.header[NGX_HTTP_LFV_H_CONTENT_TYPE] = ngx_http_lfv_content_type;

    } else {
        ngx_str_null(&sr.header[NGX_HTTP_LFV_H_CONTENT_TYPE]);
    }

    sr.header[NGX_HTTP_LFV_H_HOST] = llcf->endpoint;
    sr.header[NGX_HTTP_LFV_H_AMZ_DATE].data = p;
    sr.header[NGX_HTTP_LFV_H_AMZ_DATE].len = NGX_HTTP_LFV_AMZ_DATE_LEN;
    sr.header[NGX_HTTP_LFV_H_SECURITY_TOKEN] = creds->session_token;
    ngx_str_null(&sr.header[NGX_HTTP_LFV_H_TARGET]);
    sr.header[NGX_HTTP_LFV_H_CLIENT_TOKEN] = ctx->audit->client_token;
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

    p = ngx_pnalloc(r->pool, ngx_http_lfv_sigv4_authorization_len(&sr));
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->authorization.data = p;
    ctx->authorization.len = ngx_http_lfv_sigv4_authorization(&sr, signature,
                                                              p)
                             - p;

    ngx_explicit_memzero(signature, NGX_HTTP_LFV_SHA256_HEX_LEN);

    ngx_memcpy(ctx->header, sr.header, sizeof(sr.header));
    ctx->signed_request = 1;

    return NGX_OK;
}


/*
 * A signing key is derived once a day per credentials and region; the
 * credentials are told apart by whose they are (the base, each team's
 * role) and their generation, which each record counts on its own.
 */

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

        if (kc->creds == creds
            && kc->generation == creds->generation
            && kc->region.len == sr->region.len
            && ngx_strncmp(kc->region.data, sr->region.data, sr->region.len)
               == 0
            && ngx_strncmp(kc->date, ngx_http_lfv_sigv4_date(sr),
                           NGX_HTTP_LFV_DATE_LEN)
               == 0)
        {
            return &kc->key;
        }
    }

    kc = &lmcf->keys[lmcf->next_key++ % NGX_HTTP_LFV_KEY_CACHE];

    /* the slot is invalid until the derivation succeeds */

    kc->generation = 0;

    if (ngx_http_lfv_sigv4_derive_key(&lmcf->crypto, &creds->secret_access_key,
                                      ngx_http_lfv_sigv4_date(sr),
                                      &sr->region, &sr->service, &kc->key)
        != NGX_OK)
    {
        ngx_ssl_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "lfv: signing key derivation failed");
        return NULL;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "lfv: derived a signing key for region \"%V\"",
                   &sr->region);

    kc->creds = creds;
    kc->generation = creds->generation;
    kc->region = sr->region;
    ngx_memcpy(kc->date, ngx_http_lfv_sigv4_date(sr), NGX_HTTP_LFV_DATE_LEN);

    return &kc->key;
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
