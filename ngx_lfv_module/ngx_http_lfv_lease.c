
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_lease.h"


static ngx_int_t ngx_http_lfv_lease_header_filter(ngx_http_request_t *r);
static void ngx_http_lfv_lease_settle(ngx_http_request_t *r,
    ngx_http_lfv_audit_t *audit, ngx_uint_t accepted);
static void ngx_http_lfv_lease_stopped(ngx_http_request_t *r,
    ngx_http_lfv_main_conf_t *lmcf, ngx_http_lfv_audit_t *audit);
static ngx_int_t ngx_http_lfv_lease_header(ngx_http_request_t *r,
    time_t ends);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


/* what came of the leases, by ngx_http_lfv_guard_e: status page, audit */

ngx_str_t  ngx_http_lfv_guard_names[] = {
    ngx_string("stopped"),
    ngx_string("not_hosted"),
    ngx_string("failed"),
    ngx_string("overdue"),
    ngx_string("reconciled"),
    ngx_string("check_failed"),
    ngx_string("stopped_by_client"),
};


char *
ngx_http_lfv_lease_init_conf(ngx_conf_t *cf, ngx_http_lfv_lease_conf_t *lcf,
    ngx_str_t *ca)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (ca->len == 0) {
        ngx_str_set(ca, "/etc/ssl/certs/ca-certificates.crt");
    }

    ngx_conf_init_value(lcf->reconcile, 300);
    ngx_conf_init_value(lcf->retry, 900);

    if (!lcf->enabled) {
        return NGX_CONF_OK;
    }

    lcf->timeout = 10000;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    lcf->resolver = clcf->resolver;

    if (lcf->resolver && lcf->resolver->connections.nelts == 0) {
        lcf->resolver = NULL;
    }

    lcf->resolver_timeout = (clcf->resolver_timeout == NGX_CONF_UNSET_MSEC)
                            ? 30000 : clcf->resolver_timeout;

    if (lcf->endpoint_url.len) {
        return ngx_http_lfv_endpoint_init(cf, &lcf->endpoint,
                                          &lcf->endpoint_url,
                                          "lfv_lease_endpoint", ca,
                                          lcf->resolver,
                                          lcf->resolver_timeout);
    }

    /* each lease's own host, as the start was signed for it */

    if (lcf->resolver == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the cost guard of \"lfv_policy\" in %s:%ui stops "
                      "models itself: it needs a \"resolver\" in the http "
                      "block, or \"lfv_lease_endpoint\"",
                      lcf->file, lcf->line);
        return NGX_CONF_ERROR;
    }

    lcf->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (lcf->ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_fetch_ssl_init(cf, lcf->ssl, ca) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* before the envelope's filter, which puts the lease's end in "data" */

ngx_int_t
ngx_http_lfv_lease_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_lfv_lease_header_filter;

    return NGX_OK;
}


/*
 * The answer to a forwarded start or stop: AWS's own (not nginx's 502
 * or 504) decides whether the reservation becomes a lease, or a lease
 * ends.  A request that ends without an answer gives its reservation
 * back in ngx_http_lfv_lease_cleanup().
 */

