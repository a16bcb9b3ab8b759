
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_limit.h"
#include "ngx_http_lfv_lease.h"
#include "ngx_http_lfv_state.h"


/* how many of the least recently seen teams a full zone looks at */
#define NGX_HTTP_LFV_EVICT_LOOK  64


static ngx_int_t ngx_http_lfv_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_lfv_limit_reserve(ngx_shm_zone_t *shm_zone,
    ngx_http_lfv_limit_ctx_t *ctx);
static ngx_http_lfv_limit_node_t *ngx_http_lfv_limit_alloc(
    ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *team, uint32_t hash,
    ngx_log_t *log);
static ngx_int_t ngx_http_lfv_limit_configured(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_str_t *team);


/* the state of the default policy and of teams without a policy */

static ngx_str_t  ngx_http_lfv_default_key = ngx_string("-");


ngx_shm_zone_t *
ngx_http_lfv_limit_zone_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    ngx_http_lfv_policy_conf_t *pcf)
{
    ngx_shm_zone_t            *zone;
    ngx_http_lfv_limit_ctx_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_lfv_limit_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    zone = ngx_shared_memory_add(cf, name, size, &ngx_http_lfv_module);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", name);
        return NULL;
    }

    zone->init = ngx_http_lfv_limit_init_zone;
    zone->data = ctx;

    ctx->pcf = pcf;
    ctx->file = cf->conf_file->file.name.data;
    ctx->line = cf->conf_file->line;

    return zone;
}


static ngx_int_t
ngx_http_lfv_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_lfv_limit_ctx_t  *octx = data;

    size_t                     len;
    ngx_http_lfv_limit_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {

        /* a reload: buckets, budgets and counters carry on */

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;

        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_lfv_limit_shctx_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_queue_init(&ctx->sh->queue);

    ngx_rbtree_init(&ctx->sh->leases, &ctx->sh->lease_sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_queue_init(&ctx->sh->lease_queue);

    len = sizeof(" in lfv_policy_zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in lfv_policy_zone \"%V\"%Z",
                &shm_zone->shm.name);

    ctx->shpool->log_nomem = 0;

    if (ngx_http_lfv_limit_reserve(shm_zone, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a new zone: what a restart must not lose, from the state file */

    if (ctx->state.len) {
        ngx_http_lfv_state_load(shm_zone);
    }

    return NGX_OK;
}


/*
 * A new zone, not yet shared with any worker: the state of every team
 * the configuration names is allocated now, or the zone is refused.
 * After a reload that keeps the zone, new teams get theirs on first use.
 */

static ngx_int_t
ngx_http_lfv_limit_reserve(ngx_shm_zone_t *shm_zone,
    ngx_http_lfv_limit_ctx_t *ctx)
{
    ngx_uint_t              i, n, fit, total;
    ngx_str_t              *team;
    ngx_http_lfv_policy_t  *policy;

    policy = ctx->pcf->policies.elts;
    n = ctx->pcf->policies.nelts;

    for (i = 0, total = 1; i < n; i++) {
        total += (policy[i].team.len != 0);
    }

    fit = 0;

    for (i = 0; i <= n; i++) {
        team = (i < n) ? &policy[i].team : &ngx_http_lfv_default_key;

        if (team->len == 0) {
            continue;
        }

        if (ngx_http_lfv_limit_alloc(ctx, team,
                                     ngx_crc32_short(team->data, team->len),
                                     NULL)
            == NULL)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "lfv_policy_zone \"%V\" in %s:%ui is too small "
                          "for its %ui teams: the state of only %ui fits; "
                          "make it larger",
                          &shm_zone->shm.name, ctx->file, ctx->line,
                          total, fit);
            return NGX_ERROR;
        }

        fit++;
    }

    return NGX_OK;
}


ngx_http_lfv_limit_node_t *
ngx_http_lfv_limit_lookup_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_str_t *team, ngx_log_t *log)
{
    uint32_t                    hash;
    ngx_str_node_t             *sn;
    ngx_http_lfv_limit_node_t  *node;

    hash = ngx_crc32_short(team->data, team->len);

    sn = ngx_str_rbtree_lookup(&ctx->sh->rbtree, team, hash);

    if (sn) {
        node = (ngx_http_lfv_limit_node_t *) sn;

        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&ctx->sh->queue, &node->queue);

        return node;
    }

    return ngx_http_lfv_limit_alloc(ctx, team, hash, log);
}


