
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_lfv_creds_doc.h"
#include "ngx_http_lfv_sts.h"


#define NGX_HTTP_LFV_CREDS_NONE          0
#define NGX_HTTP_LFV_CREDS_STATIC        1
#define NGX_HTTP_LFV_CREDS_ENV           2
#define NGX_HTTP_LFV_CREDS_CONTAINER     3
#define NGX_HTTP_LFV_CREDS_IMDS          4
#define NGX_HTTP_LFV_CREDS_WEB_IDENTITY  5
#define NGX_HTTP_LFV_CREDS_ASSUME_ROLE   6      /* a team's role= */
#define NGX_HTTP_LFV_CREDS_AUTO          7

#define NGX_HTTP_LFV_ERROR_MAX           512


/* what the signer needs; a worker's only copy of a secret */

typedef struct {
    ngx_str_t                   access_key_id;
    ngx_str_t                   secret_access_key;
    ngx_str_t                   session_token;
    time_t                      expiration;     /* 0: never */
    ngx_uint_t                  generation;     /* changes with the keys */
    ngx_str_t                   source;
} ngx_http_lfv_creds_t;


#define NGX_HTTP_LFV_FINGERPRINT_LEN  32     /* SHA-256 */
#define NGX_HTTP_LFV_IMDS_TOKEN_MAX   256


/*
 * The record shared by all workers, in a zone of its own.  Writers (the
 * one fetch in flight, in whichever worker claimed it) hold the slab
 * pool's mutex, which the master frees if a writer dies; readers never
 * lock: "seq" is odd while a write is under way, and a reader copies
 * again when it changed during the copy.
 */

typedef struct {
    ngx_atomic_t                seq;

    /* the provider settings the keys were fetched with */
    u_char                      fingerprint[NGX_HTTP_LFV_FINGERPRINT_LEN];

    ngx_uint_t                  generation;     /* changes with the keys */
    ngx_uint_t                  has_keys;
    time_t                      expiration;
    time_t                      refreshed;      /* last success */
    time_t                      next_refresh;
    time_t                      failed;         /* last failure */
    ngx_uint_t                  failures;       /* in a row */
    ngx_atomic_t                fetches;        /* metadata requests */

    ngx_pid_t                   fetcher;        /* 0: no fetch in flight */
    time_t                      fetch_until;    /* then it is taken over */

    size_t                      access_key_id_len;
    size_t                      secret_access_key_len;
    size_t                      session_token_len;
    size_t                      error_len;

    u_char                      access_key_id[NGX_HTTP_LFV_AKID_MAX];
    u_char                      secret_access_key[NGX_HTTP_LFV_SECRET_MAX];
    u_char                      session_token[NGX_HTTP_LFV_TOKEN_MAX];
    u_char                      error[NGX_HTTP_LFV_ERROR_MAX];

    /*
     * The IMDSv2 session token, for whichever worker fetches next; read
     * and written under the mutex, with the fingerprint of the endpoint
     * it came from
     */
    size_t                      imds_token_len;
    time_t                      imds_token_expires;
    u_char                      imds_token_fingerprint[
                                    NGX_HTTP_LFV_FINGERPRINT_LEN];
    u_char                      imds_token[NGX_HTTP_LFV_IMDS_TOKEN_MAX];
} ngx_http_lfv_creds_shm_t;


/* what the status page shows of the record: no secret */

typedef struct {
    ngx_uint_t                  has_keys;
    time_t                      expiration;
    time_t                      refreshed;
    time_t                      failed;
    ngx_uint_t                  failures;
    ngx_uint_t                  fetches;
    size_t                      access_key_id_len;
    size_t                      error_len;
    u_char                      access_key_id[NGX_HTTP_LFV_AKID_MAX];
    u_char                      error[NGX_HTTP_LFV_ERROR_MAX];
} ngx_http_lfv_creds_state_t;


typedef struct ngx_http_lfv_creds_conf_s  ngx_http_lfv_creds_conf_t;

struct ngx_http_lfv_creds_conf_s {
    ngx_uint_t                  provider;       /* as configured */
    ngx_uint_t                  source;         /* as resolved */
    ngx_http_lfv_creds_t        fixed;          /* static and env */

    /* fetched credentials */
    ngx_shm_zone_t             *shm_zone;
    ngx_slab_pool_t            *shpool;
    ngx_http_lfv_creds_shm_t   *sh;
    u_char                      fingerprint[NGX_HTTP_LFV_FINGERPRINT_LEN];

    ngx_str_t                   endpoint_name;  /* for logs, fingerprint */
    ngx_url_t                   endpoint;       /* IMDS or container */
    ngx_str_t                   path;           /* container path+query */
    ngx_str_t                   host;           /* Host header */
    ngx_str_t                   auth_token;
    ngx_str_t                   auth_token_file;
    ngx_flag_t                  v1_disabled;