static ngx_int_t
ngx_http_lfv_lease_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                 answered, accepted;
    ngx_http_upstream_t       *u;
    ngx_http_lfv_audit_t      *audit;
    ngx_http_lfv_main_conf_t  *lmcf;

    if (r != r->main || r->headers_out.status < NGX_HTTP_OK) {
        return ngx_http_next_header_filter(r);
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);

    /* a stop ends a lease also after a reload took the guard away */

    if (lmcf->policy.zone == NULL) {
        return ngx_http_next_header_filter(r);
    }

    audit = ngx_http_lfv_get_audit(r);

    if (audit == NULL || !ngx_http_lfv_forwarded(audit)) {
        return ngx_http_next_header_filter(r);
    }

    u = r->upstream;

    answered = (u && u->headers_in.status_n == r->headers_out.status);
    accepted = (answered
                && r->headers_out.status < NGX_HTTP_SPECIAL_RESPONSE);

    if (audit->operation == NGX_HTTP_LFV_OP_START && audit->store) {
        audit->lease_ends = ngx_http_lfv_store_settle(audit->store, answered,
                                                      accepted,
                                                      r->connection->log);
        audit->store = NULL;

        if (audit->lease_ends
            && ngx_http_lfv_lease_header(r, audit->lease_ends) != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (audit->operation == NGX_HTTP_LFV_OP_START && audit->lease) {
        ngx_http_lfv_lease_settle(r, audit, accepted);

        if (audit->lease_ends
            && ngx_http_lfv_lease_header(r, audit->lease_ends) != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (audit->operation == NGX_HTTP_LFV_OP_STOP && accepted) {
        ngx_http_lfv_lease_stopped(r, lmcf, audit);
    }

    return ngx_http_next_header_filter(r);
}


static void
ngx_http_lfv_lease_settle(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit,
    ngx_uint_t accepted)
{
    time_t                      now;
    ngx_http_lfv_lease_t       *lease;
    ngx_http_lfv_limit_ctx_t   *ctx;

    ctx = audit->lease_zone->data;
    lease = audit->lease;
    audit->lease = NULL;

    if (!accepted) {
        ngx_http_lfv_lease_release(audit->lease_zone, lease);
        return;
    }

    now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    lease->started = now;
    lease->checked = now;
    lease->ends = audit->policy->lease ? now + audit->policy->lease : 0;

    if (ngx_http_lfv_lease_insert_locked(ctx, lease, r->connection->log)
        == NGX_OK)
    {
        audit->lease_ends = lease->ends;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (audit->lease_ends) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "lfv: lease of model \"%V/%V\" for team \"%V\", "
                      "%ui units, ends in %T s",
                      &audit->project, &audit->version, &audit->key,
                      ngx_http_lfv_units(audit), audit->policy->lease);
    }
}


/* a StopModel through the proxy that AWS accepted ends the lease */

static void
ngx_http_lfv_lease_stopped(ngx_http_request_t *r,
    ngx_http_lfv_main_conf_t *lmcf, ngx_http_lfv_audit_t *audit)
{
    ngx_str_t                   key;
    ngx_http_lfv_lease_t       *lease;
    ngx_http_lfv_loc_conf_t    *llcf;
    ngx_http_lfv_limit_ctx_t   *ctx;
    ngx_http_lfv_limit_node_t  *node;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    key.len = llcf->endpoint.len + 1 + audit->project.len + 1
              + audit->version.len;
    key.data = ngx_pnalloc(r->pool, key.len);
    if (key.data == NULL) {
        return;
    }

    (void) ngx_sprintf(key.data, "%V/%V/%V", &llcf->endpoint,
                       &audit->project, &audit->version);

    /* the store's lease, whichever proxy started it, and a local one */

    if (lmcf->store.enabled) {
        ngx_http_lfv_store_stopped(lmcf, &audit->key, &key,
                                   r->connection->log);
    }

    ctx = lmcf->policy.zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    lease = ngx_http_lfv_lease_find_locked(ctx, &key);

    if (lease) {
        key.data = ngx_http_lfv_lease_team(lease);
        key.len = lease->team_len;

        node = ngx_http_lfv_limit_lookup_locked(ctx, &key, r->connection->log);
        if (node) {
            node->guard[NGX_HTTP_LFV_GUARD_STOPPED_BY_CLIENT]++;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "lfv: lease of model \"%V/%V\" ended by StopModel",
                      &audit->project, &audit->version);

        ngx_http_lfv_lease_end_locked(ctx, lease);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


static ngx_int_t
ngx_http_lfv_lease_header(ngx_http_request_t *r, time_t ends)
{
    ngx_tm_t          tm;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, sizeof("1970-01-01T00:00:00Z") - 1);
    if (h->value.data == NULL) {
        h->hash = 0;
        return NGX_ERROR;
    }

    ngx_gmtime(ends, &tm);

    h->value.len = ngx_sprintf(h->value.data,
                               "%4d-%02d-%02dT%02d:%02d:%02dZ",
                               tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                               tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec)
                   - h->value.data;

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "X-Lfv-Lease-Ends");

    return NGX_OK;
}


ngx_http_lfv_reason_e
ngx_http_lfv_lease_reserve_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_http_lfv_limit_node_t *node, ngx_http_lfv_policy_t *policy,
    ngx_str_t *team, ngx_uint_t units, ngx_http_lfv_lease_want_t *want,
    ngx_log_t *log)
{
    ngx_http_lfv_lease_t  *lease;

    if (policy->running_units
        && node->running + node->reserved + units > policy->running_units)
    {
        return NGX_HTTP_LFV_RUNNING_UNITS;
    }

    lease = ngx_http_lfv_lease_alloc_locked(ctx, &want->host, &want->project,
                                            &want->version, team,
                                            &want->region);
    if (lease == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "lfv: no room for the lease of a start of team "
                      "\"%V\"%s: starts of leased teams are refused until "
                      "a lease ends or the zone is made larger", team,
                      ctx->shpool->log_ctx);
        return NGX_HTTP_LFV_LEASE_ROOM;
    }

    lease->pending = 1;
    lease->owner = ngx_pid;
    lease->claimed = ngx_time();
    lease->units = units;

    node->reserved += units;

    want->pending = lease;

    return NGX_HTTP_LFV_OK;
}


