
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_STORE_H_INCLUDED_
#define _NGX_HTTP_LFV_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_reason.h"
#include "ngx_http_lfv_policy.h"
#include "ngx_http_lfv_endpoint.h"
#include "ngx_http_lfv_ddb_doc.h"


/*
 * lfv_policy_store dynamodb table=...: the teams' rates, budgets,
 * running units and leases decided by DynamoDB, so that several proxies
 * share them exactly (docs/several-proxies.md).  A start reads its
 * team's partition (the limits item, the leases), writes its lease, and
 * writes the limits item back on the condition that nobody wrote it
 * meanwhile; a lost race reads again.
 */

/*
 * A start that loses this many races in a row is refused: each round of
 * concurrent writers has a winner, so as many as there are starts of a
 * team at once, with room to spare
 */
#define NGX_HTTP_LFV_STORE_RACES  32

/*
 * "expires", for the table's TTL: 90 days after a team's last start, or
 * a day after its budget window ends when that is later
 */
#define NGX_HTTP_LFV_STORE_TTL    ((time_t) 90 * 86400)


typedef struct {
    ngx_uint_t                  enabled;
    ngx_str_t                   table;
    ngx_str_t                   url;            /* endpoint= */
    ngx_http_lfv_endpoint_t     endpoint;       /* its region inside */
    ngx_msec_t                  timeout;        /* of each step of a call */
    time_t                      claim;          /* a lease's call, at most */
    u_char                     *file;           /* of the directive */
    ngx_uint_t                  line;
} ngx_http_lfv_store_conf_t;


/* what the status page shows of the store, kept in the policy zone */

typedef struct {
    time_t                      succeeded;      /* last answer */
    time_t                      failed;         /* last failure */
    ngx_uint_t                  failing;        /* the last call failed */
    ngx_uint_t                  calls;
    ngx_uint_t                  errors;
    ngx_uint_t                  races;          /* conditions that failed */
    ngx_msec_t                  latency;        /* of the last call, ms */
    ngx_int_t                   queued;         /* writes waiting */
    size_t                      error_len;
    u_char                      error[128];
} ngx_http_lfv_store_health_t;


/* one call to the store, in a pool of its own */

typedef struct {
    ngx_http_lfv_fetch_t        fetch;
    struct ngx_http_lfv_main_conf_s  *lmcf;
    ngx_msec_t                  sent;           /* for the latency */
    ngx_uint_t                  busy;           /* in flight */
    size_t                      error_len;
    u_char                      error[128];     /* why it failed */
} ngx_http_lfv_store_io_t;


typedef enum {
    NGX_HTTP_LFV_STORE_DONE = 0,                /* answered */
    NGX_HTTP_LFV_STORE_CONDITION,               /* its condition failed */
    NGX_HTTP_LFV_STORE_FAILED
} ngx_http_lfv_store_rc_e;


struct ngx_http_lfv_main_conf_s;

char *ngx_http_lfv_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_lfv_store_init_conf(ngx_conf_t *cf,
    struct ngx_http_lfv_main_conf_s *lmcf);

/* does the store decide this policy's starts? */
ngx_uint_t ngx_http_lfv_store_decides(ngx_http_lfv_store_conf_t *scf,
    ngx_http_lfv_policy_t *policy);

/*
 * The store's decision of a start, asynchronously: NGX_OK when asked
 * (the handler's ngx_http_lfv_continue() runs again with the answer),
 * NGX_ERROR otherwise
 */
struct ngx_http_lfv_lease_want_s;

ngx_int_t ngx_http_lfv_store_decide(ngx_http_request_t *r, void *ctx,
    struct ngx_http_lfv_lease_want_s *want);

/* the answer, once: 1 and the reason (and a delay), else 0 */
ngx_uint_t ngx_http_lfv_store_answered(void *ctx,
    ngx_http_lfv_reason_e *reason, ngx_msec_t *delay);

/*
 * AWS's answer to a start the store decided (answered: AWS's own, not
 * nginx's): its lease runs, is given back, or stays pending.  The
 * lease's end, or 0.
 */
time_t ngx_http_lfv_store_settle(void *call, ngx_uint_t answered,
    ngx_uint_t accepted, ngx_log_t *log);

/* a StopModel that AWS accepted: the model's lease ends in the store */
void ngx_http_lfv_store_stopped(struct ngx_http_lfv_main_conf_s *lmcf,
    ngx_str_t *team, ngx_str_t *key, ngx_log_t *log);

/*
 * A call: NGX_OK (the handler runs, maybe before this returns),
 * NGX_DECLINED without credentials, NGX_ERROR
 */
ngx_int_t ngx_http_lfv_store_send(ngx_http_lfv_store_io_t *io,
    struct ngx_http_lfv_main_conf_s *lmcf, ngx_http_lfv_ddb_request_t *req,
    ngx_log_t *log, ngx_http_lfv_fetch_handler_pt handler, void *data);

/* what came of it, counted; a failure logged with "what" unless NULL */
ngx_http_lfv_store_rc_e ngx_http_lfv_store_result(ngx_http_lfv_store_io_t *io,
    char *what);

/* an answer that is not DynamoDB's, counted and logged */
void ngx_http_lfv_store_refused(ngx_http_lfv_store_io_t *io, char *what,
    char *err);

void ngx_http_lfv_store_close(ngx_http_lfv_store_io_t *io);

/* a write that needs no answer, made as soon as the store takes it */
ngx_int_t ngx_http_lfv_store_write(struct ngx_http_lfv_main_conf_s *lmcf,
    ngx_http_lfv_ddb_request_t *req, char *what, ngx_log_t *log);
void ngx_http_lfv_store_flush(ngx_log_t *log);
void ngx_http_lfv_store_exit_worker(ngx_log_t *log);

/* worker 0 asks the store now and then while it fails, for readiness */
void ngx_http_lfv_store_probe(struct ngx_http_lfv_main_conf_s *lmcf,
    ngx_log_t *log);

/* a copy for the status page; NGX_DECLINED without a store */
ngx_int_t ngx_http_lfv_store_health(struct ngx_http_lfv_main_conf_s *lmcf,
    ngx_http_lfv_store_health_t *h);


#endif /* _NGX_HTTP_LFV_STORE_H_INCLUDED_ */
