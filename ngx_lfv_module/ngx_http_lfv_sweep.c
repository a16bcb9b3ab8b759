
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_lease.h"
#include "ngx_http_lfv_state.h"
#include "ngx_http_lfv_json.h"
#include "ngx_http_lfv_store_lease.h"


/*
 * The sweeper: every worker looks at the leases once a second (when
 * one is due) and claims the calls it makes: a StopModel when a lease
 * ends, a DescribeModel to reconcile.  A claim is one lease's, so two
 * workers never send the same call; a claim of a worker that died is
 * taken over.  Worker 0 also writes the state file, and asks the store
 * now and then while it fails.
 */

#define NGX_HTTP_LFV_SWEEP_TICK      1000
#define NGX_HTTP_LFV_SWEEP_BACKOFF   60


typedef struct {
    ngx_http_lfv_fetch_t        fetch;
    ngx_http_lfv_sweeper_t     *sw;
    ngx_http_lfv_sweep_lease_t  lease;
    ngx_str_t                   access_key_id;
    ngx_str_t                   source;
    ngx_str_t                   error;          /* why it failed */
} ngx_http_lfv_sweep_call_t;


static void ngx_http_lfv_sweep_unguarded(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_log_t *log);
static void ngx_http_lfv_sweep_handler(ngx_event_t *ev);
static void ngx_http_lfv_sweep(ngx_http_lfv_sweeper_t *sw);
static void ngx_http_lfv_sweep_claim(ngx_http_lfv_lease_t *lease,
    ngx_uint_t action, time_t now, ngx_http_lfv_sweep_lease_t *out);
static ngx_buf_t *ngx_http_lfv_sweep_request(ngx_http_lfv_sweep_call_t *c,
    ngx_http_lfv_creds_t *creds);
static void ngx_http_lfv_sweep_done(ngx_http_lfv_fetch_t *f);
static ngx_http_lfv_swept_e ngx_http_lfv_sweep_outcome(
    ngx_http_lfv_sweep_call_t *c, ngx_uint_t *guard, char **decision);
static ngx_uint_t ngx_http_lfv_sweep_error(ngx_http_lfv_fetch_t *f,
    ngx_uint_t status, char *type);
static ngx_int_t ngx_http_lfv_sweep_record(ngx_http_lfv_sweep_call_t *c,
    ngx_http_lfv_swept_e swept, ngx_uint_t guard, ngx_uint_t *overdue);
static void ngx_http_lfv_sweep_audit(ngx_http_lfv_sweep_call_t *c,
    char *decision, char *outcome);
static void ngx_http_lfv_sweep_finish(ngx_http_lfv_sweep_call_t *c);
static u_char *ngx_http_lfv_sweep_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


static ngx_http_lfv_sweeper_t  *ngx_http_lfv_sweeper;


ngx_int_t
ngx_http_lfv_sweep_init_worker(ngx_cycle_t *cycle)
{
    ngx_http_lfv_sweeper_t    *sw;
    ngx_http_lfv_limit_ctx_t  *ctx;
    ngx_http_lfv_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_lfv_module);

    if (lmcf->policy.zone == NULL) {
        return NGX_OK;
    }

    ctx = lmcf->policy.zone->data;

    if (!lmcf->lease.enabled) {
        ngx_http_lfv_sweep_unguarded(ctx, cycle->log);

        if (ctx->state.len == 0 && !lmcf->store.enabled) {
            return NGX_OK;
        }
    }

    sw = ngx_pcalloc(cycle->pool, sizeof(ngx_http_lfv_sweeper_t));
    if (sw == NULL) {
        return NGX_ERROR;
    }

    sw->lmcf = lmcf;

    sw->log = *cycle->log;
    sw->log.handler = ngx_http_lfv_sweep_log_error;
    sw->log.data = sw;
    sw->log.action = "keeping the leases of models";

    sw->timer.handler = ngx_http_lfv_sweep_handler;
    sw->timer.data = sw;
    sw->timer.log = &sw->log;
    sw->timer.cancelable = 1;

    ngx_add_timer(&sw->timer, NGX_HTTP_LFV_SWEEP_TICK);

    ngx_http_lfv_sweeper = sw;

    return NGX_OK;
}