void
ngx_http_lfv_lease_release(ngx_shm_zone_t *zone, ngx_http_lfv_lease_t *lease)
{
    ngx_http_lfv_limit_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    ngx_http_lfv_lease_release_locked(ctx, lease, ngx_cycle->log);
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


void
ngx_http_lfv_lease_release_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_http_lfv_lease_t *lease, ngx_log_t *log)
{
    ngx_str_t                   team;
    ngx_http_lfv_limit_node_t  *node;

    team.data = ngx_http_lfv_lease_team(lease);
    team.len = lease->team_len;

    node = ngx_http_lfv_limit_lookup_locked(ctx, &team, log);

    if (node) {
        node->reserved -= ngx_min(node->reserved, lease->units);
    }

    ngx_queue_remove(&lease->queue);
    ngx_slab_free_locked(ctx->shpool, lease);
}


ngx_http_lfv_lease_t *
ngx_http_lfv_lease_alloc_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_str_t *host, ngx_str_t *project, ngx_str_t *version, ngx_str_t *team,
    ngx_str_t *region)
{
    size_t                 key_len;
    ngx_http_lfv_lease_t  *lease;

    key_len = host->len + 1 + project->len + 1 + version->len;

    lease = ngx_slab_alloc_locked(ctx->shpool,
                                  offsetof(ngx_http_lfv_lease_t, data)
                                  + key_len + team->len + region->len);
    if (lease == NULL) {
        return NULL;
    }

    ngx_memzero(lease, offsetof(ngx_http_lfv_lease_t, data));

    (void) ngx_sprintf(lease->data, "%V/%V/%V%V%V", host, project, version,
                       team, region);

    lease->key_len = key_len;
    lease->host_len = host->len;
    lease->project_len = project->len;
    lease->version_len = version->len;
    lease->team_len = team->len;
    lease->region_len = region->len;

    lease->sn.str.data = lease->data;
    lease->sn.str.len = key_len;
    lease->sn.node.key = ngx_crc32_short(lease->data, key_len);

    lease->id = ++ctx->sh->lease_id;

    ngx_queue_insert_tail(&ctx->sh->lease_queue, &lease->queue);

    return lease;
}


/* a new lease of a model replaces an older one of the same model */