/*
 * When the zone is full, only the state of teams that no policy names
 * any more (a reload removed them) goes, the least recently seen first,
 * and the log says so: a configured team's spent budget never refills
 * by an eviction.  "log" is NULL while the zone is reserved.
 */

static ngx_http_lfv_limit_node_t *
ngx_http_lfv_limit_alloc(ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *team,
    uint32_t hash, ngx_log_t *log)
{
    size_t                      size;
    ngx_uint_t                  n;
    ngx_queue_t                *q, *prev;
    ngx_http_lfv_limit_node_t  *node, *old;

    size = offsetof(ngx_http_lfv_limit_node_t, data) + team->len;

    node = ngx_slab_alloc_locked(ctx->shpool, size);

    /* a bounded look from the tail: the zone's lock is held */

    for (q = ngx_queue_last(&ctx->sh->queue), n = 0;
         node == NULL && log && q != ngx_queue_sentinel(&ctx->sh->queue)
         && n < NGX_HTTP_LFV_EVICT_LOOK;
         q = prev, n++)
    {
        prev = ngx_queue_prev(q);
        old = ngx_queue_data(q, ngx_http_lfv_limit_node_t, queue);

        if (ngx_http_lfv_limit_configured(ctx, &old->sn.str) == NGX_OK) {
            continue;
        }

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "lfv: the state of team \"%V\", which no policy names "
                      "any more, is evicted for team \"%V\"%s",
                      &old->sn.str, team, ctx->shpool->log_ctx);

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ctx->sh->rbtree, &old->sn.node);
        ngx_slab_free_locked(ctx->shpool, old);

        node = ngx_slab_alloc_locked(ctx->shpool, size);
    }

    if (node == NULL) {
        if (log) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "lfv: no room for the state of team \"%V\"%s; "
                          "its requests are refused until the zone is "
                          "made larger", team, ctx->shpool->log_ctx);
        }

        return NULL;
    }

    ngx_memzero(node, offsetof(ngx_http_lfv_limit_node_t, data));
    ngx_memcpy(node->data, team->data, team->len);

    node->sn.node.key = hash;
    node->sn.str.len = team->len;
    node->sn.str.data = node->data;

    ngx_rbtree_insert(&ctx->sh->rbtree, &node->sn.node);
    ngx_queue_insert_head(&ctx->sh->queue, &node->queue);

    return node;
}


static ngx_int_t
ngx_http_lfv_limit_configured(ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *team)
{
    if (team->len == ngx_http_lfv_default_key.len
        && team->data[0] == ngx_http_lfv_default_key.data[0])
    {
        return NGX_OK;
    }

    return ngx_http_lfv_policy_find(ctx->pcf, team) ? NGX_OK : NGX_DECLINED;
}


