
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_LEASE_H_INCLUDED_
#define _NGX_HTTP_LFV_LEASE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_reason.h"
#include "ngx_http_lfv_limit.h"
#include "ngx_http_lfv_endpoint.h"
#include "ngx_http_lfv_state_doc.h"


/*
 * The cost guard (docs/cost-guard.md): a model started through the
 * proxy by a team with running_units= or lease= is recorded in the
 * policy zone until it is stopped, so that the team's running units are
 * known and its lease is kept.
 */

/* a start in flight is looked at after this long: is its worker alive? */
#define NGX_HTTP_LFV_LEASE_PENDING_LOOK  60

/* a call whose worker died is taken over after this long */
#define NGX_HTTP_LFV_LEASE_CLAIM_MAX     120


typedef struct {
    ngx_str_node_t              sn;             /* host/project/version */
    ngx_queue_t                 queue;          /* every lease */
    uint64_t                    id;

    time_t                      started;
    time_t                      ends;           /* 0: no lease, a cap */
    ngx_uint_t                  units;

    /* the sweeper's: the call in flight, the next one */
    ngx_pid_t                   owner;          /* or, pending: the start's */
    time_t                      claimed;        /* or, pending: reserved */
    time_t                      next_stop;
    time_t                      checked;        /* the last DescribeModel */
    ngx_uint_t                  attempts;

    unsigned                    pending:1;      /* AWS has not answered */
    unsigned                    alerted:1;      /* past its retry window */

    u_short                     key_len;        /* host/project/version */
    u_short                     host_len;
    u_short                     project_len;
    u_short                     version_len;
    u_short                     team_len;
    u_short                     region_len;
    u_char                      data[1];        /* key, team, region */
} ngx_http_lfv_lease_t;


#define ngx_http_lfv_lease_host(l)     ((l)->data)
#define ngx_http_lfv_lease_project(l)  ((l)->data + (l)->host_len + 1)
#define ngx_http_lfv_lease_version(l)                                        \
    ((l)->data + (l)->host_len + 1 + (l)->project_len + 1)
#define ngx_http_lfv_lease_team(l)     ((l)->data + (l)->key_len)
#define ngx_http_lfv_lease_region(l)                                         \
    ((l)->data + (l)->key_len + (l)->team_len)


/* the model a start asks for: what its lease records */

struct ngx_http_lfv_lease_want_s {
    ngx_str_t                   host;
    ngx_str_t                   region;
    ngx_str_t                   project;
    ngx_str_t                   version;        /* concrete */

    ngx_uint_t                  store;          /* the rate and budget
                                                   are the store's */

    ngx_http_lfv_lease_t       *pending;        /* out: its reservation */
};


/* the cost guard's settings, in the module's main configuration */

typedef struct {
    ngx_uint_t                  enabled;        /* a policy guards */
    ngx_str_t                   endpoint_url;   /* lfv_lease_endpoint */
    ngx_http_lfv_endpoint_t     endpoint;
    ngx_ssl_t                  *ssl;            /* verified TLS to AWS */
    ngx_resolver_t             *resolver;
    ngx_msec_t                  resolver_timeout;
    time_t                      reconcile;      /* lfv_lease_reconcile */
    time_t                      retry;          /* lfv_lease_retry */
    ngx_msec_t                  timeout;        /* of each step of a call */
    ngx_open_file_t            *log;            /* lfv_lease_log */
    u_char                     *file;           /* of the first guard */
    ngx_uint_t                  line;
} ngx_http_lfv_lease_conf_t;


/* a lease, copied for the status page */

typedef struct {
    ngx_str_t                   team;
    ngx_str_t                   project;
    ngx_str_t                   version;
    ngx_uint_t                  units;
    time_t                      started;
    time_t                      ends;
    ngx_uint_t                  attempts;
    ngx_uint_t                  state;          /* ngx_http_lfv_lease_state */
} ngx_http_lfv_lease_stat_t;


#define NGX_HTTP_LFV_LEASE_STARTING   0         /* AWS has not answered */
#define NGX_HTTP_LFV_LEASE_RUNNING    1
#define NGX_HTTP_LFV_LEASE_STOPPING   2         /* its end has passed */
#define NGX_HTTP_LFV_LEASE_OVERDUE    3         /* past its retry window */


extern ngx_str_t  ngx_http_lfv_guard_names[];


char *ngx_http_lfv_lease_init_conf(ngx_conf_t *cf,
    ngx_http_lfv_lease_conf_t *lcf, ngx_str_t *ca);
ngx_int_t ngx_http_lfv_lease_filter_init(ngx_conf_t *cf);

/*
 * The caller holds the zone's mutex: the running units of the team
 * checked against its cap, a lease reserved for the start.  NGX_OK, or
 * the reason of the refusal.
 */
