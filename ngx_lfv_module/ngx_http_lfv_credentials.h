
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_creds_doc.h"


#define NGX_HTTP_LFV_CREDS_NONE       0
#define NGX_HTTP_LFV_CREDS_STATIC     1
#define NGX_HTTP_LFV_CREDS_ENV        2
#define NGX_HTTP_LFV_CREDS_CONTAINER  3
#define NGX_HTTP_LFV_CREDS_IMDS       4
#define NGX_HTTP_LFV_CREDS_AUTO       5

#define NGX_HTTP_LFV_ERROR_MAX        160


/* what the signer needs; a worker's only copy of a secret */

typedef struct {
    ngx_str_t                   access_key_id;
    ngx_str_t                   secret_access_key;
    ngx_str_t                   session_token;
    time_t                      expiration;     /* 0: never */
    ngx_uint_t                  generation;     /* changes with the keys */
    ngx_str_t                   source;
} ngx_http_lfv_creds_t;


/*
 * The record shared by all workers.  One refresher writes it under the
 * mutex; readers never lock: "seq" is odd while a write is under way,
 * and a reader copies again when it changed during the copy.
 */

typedef struct {
    ngx_atomic_t                seq;
    ngx_shmtx_sh_t              lock;

    ngx_uint_t                  generation;     /* 0: never had keys */
    time_t                      expiration;
    time_t                      refreshed;      /* last success */
    time_t                      next_refresh;
    time_t                      failed;         /* last failure */
    ngx_uint_t                  failures;       /* in a row */
    ngx_uint_t                  fetches;        /* metadata requests */
    ngx_uint_t                  source;

    size_t                      access_key_id_len;
    size_t                      secret_access_key_len;
    size_t                      session_token_len;
    size_t                      error_len;

    u_char                      access_key_id[NGX_HTTP_LFV_AKID_MAX];
    u_char                      secret_access_key[NGX_HTTP_LFV_SECRET_MAX];
    u_char                      session_token[NGX_HTTP_LFV_TOKEN_MAX];
    u_char                      error[NGX_HTTP_LFV_ERROR_MAX];
} ngx_http_lfv_creds_shm_t;


typedef struct {
    ngx_uint_t                  provider;       /* as configured */
    ngx_uint_t                  source;         /* as resolved */
    ngx_http_lfv_creds_t        fixed;          /* static and env */

    /* fetched credentials */
    ngx_shm_zone_t             *shm_zone;
    ngx_http_lfv_creds_shm_t   *sh;
    ngx_shmtx_t                 mutex;

    ngx_url_t                   endpoint;       /* IMDS or container */
    ngx_str_t                   path;           /* container path+query */
    ngx_str_t                   host;           /* Host header */
    ngx_str_t                   auth_token;
    ngx_str_t                   auth_token_file;
    ngx_flag_t                  v1_disabled;

    ngx_msec_t                  timeout;
    time_t                      grace;
    ngx_msec_t                  wait;

    /* the worker's copy of the record */
    ngx_atomic_uint_t           local_seq;
    ngx_http_lfv_creds_t        local;
    void                       *refresher;
} ngx_http_lfv_creds_conf_t;


char *ngx_http_lfv_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_lfv_credentials_init_conf(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf);
ngx_int_t ngx_http_lfv_credentials_init_worker(ngx_cycle_t *cycle,
    ngx_http_lfv_creds_conf_t *ccf);

/*
 * NGX_OK: *creds may be used until the event handler returns;
 * NGX_AGAIN: none yet, the first fetch is under way;
 * NGX_DECLINED: none usable
 */
ngx_int_t ngx_http_lfv_credentials_get(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_t **creds);

/* the refresher's write; secrets are copied, never logged */
void ngx_http_lfv_credentials_store(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_doc_t *doc, time_t next_refresh);
void ngx_http_lfv_credentials_failed(ngx_http_lfv_creds_conf_t *ccf,
    u_char *error, size_t len, time_t next_refresh);

ngx_str_t *ngx_http_lfv_credentials_source_name(ngx_uint_t source);

/* freshness decisions use the wall clock, never nginx's cached time */
#define ngx_http_lfv_wall_clock()  time(NULL)


#endif /* _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_ */