ngx_http_lfv_reason_e
ngx_http_lfv_limit(ngx_shm_zone_t *zone, ngx_http_lfv_policy_t *policy,
    ngx_str_t *team, ngx_uint_t units, ngx_http_lfv_lease_want_t *want,
    ngx_msec_t *delay, time_t *retry_after, ngx_log_t *log)
{
    time_t                      now;
    ngx_uint_t                  over;
    ngx_msec_t                  ms_now;
    ngx_http_lfv_bucket_t       b;
    ngx_http_lfv_reason_e       reason;
    ngx_http_lfv_limit_ctx_t   *ctx;
    ngx_http_lfv_limit_node_t  *node;

    *delay = 0;
    over = 0;

    ctx = zone->data;
    ms_now = ngx_current_msec;
    now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_lfv_limit_lookup_locked(ctx, team, log);

    if (node == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NGX_HTTP_LFV_INTERNAL;
    }

    /*
     * The running units and the lease first, then the budget: refusing
     * either leaves the bucket as it was; a later refusal gives the
     * reservation back
     */

    if (want && !want->store && ngx_http_lfv_policy_guarded(policy)) {
        reason = ngx_http_lfv_lease_reserve_locked(ctx, node, policy, team,
                                                   units, want, log);

        if (reason != NGX_HTTP_LFV_OK) {
            node->rejected[reason]++;
            node->op_rejected[NGX_HTTP_LFV_OP_START - 1][reason]++;

            ngx_shmtx_unlock(&ctx->shpool->mutex);

            *retry_after = (reason == NGX_HTTP_LFV_RUNNING_UNITS) ? 60 : 1;
            return reason;
        }
    }

    /* the rate and the budget: here, or in the store (decided there) */

    b.last = node->last;
    b.excess = node->excess;
    b.window = node->window;
    b.used = node->units_used;

    reason = (want && want->store) ? NGX_HTTP_LFV_OK
             : ngx_http_lfv_limit_charge(policy, &b, units, now, ms_now,
                                         delay, retry_after, &over);

    if (reason != NGX_HTTP_LFV_OK) {
        if (want && want->pending) {
            ngx_http_lfv_lease_release_locked(ctx, want->pending, log);
            want->pending = NULL;
        }

        node->rejected[reason]++;
        node->op_rejected[NGX_HTTP_LFV_OP_START - 1][reason]++;
        node->throttled++;

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        return reason;
    }

    if (over) {
        node->throttled++;

        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "lfv: team \"%V\" over its rate, dry run", team);
    }

    node->last = b.last;
    node->excess = b.excess;
    node->window = b.window;
    node->units_used = b.used;

    ctx->sh->changes++;

    if (*delay == 0) {
        node->forwarded++;
        node->op_forwarded[NGX_HTTP_LFV_OP_START - 1]++;
        node->units_started += units;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_HTTP_LFV_OK;
}


/*
 * The budget first: refusing it leaves the bucket as it was; then the
 * leaky bucket of limit_req, in milli-requests.  "ms_now" is a clock of
 * milliseconds: the monotonic one for the zone, the wall clock for the
 * store, which several hosts share.
 */

ngx_http_lfv_reason_e
ngx_http_lfv_limit_charge(ngx_http_lfv_policy_t *policy,
    ngx_http_lfv_bucket_t *b, ngx_uint_t units, time_t now, ngx_msec_t ms_now,
    ngx_msec_t *delay, time_t *retry_after, ngx_uint_t *over)
{
    time_t          window;
    ngx_int_t       excess;
    ngx_msec_int_t  ms;

    *delay = 0;
    *over = 0;

    if (policy->budget) {
        window = now - now % policy->window;

        /* windows only move forward: a clock stepped back refills none */

        if (window > b->window) {
            b->window = window;
            b->used = 0;

        } else {
            window = b->window;
        }

        if (b->used + units > policy->budget) {
            *retry_after = ngx_max(window + policy->window - now, 1);
            return NGX_HTTP_LFV_BUDGET;
        }
    }

    if (policy->rate) {
        ms = (ngx_msec_int_t) (ms_now - b->last);

        if (ms < -60000) {
            ms = 1;

        } else if (ms < 0) {
            ms = 0;
        }

        /* a new bucket has "last" 0: it is empty */

        ms = ngx_min(ms, 3600000);

        excess = b->excess - policy->rate * ms / 1000 + 1000;

        if (excess < 0) {
            excess = 0;
        }

        if ((ngx_uint_t) excess > policy->burst) {

            if (!policy->dry_run) {
                *retry_after = ((excess - policy->burst) * 1000
                                / policy->rate + 999) / 1000;
                *retry_after = ngx_max(*retry_after, 1);

                return NGX_HTTP_LFV_RATE;
            }

            *over = 1;

        } else {
            b->excess = excess;

            if (ms) {
                b->last = ms_now;
            }

            if ((ngx_uint_t) excess > policy->delay && !policy->dry_run) {
                *delay = (excess - policy->delay) * 1000 / policy->rate;
            }
        }
    }

    if (policy->budget) {
        b->used += units;
    }

    return NGX_HTTP_LFV_OK;
}