/*
 * A reload that took running_units= and lease= from every policy leaves
 * the leases recorded: kept, shown, ended by a stop through the proxy,
 * but no longer stopped nor checked by the module
 */

static void
ngx_http_lfv_sweep_unguarded(ngx_http_lfv_limit_ctx_t *ctx, ngx_log_t *log)
{
    ngx_uint_t  n;

    if (ngx_worker != 0) {
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);
    n = ctx->sh->nleases;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (n) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "lfv: %ui leases are recorded, but no policy has "
                      "running_units= or lease= any more: they are not "
                      "stopped nor checked until one has", n);
    }
}


/* what changed since the last write is not lost on a graceful exit */

void
ngx_http_lfv_sweep_exit_worker(ngx_cycle_t *cycle)
{
    ngx_http_lfv_sweeper_t  *sw;

    sw = ngx_http_lfv_sweeper;

    if (sw && sw->lmcf->store.enabled) {
        ngx_http_lfv_store_exit_worker(cycle->log);
    }

    if (sw == NULL || ngx_worker != 0) {
        return;
    }

    ngx_http_lfv_state_save(sw->lmcf->policy.zone, &sw->log);
}


static void
ngx_http_lfv_sweep_handler(ngx_event_t *ev)
{
    ngx_http_lfv_sweeper_t  *sw = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (sw->lmcf->lease.enabled) {
        ngx_http_lfv_sweep(sw);
    }

    if (sw->lmcf->store.enabled) {
        ngx_http_lfv_store_flush(&sw->log);

        if (ngx_worker == 0 && sw->lmcf->lease.enabled) {
            ngx_http_lfv_store_lease_sweep(sw);
        }
    }

    if (ngx_worker == 0) {
        ngx_http_lfv_state_save(sw->lmcf->policy.zone, &sw->log);
        ngx_http_lfv_store_probe(sw->lmcf, &sw->log);
    }

    ngx_add_timer(ev, NGX_HTTP_LFV_SWEEP_TICK);
}


static void
ngx_http_lfv_sweep(ngx_http_lfv_sweeper_t *sw)
{
    time_t                       now, next, reconcile;
    ngx_uint_t                   i, n, action;
    ngx_queue_t                 *q, *nq;
    ngx_http_lfv_lease_t        *lease;
    ngx_http_lfv_limit_ctx_t    *ctx;
    ngx_http_lfv_sweep_lease_t   claimed[NGX_HTTP_LFV_SWEEP_CALLS];

    ctx = sw->lmcf->policy.zone->data;
    reconcile = sw->lmcf->lease.reconcile;
    now = ngx_time();
    n = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (ctx->sh->sweep_at > now) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return;
    }

    next = now + reconcile;

    for (q = ngx_queue_head(&ctx->sh->lease_queue);
         q != ngx_queue_sentinel(&ctx->sh->lease_queue);
         q = nq)
    {
        nq = ngx_queue_next(q);
        lease = ngx_queue_data(q, ngx_http_lfv_lease_t, queue);

        if (lease->pending) {

            /*
             * A start in flight may wait long (a rate delay, a long
             * proxy_read_timeout): its reservation is given back only
             * when the worker that holds the request is gone
             */

            if (now - lease->claimed >= NGX_HTTP_LFV_LEASE_PENDING_LOOK
                && kill(lease->owner, 0) == -1 && ngx_errno == NGX_ESRCH)
            {
                ngx_log_error(NGX_LOG_WARN, &sw->log, 0,
                              "lfv: a start of team \"%*s\" whose process "
                              "%P exited before AWS answered gives its %ui "
                              "units back", (size_t) lease->team_len,
                              ngx_http_lfv_lease_team(lease), lease->owner,
                              lease->units);

                ngx_http_lfv_lease_release_locked(ctx, lease, &sw->log);
                continue;
            }

            next = ngx_min(next, now + NGX_HTTP_LFV_LEASE_PENDING_LOOK);
            continue;
        }

        if (lease->owner) {
            if (now - lease->claimed < NGX_HTTP_LFV_LEASE_CLAIM_MAX) {
                next = ngx_min(next, lease->claimed
                                     + NGX_HTTP_LFV_LEASE_CLAIM_MAX);
                continue;
            }

            ngx_log_error(NGX_LOG_WARN, &sw->log, 0,
                          "lfv: the call about model \"%*s\" of process %P "
                          "is taken over", (size_t) lease->key_len,
                          lease->data, lease->owner);

            lease->owner = 0;
        }

        action = 0;

        if (lease->ends && now >= lease->ends) {
            if (now >= lease->next_stop) {
                action = NGX_HTTP_LFV_SWEEP_STOP;

            } else {
                next = ngx_min(next, lease->next_stop);
            }

        } else {
            if (lease->ends) {
                next = ngx_min(next, lease->ends);
            }

            if (now >= lease->checked + reconcile) {
                action = NGX_HTTP_LFV_SWEEP_DESCRIBE;

            } else {
                next = ngx_min(next, lease->checked + reconcile);
            }
        }

        if (action == 0) {
            continue;
        }

        if (n == NGX_HTTP_LFV_SWEEP_CALLS
            || sw->calls + n >= NGX_HTTP_LFV_SWEEP_CALLS)
        {
            next = now + 1;
            continue;
        }

        ngx_http_lfv_sweep_claim(lease, action, now, &claimed[n++]);

        /* a worker that dies in the call: taken over then */

        next = ngx_min(next, now + NGX_HTTP_LFV_LEASE_CLAIM_MAX);
    }

    ctx->sh->sweep_at = next;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    for (i = 0; i < n; i++) {
        ngx_http_lfv_sweep_start(sw, &claimed[i]);
    }
}