ngx_http_lfv_reason_e ngx_http_lfv_lease_reserve_locked(
    ngx_http_lfv_limit_ctx_t *ctx, ngx_http_lfv_limit_node_t *node,
    ngx_http_lfv_policy_t *policy, ngx_str_t *team, ngx_uint_t units,
    ngx_http_lfv_lease_want_t *want, ngx_log_t *log);

/* a reservation given back (a refusal after it, or AWS's) */
void ngx_http_lfv_lease_release_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_http_lfv_lease_t *lease, ngx_log_t *log);
void ngx_http_lfv_lease_release(ngx_shm_zone_t *zone,
    ngx_http_lfv_lease_t *lease);

/* a lease ended: removed, its units no longer running */
void ngx_http_lfv_lease_end_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_http_lfv_lease_t *lease);

/* the lease of a model, or NULL */
ngx_http_lfv_lease_t *ngx_http_lfv_lease_find_locked(
    ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *key);

/*
 * A lease as the state file or a reservation makes it: allocated and,
 * unless pending, in the tree with its units running for the team.
 */
ngx_http_lfv_lease_t *ngx_http_lfv_lease_alloc_locked(
    ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *host, ngx_str_t *project,
    ngx_str_t *version, ngx_str_t *team, ngx_str_t *region);
ngx_int_t ngx_http_lfv_lease_insert_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_http_lfv_lease_t *lease, ngx_log_t *log);

/* every lease, copied in one hold of the mutex */
ngx_array_t *ngx_http_lfv_lease_snapshot(ngx_shm_zone_t *zone,
    ngx_pool_t *pool);

/* the sweeper of the leases, in every worker (ngx_http_lfv_sweep.c) */

struct ngx_http_lfv_main_conf_s;

typedef struct ngx_http_lfv_sweeper_s {
    ngx_event_t                 timer;
    ngx_log_t                   log;
    ngx_uint_t                  calls;          /* in flight */
    struct ngx_http_lfv_main_conf_s  *lmcf;

    /* the store's leases, in worker 0: its look in flight, the next */
    ngx_uint_t                  looking;
    time_t                      look_at;
} ngx_http_lfv_sweeper_t;


#define NGX_HTTP_LFV_SWEEP_CALLS     8        /* in flight per worker */

#define NGX_HTTP_LFV_SWEEP_STOP      1
#define NGX_HTTP_LFV_SWEEP_DESCRIBE  2

#define NGX_HTTP_LFV_SWEEP_KEY_MAX                                           \
    (NGX_HTTP_LFV_STATE_HOST_MAX + NGX_HTTP_LFV_STATE_PROJECT_MAX           \
     + NGX_HTTP_LFV_STATE_VERSION_MAX + 2)


/* what a claimed call needs of its lease, copied out of the zone */

typedef struct {
    ngx_uint_t                  action;
    uint64_t                    id;             /* in the zone */
    ngx_uint_t                  units;
    ngx_uint_t                  attempt;
    time_t                      started;
    time_t                      ends;
    ngx_str_t                   key;
    ngx_str_t                   host;
    ngx_str_t                   project;
    ngx_str_t                   version;
    ngx_str_t                   team;
    ngx_str_t                   region;

    /* a lease of the store: its item as claimed */
    unsigned                    stored:1;
    unsigned                    alerted:1;
    unsigned                    pending:1;

    u_char                      data[NGX_HTTP_LFV_SWEEP_KEY_MAX
                                     + NGX_HTTP_LFV_STATE_TEAM_MAX
                                     + NGX_HTTP_LFV_STATE_REGION_MAX];
} ngx_http_lfv_sweep_lease_t;


/* what came of a call */

typedef enum {
    NGX_HTTP_LFV_SWEPT_ENDED = 0,   /* stopped, or not hosted any more */
    NGX_HTTP_LFV_SWEPT_FAILED,      /* a stop to try again */
    NGX_HTTP_LFV_SWEPT_CHECKED,     /* still hosted, or not known */
} ngx_http_lfv_swept_e;


ngx_int_t ngx_http_lfv_sweep_init_worker(ngx_cycle_t *cycle);
void ngx_http_lfv_sweep_exit_worker(ngx_cycle_t *cycle);

/* the call of a claimed lease (its strings set by sweep_point) */
void ngx_http_lfv_sweep_start(ngx_http_lfv_sweeper_t *sw,
    ngx_http_lfv_sweep_lease_t *lease);
void ngx_http_lfv_sweep_point(ngx_http_lfv_sweep_lease_t *l);

/* the wait before the next StopModel, after this many failed */
time_t ngx_http_lfv_sweep_backoff(ngx_uint_t attempts);

/* a lease's outcome counted for its team on the status page */
void ngx_http_lfv_sweep_count(ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *team,
    ngx_uint_t guard, ngx_log_t *log);


#endif /* _NGX_HTTP_LFV_LEASE_H_INCLUDED_ */