ngx_int_t
ngx_http_lfv_lease_insert_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_http_lfv_lease_t *lease, ngx_log_t *log)
{
    ngx_str_t                   team;
    ngx_http_lfv_lease_t       *old;
    ngx_http_lfv_limit_node_t  *node;

    old = ngx_http_lfv_lease_find_locked(ctx, &lease->sn.str);

    if (old) {
        ngx_http_lfv_lease_end_locked(ctx, old);
    }

    team.data = ngx_http_lfv_lease_team(lease);
    team.len = lease->team_len;

    node = ngx_http_lfv_limit_lookup_locked(ctx, &team, log);

    if (node) {
        if (lease->pending) {
            node->reserved -= ngx_min(node->reserved, lease->units);
        }

        node->running += lease->units;
        node->leases++;
    }

    lease->pending = 0;
    lease->owner = 0;
    lease->claimed = 0;

    ngx_rbtree_insert(&ctx->sh->leases, &lease->sn.node);

    ctx->sh->nleases++;
    ctx->sh->changes++;
    ctx->sh->sweep_at = 0;

    return NGX_OK;
}


void
ngx_http_lfv_lease_end_locked(ngx_http_lfv_limit_ctx_t *ctx,
    ngx_http_lfv_lease_t *lease)
{
    ngx_str_t                   team;
    ngx_http_lfv_limit_node_t  *node;

    if (lease->pending) {
        ngx_http_lfv_lease_release_locked(ctx, lease, ngx_cycle->log);
        return;
    }

    team.data = ngx_http_lfv_lease_team(lease);
    team.len = lease->team_len;

    node = ngx_http_lfv_limit_lookup_locked(ctx, &team, ngx_cycle->log);

    if (node) {
        node->running -= ngx_min(node->running, lease->units);
        node->leases -= (node->leases > 0);
    }

    ngx_rbtree_delete(&ctx->sh->leases, &lease->sn.node);
    ngx_queue_remove(&lease->queue);

    ctx->sh->nleases--;
    ctx->sh->changes++;

    ngx_slab_free_locked(ctx->shpool, lease);
}


ngx_http_lfv_lease_t *
ngx_http_lfv_lease_find_locked(ngx_http_lfv_limit_ctx_t *ctx, ngx_str_t *key)
{
    return (ngx_http_lfv_lease_t *)
               ngx_str_rbtree_lookup(&ctx->sh->leases, key,
                                     ngx_crc32_short(key->data, key->len));
}


ngx_array_t *
ngx_http_lfv_lease_snapshot(ngx_shm_zone_t *zone, ngx_pool_t *pool)
{
    u_char                     *p;
    time_t                      now;
    ngx_queue_t                *q;
    ngx_array_t                *a;
    ngx_http_lfv_lease_t       *lease;
    ngx_http_lfv_limit_ctx_t   *ctx;
    ngx_http_lfv_lease_stat_t  *st;

    ctx = zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    a = ngx_array_create(pool, ngx_max(ctx->sh->nleases, 1) + 16,
                         sizeof(ngx_http_lfv_lease_stat_t));
    if (a == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NULL;
    }

    for (q = ngx_queue_head(&ctx->sh->lease_queue);
         q != ngx_queue_sentinel(&ctx->sh->lease_queue);
         q = ngx_queue_next(q))
    {
        lease = ngx_queue_data(q, ngx_http_lfv_lease_t, queue);

        st = ngx_array_push(a);
        p = (st == NULL) ? NULL
                         : ngx_pnalloc(pool, lease->key_len + lease->team_len);
        if (p == NULL) {
            break;
        }

        ngx_memcpy(p, lease->data, lease->key_len + lease->team_len);

        st->project.data = p + lease->host_len + 1;
        st->project.len = lease->project_len;
        st->version.data = st->project.data + lease->project_len + 1;
        st->version.len = lease->version_len;
        st->team.data = p + lease->key_len;
        st->team.len = lease->team_len;

        st->units = lease->units;
        st->started = lease->started;
        st->ends = lease->ends;
        st->attempts = lease->attempts;

        st->state = lease->pending ? NGX_HTTP_LFV_LEASE_STARTING
                    : lease->alerted ? NGX_HTTP_LFV_LEASE_OVERDUE
                    : (lease->ends && lease->ends <= now)
                      ? NGX_HTTP_LFV_LEASE_STOPPING
                      : NGX_HTTP_LFV_LEASE_RUNNING;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (q != ngx_queue_sentinel(&ctx->sh->lease_queue)) {
        return NULL;
    }

    return a;
}