static void
ngx_http_lfv_sweep_claim(ngx_http_lfv_lease_t *lease, ngx_uint_t action,
    time_t now, ngx_http_lfv_sweep_lease_t *out)
{
    lease->owner = ngx_pid;
    lease->claimed = now;

    ngx_memzero(out, offsetof(ngx_http_lfv_sweep_lease_t, data));

    out->action = action;
    out->id = lease->id;
    out->units = lease->units;
    out->attempt = lease->attempts + 1;
    out->started = lease->started;
    out->ends = lease->ends;

    (void) ngx_cpymem(out->data, lease->data,
                      lease->key_len + lease->team_len + lease->region_len);

    out->key.len = lease->key_len;
    out->host.len = lease->host_len;
    out->project.len = lease->project_len;
    out->version.len = lease->version_len;
    out->team.len = lease->team_len;
    out->region.len = lease->region_len;

    ngx_http_lfv_sweep_point(out);
}


/* the strings of a copy, in its own data: key, then team and region */

void
ngx_http_lfv_sweep_point(ngx_http_lfv_sweep_lease_t *l)
{
    l->key.data = l->data;
    l->host.data = l->data;
    l->project.data = l->data + l->host.len + 1;
    l->version.data = l->project.data + l->project.len + 1;
    l->team.data = l->data + l->key.len;
    l->region.data = l->team.data + l->team.len;
}


/*
 * With the credentials the team's own requests would use: its role's,
 * else the base ones; a team no policy names any more gets the
 * default's.
 */

