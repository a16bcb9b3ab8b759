
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


/* per operation, StartModel first: ngx_http_lfv_op_e less one */
#define NGX_HTTP_LFV_OPS  (NGX_HTTP_LFV_OP_LAST - 1)


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

    u_char                      data[1];
} ngx_http_lfv_limit_node_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;
} ngx_http_lfv_limit_shctx_t;


typedef struct {
    ngx_http_lfv_limit_shctx_t *sh;
    ngx_slab_pool_t            *shpool;
    ngx_http_lfv_policy_conf_t *pcf;            /* the teams it holds */
    u_char                     *file;           /* of lfv_policy_zone */
    ngx_uint_t                  line;
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
} ngx_http_lfv_limit_stat_t;


/*
 * A new zone gets the state of every configured team at once, so that
 * "nginx -t" refuses a zone too small for them; state is never evicted
 * for a team the configuration names.
 */
ngx_shm_zone_t *ngx_http_lfv_limit_zone_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, ngx_http_lfv_policy_conf_t *pcf);

/*
 * The rate and the unit budget of a team, charged together under the
 * zone mutex, and the decision counted in the same round trip: a start
 * to go now as forwarded, a rate or a budget refusal as that.
 * NGX_HTTP_LFV_OK with *delay in ms (0: now, and counted), or the
 * reason with *retry_after in seconds.
 */
ngx_http_lfv_reason_e ngx_http_lfv_limit(ngx_shm_zone_t *zone,
    ngx_http_lfv_policy_t *policy, ngx_str_t *team, ngx_uint_t units,
    ngx_msec_t *delay, time_t *retry_after, ngx_log_t *log);

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
