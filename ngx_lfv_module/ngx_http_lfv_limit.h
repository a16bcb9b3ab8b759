
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


/* a team's state, shared by all workers: buckets and counters */

typedef struct {
    ngx_str_node_t              sn;             /* the team name */
    ngx_queue_t                 queue;          /* LRU */

    ngx_msec_t                  last;           /* of the leaky bucket */
    ngx_uint_t                  excess;         /* milli-requests */
    time_t                      window;         /* of the unit budget */
    ngx_uint_t                  units_used;

    ngx_uint_t                  forwarded;
    ngx_uint_t                  throttled;
    ngx_uint_t                  units_started;
    ngx_uint_t                  rejected[NGX_HTTP_LFV_REASON_LAST];

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
} ngx_http_lfv_limit_ctx_t;


ngx_shm_zone_t *ngx_http_lfv_limit_zone_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size);

/*
 * The rate and the unit budget of a team, charged together under the
 * zone mutex.  NGX_HTTP_LFV_OK with *delay in ms (0: now), or the
 * reason with *retry_after in seconds.
 */
ngx_http_lfv_reason_e ngx_http_lfv_limit(ngx_shm_zone_t *zone,
    ngx_http_lfv_policy_t *policy, ngx_str_t *team, ngx_uint_t units,
    ngx_msec_t *delay, time_t *retry_after, ngx_log_t *log);

/* counts a decision for the status page */
void ngx_http_lfv_limit_account(ngx_shm_zone_t *zone, ngx_str_t *team,
    ngx_http_lfv_reason_e reason, ngx_uint_t units);

/* the status page's walk over all teams, under the mutex */
typedef ngx_int_t (*ngx_http_lfv_limit_walk_pt)(void *data,
    ngx_http_lfv_limit_node_t *node);
ngx_int_t ngx_http_lfv_limit_walk(ngx_shm_zone_t *zone,
    ngx_http_lfv_limit_walk_pt handler, void *data);


#endif /* _NGX_HTTP_LFV_LIMIT_H_INCLUDED_ */