void
ngx_http_lfv_sweep_start(ngx_http_lfv_sweeper_t *sw,
    ngx_http_lfv_sweep_lease_t *lease)
{
    time_t                      retry_after;
    ngx_int_t                   rc;
    ngx_pool_t                 *pool;
    ngx_http_lfv_fetch_t       *f;
    ngx_http_lfv_creds_t       *creds;
    ngx_http_lfv_policy_t      *policy;
    ngx_http_lfv_lease_conf_t  *lcf;
    ngx_http_lfv_creds_conf_t  *ccf;
    ngx_http_lfv_sweep_call_t  *c;

    lcf = &sw->lmcf->lease;

    pool = ngx_create_pool(NGX_HTTP_LFV_FETCH_MAX + 4096, &sw->log);
    if (pool == NULL) {
        return;
    }

    c = ngx_pcalloc(pool, sizeof(ngx_http_lfv_sweep_call_t));
    if (c == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    c->sw = sw;
    c->lease = *lease;

    ngx_http_lfv_sweep_point(&c->lease);

    f = &c->fetch;
    f->pool = pool;
    f->log = &sw->log;
    f->handler = ngx_http_lfv_sweep_done;
    f->data = c;
    f->timeout = lcf->timeout;

    sw->calls++;

    policy = ngx_http_lfv_policy_find(&sw->lmcf->policy, &c->lease.team);
    if (policy == NULL) {
        policy = sw->lmcf->policy.default_policy;
    }

    ccf = (policy && policy->role) ? policy->role : &sw->lmcf->creds;

    rc = ngx_http_lfv_credentials_get(ccf, &creds, &retry_after);

    if (rc != NGX_OK) {
        f->rc = NGX_ERROR;
        ngx_str_set(&c->error, "no usable credentials");
        ngx_http_lfv_sweep_done(f);
        return;
    }

    c->access_key_id.data = ngx_pstrdup(pool, &creds->access_key_id);
    c->access_key_id.len = creds->access_key_id.len;
    c->source = creds->source;

    f->request = ngx_http_lfv_sweep_request(c, creds);

    if (f->request == NULL || c->access_key_id.data == NULL) {
        f->rc = NGX_ERROR;
        ngx_str_set(&c->error, "the request could not be signed");
        ngx_http_lfv_sweep_done(f);
        return;
    }

    if (lcf->endpoint_url.len) {
        ngx_http_lfv_endpoint_fetch_init(&lcf->endpoint, f);

    } else {

        /* the host the start was signed for, resolved, on port 443 */

        f->addr = NULL;
        f->host = c->lease.host;
        f->port = 443;
        f->resolver = lcf->resolver;
        f->resolver_timeout = lcf->resolver_timeout;
        f->ssl = lcf->ssl;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, &sw->log, 0,
                   "lfv: %s of model \"%V\"",
                   c->lease.action == NGX_HTTP_LFV_SWEEP_STOP
                   ? "StopModel" : "DescribeModel", &c->lease.key);

    ngx_http_lfv_fetch(f);
}


static ngx_buf_t *
ngx_http_lfv_sweep_request(ngx_http_lfv_sweep_call_t *c,
    ngx_http_lfv_creds_t *creds)
{
    u_char                        *p;
    ngx_pool_t                    *pool;
    ngx_http_lfv_endpoint_call_t   call;

    pool = c->fetch.pool;

    ngx_memzero(&call, sizeof(ngx_http_lfv_endpoint_call_t));

    p = ngx_pnalloc(pool, sizeof("/2020-11-20/projects//models//stop") - 1
                          + c->lease.project.len + c->lease.version.len);
    if (p == NULL) {
        return NULL;
    }

    call.uri.data = p;

    if (c->lease.action == NGX_HTTP_LFV_SWEEP_STOP) {
        ngx_str_set(&call.method, "POST");
        p = ngx_sprintf(p, "/2020-11-20/projects/%V/models/%V/stop",
                        &c->lease.project, &c->lease.version);

        ngx_str_set(&call.content_type, "application/json");
        ngx_str_set(&call.body, "{}");

        /* the same token in every attempt: a retry of a stop is no new stop */

        call.client_token.data = ngx_pnalloc(pool, sizeof("lfv-lease--")
                                                   + NGX_TIME_T_LEN + 8);
        if (call.client_token.data == NULL) {
            return NULL;
        }

        call.client_token.len = ngx_sprintf(call.client_token.data,
                                            "lfv-lease-%T-%08xD",
                                            c->lease.started,
                                            ngx_crc32_short(c->lease.key.data,
                                                            c->lease.key.len))
                                - call.client_token.data;

    } else {
        ngx_str_set(&call.method, "GET");
        p = ngx_sprintf(p, "/2020-11-20/projects/%V/models/%V",
                        &c->lease.project, &c->lease.version);
    }

    call.uri.len = p - call.uri.data;
    call.host = c->lease.host;
    call.region = c->lease.region;
    ngx_str_set(&call.service, "lookoutvision");
    ngx_str_set(&call.accept, "application/json");
    call.access_key_id = &creds->access_key_id;
    call.secret_access_key = &creds->secret_access_key;
    call.session_token = &creds->session_token;

    return ngx_http_lfv_endpoint_signed(pool, &c->sw->lmcf->crypto, &call);
}


static void
ngx_http_lfv_sweep_done(ngx_http_lfv_fetch_t *f)
{
    char                       *decision;
    ngx_uint_t                  guard, overdue;
    ngx_http_lfv_swept_e        swept;
    ngx_http_lfv_sweep_call_t  *c;

    c = f->data;

    swept = ngx_http_lfv_sweep_outcome(c, &guard, &decision);

    overdue = 0;

    if (c->lease.stored) {

        /* the store's lease: its owner writes what came of the call */

        ngx_http_lfv_store_lease_swept(c->sw, &c->lease, swept, &overdue);
        ngx_http_lfv_sweep_count(c->sw->lmcf->policy.zone->data,
                                 &c->lease.team, guard, &c->sw->log);

        if (overdue) {
            ngx_http_lfv_sweep_count(c->sw->lmcf->policy.zone->data,
                                     &c->lease.team,
                                     NGX_HTTP_LFV_GUARD_OVERDUE, &c->sw->log);
        }

    } else if (ngx_http_lfv_sweep_record(c, swept, guard, &overdue)
               != NGX_OK)
    {

        /* the lease ended, or was replaced, while the call was made */

        ngx_http_lfv_sweep_finish(c);
        return;
    }

    if (guard == NGX_HTTP_LFV_GUARD_CHECK_FAILED) {
        ngx_log_error(NGX_LOG_WARN, &c->sw->log, 0,
                      "lfv: DescribeModel of model \"%V/%V\" of team \"%V\" "
                      "failed: %V; it still counts as running, and is asked "
                      "again in %T s", &c->lease.project, &c->lease.version,
                      &c->lease.team, &c->error,
                      c->sw->lmcf->lease.reconcile);
    }

    if (c->lease.action == NGX_HTTP_LFV_SWEEP_STOP
        || swept == NGX_HTTP_LFV_SWEPT_ENDED)
    {
        ngx_http_lfv_sweep_audit(c, decision,
                                 (char *) ngx_http_lfv_guard_names[guard]
                                                                  .data);
    }

    if (overdue) {
        ngx_log_error(NGX_LOG_ALERT, &c->sw->log, 0,
                      "lfv: model \"%V/%V\" of team \"%V\" still runs %T s "
                      "after its lease ended: StopModel failed %ui times, "
                      "last: %V; it is tried again every %T s",
                      &c->lease.project, &c->lease.version, &c->lease.team,
                      ngx_time() - c->lease.ends, c->lease.attempt,
                      &c->error, c->sw->lmcf->lease.reconcile);
        ngx_http_lfv_sweep_audit(c, "lease_expired", "overdue");
    }

    ngx_http_lfv_sweep_finish(c);
}


/* AWS's answer, read as the decision it makes about the lease */

static ngx_http_lfv_swept_e
ngx_http_lfv_sweep_outcome(ngx_http_lfv_sweep_call_t *c, ngx_uint_t *guard,
    char **decision)
{
    u_char                *p;
    ngx_uint_t             status;
    ngx_str_t              desc, st, et;
    ngx_http_lfv_fetch_t  *f;

    static ngx_str_t  model[] = { ngx_string("ModelDescription"),
                                  ngx_null_string };
    static ngx_str_t  state[] = { ngx_string("Status"), ngx_null_string };

    f = &c->fetch;
    status = (f->rc == NGX_OK) ? f->resp.status : 0;

    if (c->error.len == 0 && f->rc != NGX_OK) {
        c->error.data = (u_char *) f->err;
        c->error.len = f->err ? ngx_strlen(f->err) : 0;
    }

    if (c->lease.action == NGX_HTTP_LFV_SWEEP_STOP) {
        *decision = "lease_expired";

        if (status >= 200 && status < 300) {
            *guard = NGX_HTTP_LFV_GUARD_STOPPED;
            return NGX_HTTP_LFV_SWEPT_ENDED;
        }

        /* not hosted any more (stopped, stopping), or gone */

        if (ngx_http_lfv_sweep_error(f, NGX_HTTP_CONFLICT, "ConflictException")
            || ngx_http_lfv_sweep_error(f, NGX_HTTP_NOT_FOUND,
                                        "ResourceNotFoundException"))
        {
            *guard = NGX_HTTP_LFV_GUARD_NOT_HOSTED;
            return NGX_HTTP_LFV_SWEPT_ENDED;
        }

        *guard = NGX_HTTP_LFV_GUARD_STOP_FAILED;

    } else {
        *decision = "reconciled";
        *guard = NGX_HTTP_LFV_GUARD_RECONCILED;

        if (ngx_http_lfv_sweep_error(f, NGX_HTTP_NOT_FOUND,
                                     "ResourceNotFoundException"))
        {
            return NGX_HTTP_LFV_SWEPT_ENDED;
        }

        if (status == NGX_HTTP_OK
            && ngx_http_lfv_json_value(f->resp.body.data, f->resp.body.len,
                                        model, &desc)
               == NGX_OK
            && desc.len
            && ngx_http_lfv_json_object(desc.data, desc.len, state, &st)
               == NGX_OK
            && st.len)
        {
            /* hosted, or on its way in or out: it is still billed */

            if ((st.len == 16
                 && ngx_strncmp(st.data, "STARTING_HOSTING", 16) == 0)
                || (st.len == 6 && ngx_strncmp(st.data, "HOSTED", 6) == 0)
                || (st.len == 16
                    && ngx_strncmp(st.data, "STOPPING_HOSTING", 16) == 0))
            {
                *guard = NGX_HTTP_LFV_GUARD_LAST;     /* nothing to count */
                return NGX_HTTP_LFV_SWEPT_CHECKED;
            }

            return NGX_HTTP_LFV_SWEPT_ENDED;
        }

        *guard = NGX_HTTP_LFV_GUARD_CHECK_FAILED;

        if (status == NGX_HTTP_OK) {
            ngx_str_set(&c->error, "DescribeModel's answer has no status");
        }
    }

    if (c->error.len == 0) {

        /* "Code:http://internal..." as AWS may add: the code */

        et = f->resp.error_type;
        p = ngx_strlchr(et.data, et.data + et.len, ':');
        if (p) {
            et.len = p - et.data;
        }

        p = ngx_pnalloc(f->pool, 32 + et.len);
        if (p != NULL) {
            c->error.data = p;
            c->error.len = ngx_sprintf(p, "status %ui %V", status, &et) - p;
        }
    }

    return (c->lease.action == NGX_HTTP_LFV_SWEEP_STOP)
           ? NGX_HTTP_LFV_SWEPT_FAILED : NGX_HTTP_LFV_SWEPT_CHECKED;
}


/*
 * AWS's error of this status and type: a 404 of another service (an
 * endpoint that is not Lookout for Vision) must not end a lease
 */

static ngx_uint_t
ngx_http_lfv_sweep_error(ngx_http_lfv_fetch_t *f, ngx_uint_t status,
    char *type)
{
    size_t      len;
    ngx_str_t  *et;

    if (f->rc != NGX_OK || f->resp.status != status) {
        return 0;
    }

    et = &f->resp.error_type;
    len = ngx_strlen(type);

    /* "Code:http://internal..." as AWS may add */

    return et->len >= len && ngx_strncmp(et->data, type, len) == 0
           && (et->len == len || et->data[len] == ':');
}


static ngx_int_t
ngx_http_lfv_sweep_record(ngx_http_lfv_sweep_call_t *c,
    ngx_http_lfv_swept_e swept, ngx_uint_t guard, ngx_uint_t *overdue)
{
    time_t                      now, backoff;
    ngx_http_lfv_lease_t       *lease;
    ngx_http_lfv_lease_conf_t  *lcf;
    ngx_http_lfv_limit_ctx_t   *ctx;
    ngx_http_lfv_limit_node_t  *node;

    lcf = &c->sw->lmcf->lease;
    ctx = c->sw->lmcf->policy.zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    lease = ngx_http_lfv_lease_find_locked(ctx, &c->lease.key);

    /* ended meanwhile, or a new lease of the model: not this call's */

    if (lease == NULL || lease->id != c->lease.id) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NGX_DECLINED;
    }

    lease->owner = 0;
    ctx->sh->sweep_at = 0;

    node = ngx_http_lfv_limit_lookup_locked(ctx, &c->lease.team, &c->sw->log);

    if (node && guard < NGX_HTTP_LFV_GUARD_LAST) {
        node->guard[guard]++;
    }

    switch (swept) {

    case NGX_HTTP_LFV_SWEPT_ENDED:
        ngx_http_lfv_lease_end_locked(ctx, lease);
        break;

    case NGX_HTTP_LFV_SWEPT_FAILED:
        lease->attempts++;

        backoff = ngx_http_lfv_sweep_backoff(lease->attempts);

        if (now >= lease->ends + lcf->retry) {
            if (!lease->alerted) {
                lease->alerted = 1;
                *overdue = 1;

                if (node) {
                    node->guard[NGX_HTTP_LFV_GUARD_OVERDUE]++;
                }
            }

            /* past the window: tried on, at the reconciling pace */

            backoff = lcf->reconcile;
        }

        lease->next_stop = now + backoff;
        break;

    default: /* NGX_HTTP_LFV_SWEPT_CHECKED */
        lease->checked = now;
        break;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}


/* 2, 4, 8 ... 60 s, with a jitter of up to a quarter */

time_t
ngx_http_lfv_sweep_backoff(ngx_uint_t attempts)
{
    time_t  backoff;

    backoff = (attempts < 6) ? (time_t) 1 << attempts
                             : NGX_HTTP_LFV_SWEEP_BACKOFF;
    backoff = ngx_min(backoff, NGX_HTTP_LFV_SWEEP_BACKOFF);

    return backoff + ngx_random() % (backoff / 4 + 1);
}


void
ngx_http_lfv_sweep_count(ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *team,
    ngx_uint_t guard, ngx_log_t *log)
{
    ngx_http_lfv_limit_node_t  *node;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_lfv_limit_lookup_locked(ctx, team, log);

    if (node && guard < NGX_HTTP_LFV_GUARD_LAST) {
        node->guard[guard]++;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * One JSON line per attempt in lfv_lease_log, with the field names of
 * the access log's audit format (docs/audit.md), and the error log's
 * line; never a secret: the key id alone names the credentials
 */

static void
ngx_http_lfv_sweep_audit(ngx_http_lfv_sweep_call_t *c, char *decision,
    char *outcome)
{
    u_char                *p, *line;
    size_t                 len;
    ngx_tm_t               tm, etm;
    ngx_uint_t             status, level;
    ngx_str_t              error_type, request_id;
    ngx_open_file_t       *file;
    ngx_http_lfv_fetch_t  *f;

    f = &c->fetch;
    status = (f->rc == NGX_OK) ? f->resp.status : 0;

    ngx_str_null(&error_type);
    ngx_str_null(&request_id);

    if (f->rc == NGX_OK) {
        error_type = f->resp.error_type;
        request_id = f->resp.request_id;
    }

    /* "Code:http://internal..." as AWS may add: the code */

    p = ngx_strlchr(error_type.data, error_type.data + error_type.len, ':');
    if (p) {
        error_type.len = p - error_type.data;
    }

    len = sizeof("{\"time\":\"1970-01-01T00:00:00+00:00\",\"team\":\"\","
                 "\"project\":\"\",\"model_version\":\"\",\"units\":\"\","
                 "\"operation\":\"StopModel\",\"decision\":\"\","
                 "\"outcome\":\"\",\"attempt\":\"\",\"lease_ends\":"
                 "\"1970-01-01T00:00:00Z\",\"status\":\"\","
                 "\"error_type\":\"\",\"aws_request_id\":\"\","
                 "\"credential_source\":\"\",\"access_key_id\":\"\","
                 "\"error\":\"\"}\n") - 1
          + 2 * (c->lease.team.len + ngx_escape_json(NULL, c->lease.team.data,
                                                     c->lease.team.len))
          + c->lease.project.len + c->lease.version.len
          + 3 * NGX_INT_T_LEN + 32
          + 6 * (error_type.len + request_id.len + c->error.len)
          + c->source.len + c->access_key_id.len;

    line = ngx_pnalloc(f->pool, len);
    if (line == NULL) {
        return;
    }

    ngx_gmtime(ngx_time(), &tm);
    ngx_gmtime(c->lease.ends, &etm);

    p = ngx_sprintf(line, "{\"time\":\"%4d-%02d-%02dT%02d:%02d:%02d+00:00\","
                    "\"team\":\"",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
    p = (u_char *) ngx_escape_json(p, c->lease.team.data, c->lease.team.len);
    p = ngx_sprintf(p, "\",\"project\":\"%V\",\"model_version\":\"%V\","
                    "\"units\":\"%ui\",\"operation\":\"%s\","
                    "\"decision\":\"%s\",\"outcome\":\"%s\","
                    "\"attempt\":\"%ui\",",
                    &c->lease.project, &c->lease.version, c->lease.units,
                    c->lease.action == NGX_HTTP_LFV_SWEEP_STOP
                    ? "StopModel" : "DescribeModel",
                    decision, outcome, c->lease.attempt);

    if (c->lease.ends) {
        p = ngx_sprintf(p, "\"lease_ends\":\"%4d-%02d-%02dT%02d:%02d:%02dZ\",",
                        etm.ngx_tm_year, etm.ngx_tm_mon, etm.ngx_tm_mday,
                        etm.ngx_tm_hour, etm.ngx_tm_min, etm.ngx_tm_sec);

    } else {
        p = ngx_cpymem(p, "\"lease_ends\":\"\",", 16);
    }

    p = (status == 0) ? ngx_cpymem(p, "\"status\":\"\"", 11)
                      : ngx_sprintf(p, "\"status\":\"%ui\"", status);

    p = ngx_cpymem(p, ",\"error_type\":\"", 15);
    p = (u_char *) ngx_escape_json(p, error_type.data, error_type.len);
    p = ngx_cpymem(p, "\",\"aws_request_id\":\"", 20);
    p = (u_char *) ngx_escape_json(p, request_id.data, request_id.len);
    p = ngx_sprintf(p, "\",\"credential_source\":\"%V\","
                    "\"access_key_id\":\"%V\",\"error\":\"",
                    &c->source, &c->access_key_id);

    if (ngx_strcmp(outcome, "failed") == 0
        || ngx_strcmp(outcome, "overdue") == 0)
    {
        p = (u_char *) ngx_escape_json(p, c->error.data, c->error.len);
    }

    p = ngx_cpymem(p, "\"}\n", 3);

    level = (ngx_strcmp(outcome, "failed") == 0) ? NGX_LOG_WARN
                                                 : NGX_LOG_NOTICE;

    ngx_log_error(level, &c->sw->log, 0, "lfv: %s: %*s",
                  decision, (size_t) (p - line - 1), line);

    file = c->sw->lmcf->lease.log;

    if (file && file->fd != NGX_INVALID_FILE) {
        if (ngx_write_fd(file->fd, line, p - line) != (ssize_t) (p - line)) {
            ngx_log_error(NGX_LOG_ALERT, &c->sw->log, ngx_errno,
                          ngx_write_fd_n " to \"%V\" failed", &file->name);
        }
    }
}


static void
ngx_http_lfv_sweep_finish(ngx_http_lfv_sweep_call_t *c)
{
    ngx_http_lfv_sweeper_t  *sw;

    sw = c->sw;
    sw->calls--;

    ngx_destroy_pool(c->fetch.pool);
}


static u_char *
ngx_http_lfv_sweep_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    if (log->action) {
        buf = ngx_snprintf(buf, len, " while %s", log->action);
    }

    return buf;
}