    /* web_identity: AssumeRoleWithWebIdentity */
    ngx_http_lfv_endpoint_t     sts;
    ngx_str_t                   sts_url;        /* endpoint= */
    ngx_str_t                   sts_region;     /* region= */
    ngx_str_t                   token_file;     /* read at each fetch */
    ngx_str_t                   ca;             /* lfv_ssl_trusted_... */

    /*
     * the role asked of STS: web_identity's (arn and session only), or a
     * team's, from AssumeRole signed with the base credentials
     */
    ngx_http_lfv_sts_role_t     role;
    ngx_str_t                   team;
    ngx_http_lfv_creds_conf_t  *base;
    ngx_http_lfv_sigv4_crypto_t *crypto;

    ngx_msec_t                  timeout;
    time_t                      grace;
    ngx_msec_t                  wait;

    /* the worker's copy of the record */
    ngx_atomic_uint_t           local_seq;
    ngx_uint_t                  local_generation;   /* of the record */
    ngx_http_lfv_creds_t        local;

    /* requests of this worker that wait for credentials */
    ngx_queue_t                 waiting;
    ngx_event_t                 watch;

    void                       *refresher;
};


/* a request's place in the worker's queue of waiting requests */

typedef struct {
    ngx_queue_t                 queue;
    ngx_event_t                *event;         /* posted when woken */
} ngx_http_lfv_creds_waiter_t;


char *ngx_http_lfv_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_lfv_credentials_init_conf(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf);
ngx_int_t ngx_http_lfv_credentials_init_worker(ngx_cycle_t *cycle,
    ngx_http_lfv_creds_conf_t *ccf);

/* the record's zone, for fetched credentials (ngx_http_lfv_creds_record.c) */
char *ngx_http_lfv_credentials_zone(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf, ngx_str_t *name);

/* the module's STS: its region, endpoint and TLS (web_identity, roles) */
char *ngx_http_lfv_credentials_sts(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf);

/*
 * NGX_OK: *creds may be used until the event handler returns;
 * NGX_AGAIN: none usable now, a fetch is under way: wait for it;
 * NGX_DECLINED: none usable, and none is being fetched (*retry_after:
 * seconds until the next try)
 */
ngx_int_t ngx_http_lfv_credentials_get(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_t **creds, time_t *retry_after);

/*
 * NGX_OK when a fetch is due now: its time has come, the record holds
 * keys of other provider settings, or a writer died inside it; else
 * NGX_DECLINED and *at is when it is due
 */
ngx_int_t ngx_http_lfv_credentials_due(ngx_http_lfv_creds_conf_t *ccf,
    time_t *at);

/* waiting requests are woken when the record changes */
void ngx_http_lfv_credentials_wait(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_waiter_t *w);
void ngx_http_lfv_credentials_unwait(ngx_http_lfv_creds_waiter_t *w);

/*
 * The one fetch in flight: NGX_OK when this worker may fetch now,
 * NGX_BUSY when another process does.  A claim of a process that died
 * or hung is taken over.
 */
ngx_int_t ngx_http_lfv_credentials_claim(ngx_http_lfv_creds_conf_t *ccf,
    ngx_msec_t lasts);

/*
 * The fetcher's writes, which end its claim; secrets are copied, never
 * logged.  NGX_OK: stored; NGX_DECLINED: not stored, as nginx is
 * exiting and the new workers fetch for themselves.
 */
ngx_int_t ngx_http_lfv_credentials_store(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_doc_t *doc, time_t next_refresh);
ngx_int_t ngx_http_lfv_credentials_failed(ngx_http_lfv_creds_conf_t *ccf,
    u_char *error, size_t len, time_t next_refresh);

/*
 * The fetcher's IMDSv2 token: NGX_OK and a copy in buf (at least
 * NGX_HTTP_LFV_IMDS_TOKEN_MAX bytes) while one of these provider
 * settings is valid; set with len 0 forgets it
 */
ngx_int_t ngx_http_lfv_credentials_imds_token(ngx_http_lfv_creds_conf_t *ccf,
    u_char *buf, size_t *len);
void ngx_http_lfv_credentials_set_imds_token(ngx_http_lfv_creds_conf_t *ccf,
    u_char *token, size_t len, time_t expires);

/* a consistent copy of the record's public part */
void ngx_http_lfv_credentials_state(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_state_t *st);

ngx_str_t *ngx_http_lfv_credentials_source_name(ngx_uint_t source);


#endif /* _NGX_HTTP_LFV_CREDENTIALS_H_INCLUDED_ */