void
ngx_http_lfv_limit_account(ngx_shm_zone_t *zone, ngx_str_t *team,
    ngx_http_lfv_op_e op, ngx_http_lfv_reason_e reason, ngx_uint_t units,
    ngx_uint_t forwarded)
{
    ngx_uint_t                  o, start;
    ngx_http_lfv_limit_ctx_t   *ctx;
    ngx_http_lfv_limit_node_t  *node;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_lfv_limit_lookup_locked(ctx, team, ngx_cycle->log);

    /* "forwarded" and the units count starts; each operation its own */

    o = (op > NGX_HTTP_LFV_OP_NONE && op < NGX_HTTP_LFV_OP_LAST) ? op : 0;
    start = (op == NGX_HTTP_LFV_OP_START);

    if (node) {
        if (forwarded && start && node->forwarded) {
            node->forwarded--;
            node->units_started -= ngx_min(units, node->units_started);
        }

        if (forwarded && o && node->op_forwarded[o - 1]) {
            node->op_forwarded[o - 1]--;
        }

        if (reason == NGX_HTTP_LFV_FORWARDED) {
            if (start) {
                node->forwarded++;
                node->units_started += units;
            }

            if (o) {
                node->op_forwarded[o - 1]++;
            }

        } else if (reason < NGX_HTTP_LFV_REASON_LAST) {
            node->rejected[reason]++;

            if (o) {
                node->op_rejected[o - 1][reason]++;
            }

            if (reason == NGX_HTTP_LFV_RATE || reason == NGX_HTTP_LFV_BUDGET) {
                node->throttled++;
            }
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


ngx_array_t *
ngx_http_lfv_limit_snapshot(ngx_shm_zone_t *zone, ngx_pool_t *pool)
{
    ngx_queue_t                *q;
    ngx_array_t                *a;
    ngx_http_lfv_limit_ctx_t   *ctx;
    ngx_http_lfv_limit_stat_t  *st;
    ngx_http_lfv_limit_node_t  *node;

    ctx = zone->data;

    a = ngx_array_create(pool, 16, sizeof(ngx_http_lfv_limit_stat_t));
    if (a == NULL) {
        return NULL;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (q = ngx_queue_head(&ctx->sh->queue);
         q != ngx_queue_sentinel(&ctx->sh->queue);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_lfv_limit_node_t, queue);

        st = ngx_array_push(a);
        if (st == NULL) {
            break;
        }

        st->team.len = node->sn.str.len;
        st->team.data = ngx_pnalloc(pool, node->sn.str.len);
        if (st->team.data == NULL) {
            break;
        }

        ngx_memcpy(st->team.data, node->sn.str.data, node->sn.str.len);

        st->forwarded = node->forwarded;
        st->throttled = node->throttled;
        st->units_started = node->units_started;
        ngx_memcpy(st->rejected, node->rejected, sizeof(st->rejected));
        ngx_memcpy(st->op_forwarded, node->op_forwarded,
                   sizeof(st->op_forwarded));
        ngx_memcpy(st->op_rejected, node->op_rejected,
                   sizeof(st->op_rejected));
        st->running = node->running;
        st->reserved = node->reserved;
        st->leases = node->leases;
        ngx_memcpy(st->guard, node->guard, sizeof(st->guard));
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (q != ngx_queue_sentinel(&ctx->sh->queue)) {
        return NULL;
    }

    return a;
}
