
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_MODULE_H_INCLUDED_
#define _NGX_HTTP_LFV_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_reason.h"
#include "ngx_http_lfv_sigv4.h"
#include "ngx_http_lfv_credentials.h"
#include "ngx_http_lfv_policy.h"
#include "ngx_http_lfv_request.h"
#include "ngx_http_lfv_lease.h"
#include "ngx_http_lfv_store.h"


#define NGX_HTTP_LFV_KEY_CACHE         4

#define NGX_HTTP_LFV_FORMAT_AWS        0
#define NGX_HTTP_LFV_FORMAT_ENVELOPE   1


typedef struct {
    ngx_http_lfv_creds_t       *creds;          /* whose: the base, a role */
    ngx_uint_t                  generation;     /* of the credentials */
    ngx_str_t                   region;
    u_char                      date[NGX_HTTP_LFV_DATE_LEN];
    ngx_http_lfv_sigv4_key_t    key;
} ngx_http_lfv_key_cache_t;


typedef struct ngx_http_lfv_main_conf_s {
    ngx_http_lfv_creds_conf_t   creds;
    ngx_http_lfv_policy_conf_t  policy;
    ngx_http_lfv_lease_conf_t   lease;
    ngx_http_lfv_store_conf_t   store;
    ngx_array_t                 roles;          /* ngx_http_lfv_creds_conf_t *
                                                   of teams with role= */
    ngx_http_lfv_sigv4_crypto_t crypto;
    ngx_http_lfv_key_cache_t    keys[NGX_HTTP_LFV_KEY_CACHE];
    ngx_uint_t                  next_key;
    time_t                      date_time;      /* of the cached date */
    u_char                      date[NGX_HTTP_LFV_AMZ_DATE_LEN];
    ngx_uint_t                  enabled;        /* some location uses us */
    u_char                     *file;           /* of the first "lfv on",
                                                   NULL: none */
    ngx_uint_t                  line;
} ngx_http_lfv_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_str_t                   region;
    ngx_str_t                   host;           /* lfv_host */
    ngx_str_t                   endpoint;       /* signed and reached */
    size_t                      body_max_size;
    ngx_http_complex_value_t   *team;
    ngx_uint_t                  error_format;
    ngx_uint_t                  operations;     /* 1 << ngx_http_lfv_op_e */
    ngx_str_t                   route_message;  /* empty: the table's */
    u_char                     *file;           /* of "lfv on", for logs */
    ngx_uint_t                  line;
} ngx_http_lfv_loc_conf_t;


/*
 * What the audit trail records of a request: found again after an
 * internal redirect (error_page), so that the log and a redirected
 * request know what was decided.
 */

typedef struct {
    ngx_http_lfv_op_e           operation;
    ngx_str_t                   team;
    ngx_str_t                   key;            /* of the team's state */
    ngx_http_lfv_policy_t      *policy;
    ngx_str_t                   project;
    ngx_str_t                   version;
    ngx_int_t                   min_units;
    ngx_int_t                   max_units;
    ngx_str_t                   client_token;
    ngx_str_t                   access_key_id;
    ngx_str_t                   source;

    /* the cost guard: a start's reservation, then its lease's end */
    void                       *lease;
    ngx_shm_zone_t             *lease_zone;
    time_t                      lease_ends;
    void                       *store;          /* the store's decision */

    ngx_http_lfv_reason_e       reason;
    ngx_http_lfv_reason_e       counted;        /* on the status page */
    ngx_str_t                   message;        /* overrides the reason's */
} ngx_http_lfv_audit_t;


/*
 * The state of the phase handler and of the filters: the module's
 * request context, which nginx clears on an internal redirect.
 */

typedef struct {
    ngx_http_lfv_audit_t       *audit;

    ngx_buf_t                  *body_buf;       /* a body read in parts */
    ngx_str_t                   body;
    ngx_str_t                   query;          /* as sent, ListModels */
    ngx_msec_t                  wait_start;
    ngx_http_lfv_creds_waiter_t waiter;         /* for the credentials */
    time_t                      retry_after;
    ngx_int_t                   status;         /* of the phase handler */

    /* what was signed, for the variables of lfv_proxy_params */
    ngx_str_t                   header[NGX_HTTP_LFV_H_LAST];
    ngx_str_t                   authorization;

    void                       *store;          /* its call for a start */
    void                       *envelope;
    ngx_buf_t                  *error_body;     /* replaces nginx's page */

    unsigned                    body_reading:1;
    unsigned                    waiter_cleanup:1;
    unsigned                    limited:1;
    unsigned                    signed_request:1;
    unsigned                    signature_sent:1;
    unsigned                    answered:1;     /* the module's own reply */
    unsigned                    envelope_sent:1;
    unsigned                    error_sent:1;
} ngx_http_lfv_ctx_t;


/* the decision is the reason: none yet, forwarded, or a rejection */

#define ngx_http_lfv_decided(a)    ((a)->reason != NGX_HTTP_LFV_OK)
#define ngx_http_lfv_forwarded(a)  ((a)->reason == NGX_HTTP_LFV_FORWARDED)


ngx_http_lfv_audit_t *ngx_http_lfv_get_audit(ngx_http_request_t *r);
ngx_str_t *ngx_http_lfv_operation_name(ngx_http_lfv_op_e op);
ngx_uint_t ngx_http_lfv_units(ngx_http_lfv_audit_t *audit);


extern ngx_module_t  ngx_http_lfv_module;


#endif /* _NGX_HTTP_LFV_MODULE_H_INCLUDED_ */
