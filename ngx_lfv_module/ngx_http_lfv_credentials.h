
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_LFV_CREDS_STATIC     1
#define NGX_HTTP_LFV_CREDS_ENV        2
#define NGX_HTTP_LFV_CREDS_CONTAINER  3
#define NGX_HTTP_LFV_CREDS_IMDS       4
#define NGX_HTTP_LFV_CREDS_AUTO       5


/* what the signer needs; the only place a secret lives in a worker */

typedef struct {
    ngx_str_t                   access_key_id;
    ngx_str_t                   secret_access_key;
    ngx_str_t                   session_token;
    time_t                      expiration;     /* 0: never */
    ngx_uint_t                  generation;     /* changes with the keys */
    ngx_str_t                   source;
} ngx_http_lfv_creds_t;


typedef struct {
    ngx_uint_t                  provider;
    ngx_http_lfv_creds_t        fixed;          /* static and env */
} ngx_http_lfv_creds_conf_t;


char *ngx_http_lfv_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_lfv_credentials_init_conf(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf);

/*
 * NGX_OK: *creds may be used until the event handler returns;
 * NGX_AGAIN: none yet, a fetch is under way; NGX_DECLINED: none usable
 */
ngx_int_t ngx_http_lfv_credentials_get(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_t **creds);


#endif /* _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_ */
