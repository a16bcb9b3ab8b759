
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_LIMIT_H_INCLUDED_
#define _NGX_HTTP_LFV_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_reason.h"
#include "ngx_http_lfv_policy.h"
#include "ngx_http_lfv_request.h"
#include "ngx_http_lfv_store.h"


/* per operation, StartModel first: ngx_http_lfv_op_e less one */
#define NGX_HTTP_LFV_OPS  (NGX_HTTP_LFV_OP_LAST - 1)


typedef struct ngx_http_lfv_lease_want_s  ngx_http_lfv_lease_want_t;


/* what the cost guard counts of each team's leases */

typedef enum {
    NGX_HTTP_LFV_GUARD_STOPPED = 0,     /* auto-stopped at its end */
    NGX_HTTP_LFV_GUARD_NOT_HOSTED,      /* StopModel: 404 or 409 */
    NGX_HTTP_LFV_GUARD_STOP_FAILED,     /* an attempt failed */
    NGX_HTTP_LFV_GUARD_OVERDUE,         /* past its retry window, alerted */
    NGX_HTTP_LFV_GUARD_RECONCILED,      /* found stopped elsewhere */
    NGX_HTTP_LFV_GUARD_CHECK_FAILED,    /* a DescribeModel failed */
    NGX_HTTP_LFV_GUARD_STOPPED_BY_CLIENT,
    NGX_HTTP_LFV_GUARD_LAST
} ngx_http_lfv_guard_e;


/* a team's state, shared by all workers: buckets and counters */

typedef struct {
    ngx_str_node_t              sn;             /* the team name */
    ngx_queue_t                 queue;          /* LRU */

    ngx_msec_t                  last;           /* of the leaky bucket */
    ngx_uint_t                  excess;         /* milli-requests */
    time_t                      window;         /* of the unit budget */
    ngx_uint_t                  units_used;

    ngx_uint_t                  forwarded;      /* starts */
    ngx_uint_t                  throttled;
    ngx_uint_t                  units_started;
    ngx_uint_t                  rejected[NGX_HTTP_LFV_REASON_LAST];
    ngx_uint_t                  op_forwarded[NGX_HTTP_LFV_OPS];
    ngx_uint_t                  op_rejected[NGX_HTTP_LFV_OPS]
                                           [NGX_HTTP_LFV_REASON_LAST];

    /* the cost guard: units of recorded models, and of starts in flight */
    ngx_uint_t                  running;
    ngx_uint_t                  reserved;
    ngx_uint_t                  leases;
    ngx_uint_t                  guard[NGX_HTTP_LFV_GUARD_LAST];

    u_char                      data[1];
} ngx_http_lfv_limit_node_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;

    /* the cost guard's leases (ngx_http_lfv_lease.c) */
    ngx_rbtree_t                leases;
    ngx_rbtree_node_t           lease_sentinel;
    ngx_queue_t                 lease_queue;
    ngx_uint_t                  nleases;
    uint64_t                    lease_id;       /* the last one given */
    time_t                      sweep_at;       /* 0: look now */

    /* the state file (ngx_http_lfv_state.c) */
    ngx_uint_t                  changes;        /* of what it keeps */
    ngx_uint_t                  written;        /* "changes" in the file */
    time_t                      state_saved;
    time_t                      state_failed;
    time_t                      state_logged;   /* its last failure's alert */
    ngx_uint_t                  state_failing;  /* the last write failed */
    ngx_uint_t                  state_failures;
    size_t                      state_error_len;
    u_char                      state_error[256];

    /* the store's health (ngx_http_lfv_store.c) */
    ngx_http_lfv_store_health_t store;
} ngx_http_lfv_limit_shctx_t;


typedef struct {
    ngx_http_lfv_limit_shctx_t *sh;
    ngx_slab_pool_t            *shpool;
    ngx_http_lfv_policy_conf_t *pcf;            /* the teams it holds */
    u_char                     *file;           /* of lfv_policy_zone */
    ngx_uint_t                  line;
    ngx_str_t                   state;          /* state=, or empty */
} ngx_http_lfv_limit_ctx_t;


/* a team's counters, copied for the status page */

typedef struct {
    ngx_str_t                   team;
    ngx_uint_t                  forwarded;
    ngx_uint_t                  throttled;
    ngx_uint_t                  units_started;
    ngx_uint_t                  rejected[NGX_HTTP_LFV_REASON_LAST];
    ngx_uint_t                  op_forwarded[NGX_HTTP_LFV_OPS];
    ngx_uint_t                  op_rejected[NGX_HTTP_LFV_OPS]
                                           [NGX_HTTP_LFV_REASON_LAST];
    ngx_uint_t                  running;
    ngx_uint_t                  reserved;
    ngx_uint_t                  leases;
    ngx_uint_t                  guard[NGX_HTTP_LFV_GUARD_LAST];
} ngx_http_lfv_limit_stat_t;


/*
 * A new zone gets the state of every configured team at once, so that
 * "nginx -t" refuses a zone too small for them; state is never evicted
 * for a team the configuration names.
 */
ngx_shm_zone_t *ngx_http_lfv_limit_zone_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, ngx_http_lfv_policy_conf_t *pcf);

/*
 * The running units, the rate and the unit budget of a team, charged
 * together under the zone mutex (and a lease reserved when "want" is
 * given), and the decision counted in the same round trip: a start
 * to go now as forwarded, a rate or a budget refusal as that.
 * NGX_HTTP_LFV_OK with *delay in ms (0: now, and counted), or the
 * reason with *retry_after in seconds.
 */
ngx_http_lfv_reason_e ngx_http_lfv_limit(ngx_shm_zone_t *zone,
    ngx_http_lfv_policy_t *policy, ngx_str_t *team, ngx_uint_t units,
    ngx_http_lfv_lease_want_t *want, ngx_msec_t *delay,
    time_t *retry_after, ngx_log_t *log);

/* a team's leaky bucket and unit budget, wherever they are kept */

typedef struct {
    ngx_msec_t                  last;           /* 0: never */
    ngx_uint_t                  excess;         /* milli-requests */
    time_t                      window;
    ngx_uint_t                  used;
} ngx_http_lfv_bucket_t;


/*
 * A start charged to the bucket: NGX_HTTP_LFV_OK and "b" changed (*delay
 * in ms, *over set for a dry run over the rate), or NGX_HTTP_LFV_BUDGET
 * or NGX_HTTP_LFV_RATE with *retry_after and "b" as it was
 */
ngx_http_lfv_reason_e ngx_http_lfv_limit_charge(ngx_http_lfv_policy_t *policy,
    ngx_http_lfv_bucket_t *b, ngx_uint_t units, time_t now, ngx_msec_t ms_now,
    ngx_msec_t *delay, time_t *retry_after, ngx_uint_t *over);

/* the caller holds the zone mutex: a team's state, made if need be */
ngx_http_lfv_limit_node_t *ngx_http_lfv_limit_lookup_locked(
    ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *team, ngx_log_t *log);

/*
 * Counts a decision for the status page; "forwarded": the request was
 * counted as forwarded before, and is not any more.
 */
void ngx_http_lfv_limit_account(ngx_shm_zone_t *zone, ngx_str_t *team,
    ngx_http_lfv_op_e op, ngx_http_lfv_reason_e reason, ngx_uint_t units,
    ngx_uint_t forwarded);

/* every team's counters, copied in one hold of the mutex */
ngx_array_t *ngx_http_lfv_limit_snapshot(ngx_shm_zone_t *zone,
    ngx_pool_t *pool);


#endif /* _NGX_HTTP_LFV_LIMIT_H_INCLUDED_ */
