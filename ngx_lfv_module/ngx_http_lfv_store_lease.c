
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_store.h"
#include "ngx_http_lfv_store_lease.h"


/* worker 0 looks for due leases this often, and more at once when full */
#define NGX_HTTP_LFV_STORE_LEASE_LOOK  5


/* worker 0's Query of the index, then a claim of each lease it found */

typedef struct {
    ngx_http_lfv_store_io_t     io;
    ngx_http_lfv_sweeper_t     *sw;
    ngx_uint_t                  limit;
} ngx_http_lfv_store_look_t;


typedef struct {
    ngx_http_lfv_store_io_t     io;
    ngx_http_lfv_sweeper_t     *sw;
    ngx_http_lfv_sweep_lease_t  lease;
} ngx_http_lfv_store_claim_t;


static void ngx_http_lfv_store_lease_looked(ngx_http_lfv_fetch_t *f);
static void ngx_http_lfv_store_lease_claim_send(ngx_http_lfv_sweeper_t *sw,
    ngx_http_lfv_store_lease_t *l);
static void ngx_http_lfv_store_lease_claimed(ngx_http_lfv_fetch_t *f);


static u_char     ngx_http_lfv_store_owner_buf[NGX_HTTP_LFV_STORE_OWNER_MAX];
static ngx_str_t  ngx_http_lfv_store_owner_name;
static ngx_pid_t  ngx_http_lfv_store_owner_pid;


/* the host's name and the pid: unique among the proxies of a table */

ngx_str_t *
ngx_http_lfv_store_owner(void)
{
    if (ngx_http_lfv_store_owner_pid != ngx_pid) {
        ngx_http_lfv_store_owner_name.data = ngx_http_lfv_store_owner_buf;
        ngx_http_lfv_store_owner_name.len =
            ngx_snprintf(ngx_http_lfv_store_owner_buf,
                         NGX_HTTP_LFV_STORE_OWNER_MAX, "%V/%P",
                         &ngx_cycle->hostname, ngx_pid)
            - ngx_http_lfv_store_owner_buf;

        ngx_http_lfv_store_owner_pid = ngx_pid;
    }

    return &ngx_http_lfv_store_owner_name;
}


/* worker 0, each tick: the leases due in any proxy, a page at a time */

void
ngx_http_lfv_store_lease_sweep(ngx_http_lfv_sweeper_t *sw)
{
    time_t                      now;
    ngx_int_t                   rc;
    ngx_http_lfv_ddb_item_t     values;
    ngx_http_lfv_ddb_request_t  req;
    ngx_http_lfv_store_look_t  *look;

    static ngx_http_lfv_ddb_name_t  names[] = {
        { ngx_string("#due"), ngx_string("due") },
    };

    now = ngx_time();

    if (sw->looking || now < sw->look_at
        || sw->calls >= NGX_HTTP_LFV_SWEEP_CALLS)
    {
        return;
    }

    look = ngx_calloc(sizeof(ngx_http_lfv_store_look_t), &sw->log);
    if (look == NULL) {
        return;
    }

    look->sw = sw;
    look->limit = NGX_HTTP_LFV_SWEEP_CALLS - sw->calls;

    ngx_memzero(&req, sizeof(ngx_http_lfv_ddb_request_t));
    ngx_memzero(&values, sizeof(ngx_http_lfv_ddb_item_t));

    req.op = NGX_HTTP_LFV_DDB_QUERY;
    req.table = sw->lmcf->store.table;
    ngx_str_set(&req.index, NGX_HTTP_LFV_STORE_LEASE_INDEX);
    ngx_str_set(&req.key_condition, "gpk = :gpk AND #due <= :now");
    req.names = names;
    req.nnames = 1;
    req.values = &values;
    req.limit = look->limit;

    values.nattrs = 2;
    ngx_str_set(&values.attrs[0].name, ":gpk");
    values.attrs[0].type = NGX_HTTP_LFV_DDB_S;
    ngx_str_set(&values.attrs[0].s, NGX_HTTP_LFV_STORE_LEASE_GPK);
    ngx_str_set(&values.attrs[1].name, ":now");
    values.attrs[1].type = NGX_HTTP_LFV_DDB_N;
    values.attrs[1].n = now;

    /* the answer may come at once, within the send */

    sw->looking = 1;

    rc = ngx_http_lfv_store_send(&look->io, sw->lmcf, &req, &sw->log,
                                 ngx_http_lfv_store_lease_looked, look);

    if (rc != NGX_OK) {
        ngx_free(look);
        sw->looking = 0;
        sw->look_at = now + NGX_HTTP_LFV_STORE_LEASE_LOOK;
    }
}


static void
ngx_http_lfv_store_lease_looked(ngx_http_lfv_fetch_t *f)
{
    char                        *err;
    ngx_uint_t                   i;
    ngx_http_lfv_sweeper_t      *sw;
    ngx_http_lfv_ddb_query_t     q;
    ngx_http_lfv_store_look_t   *look;
    ngx_http_lfv_store_lease_t   l;

    look = f->data;
    sw = look->sw;

    sw->looking = 0;
    sw->look_at = ngx_time() + NGX_HTTP_LFV_STORE_LEASE_LOOK;

    if (ngx_http_lfv_store_result(&look->io, "looking for due leases")
        != NGX_HTTP_LFV_STORE_DONE)
    {
        goto done;
    }

    ngx_memzero(&q, sizeof(ngx_http_lfv_ddb_query_t));

    q.max = look->limit;
    q.items = ngx_palloc(f->pool, q.max * sizeof(ngx_http_lfv_ddb_item_t));
    if (q.items == NULL) {
        goto done;
    }

    if (ngx_http_lfv_ddb_parse_query(f->resp.body.data, f->resp.body.len, &q,
                                     &err)
        != NGX_OK)
    {
        ngx_http_lfv_store_refused(&look->io, "looking for due leases", err);
        goto done;
    }

    for (i = 0; i < q.nitems; i++) {
        if (ngx_http_lfv_store_lease_parse(&q.items[i], &l, &err) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, &sw->log, 0,
                          "lfv: a lease item of the store is not one: %s",
                          err);
            continue;
        }

        ngx_http_lfv_store_lease_claim_send(sw, &l);
    }

    /* a full page: there may be more due, looked at on the next tick */

    if (q.more || q.nitems == look->limit) {
        sw->look_at = 0;
    }

done:

    ngx_http_lfv_store_close(&look->io);
    ngx_free(look);
}


static void
ngx_http_lfv_store_lease_claim_send(ngx_http_lfv_sweeper_t *sw,
    ngx_http_lfv_store_lease_t *l)
{
    u_char                          *p;
    time_t                           now;
    ngx_http_lfv_store_claim_t      *c;
    ngx_http_lfv_sweep_lease_t      *cl;
    ngx_http_lfv_store_lease_req_t   r;

    now = ngx_time();

    if (ngx_http_lfv_store_lease_claim(&r, &sw->lmcf->store.table, l, now,
                                       sw->lmcf->store.claim,
                                       ngx_http_lfv_store_owner())
        != NGX_OK)
    {
        return;
    }

    c = ngx_calloc(sizeof(ngx_http_lfv_store_claim_t), &sw->log);
    if (c == NULL) {
        return;
    }

    c->sw = sw;

    /* the call it makes when the claim is won */

    cl = &c->lease;

    cl->stored = 1;
    cl->pending = l->pending;
    cl->alerted = l->alerted;
    cl->units = l->units;
    cl->attempt = l->attempts + 1;
    cl->started = l->started;
    cl->ends = l->ends;

    cl->action = (!l->pending && l->ends && now >= l->ends)
                 ? NGX_HTTP_LFV_SWEEP_STOP : NGX_HTTP_LFV_SWEEP_DESCRIBE;

    p = ngx_cpymem(cl->data, l->key.data, l->key.len);
    p = ngx_cpymem(p, l->team.data, l->team.len);
    (void) ngx_cpymem(p, l->region.data, l->region.len);

    cl->key.len = l->key.len;
    cl->host.len = ngx_strlchr(l->key.data, l->key.data + l->key.len, '/')
                   - l->key.data;
    cl->project.len = ngx_strlchr(l->key.data + cl->host.len + 1,
                                  l->key.data + l->key.len, '/')
                      - (l->key.data + cl->host.len + 1);
    cl->version.len = l->key.len - cl->host.len - cl->project.len - 2;
    cl->team.len = l->team.len;
    cl->region.len = l->region.len;

    ngx_http_lfv_sweep_point(cl);

    sw->calls++;

    if (ngx_http_lfv_store_send(&c->io, sw->lmcf, &r.req, &sw->log,
                                ngx_http_lfv_store_lease_claimed, c)
        != NGX_OK)
    {
        sw->calls--;
        ngx_free(c);
    }
}


static void
ngx_http_lfv_store_lease_claimed(ngx_http_lfv_fetch_t *f)
{
    ngx_http_lfv_sweeper_t      *sw;
    ngx_http_lfv_store_rc_e      rc;
    ngx_http_lfv_store_claim_t  *c;

    c = f->data;
    sw = c->sw;

    sw->calls--;

    rc = ngx_http_lfv_store_result(&c->io, "claiming a lease");

    ngx_http_lfv_store_close(&c->io);

    if (rc == NGX_HTTP_LFV_STORE_DONE) {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, &sw->log, 0,
                       "lfv: the lease of model \"%V\" of team \"%V\" "
                       "claimed", &c->lease.key, &c->lease.team);

        ngx_http_lfv_sweep_start(sw, &c->lease);

    } else if (rc == NGX_HTTP_LFV_STORE_CONDITION) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, &sw->log, 0,
                       "lfv: the lease of model \"%V\" was claimed by "
                       "another proxy", &c->lease.key);
    }

    ngx_free(c);
}


/* what came of a claimed call, in the item: its owner's last write */

void
ngx_http_lfv_store_lease_swept(ngx_http_lfv_sweeper_t *sw,
    ngx_http_lfv_sweep_lease_t *cl, ngx_http_lfv_swept_e swept,
    ngx_uint_t *overdue)
{
    time_t                           now, reconcile;
    ngx_int_t                        rc;
    ngx_http_lfv_store_lease_t       l;
    ngx_http_lfv_store_lease_req_t   r;

    now = ngx_time();
    reconcile = sw->lmcf->lease.reconcile;

    ngx_memzero(&l, sizeof(ngx_http_lfv_store_lease_t));

    l.team = cl->team;
    l.key = cl->key;
    l.ends = cl->ends;
    l.alerted = cl->alerted;
    l.attempts = cl->attempt - 1;

    switch (swept) {

    case NGX_HTTP_LFV_SWEPT_ENDED:
        rc = ngx_http_lfv_store_lease_delete(&r, &sw->lmcf->store.table,
                                             &l.team, &l.key,
                                             NGX_HTTP_LFV_STORE_LEASE_CLAIMED,
                                             ngx_http_lfv_store_owner());
        break;

    case NGX_HTTP_LFV_SWEPT_FAILED:
        l.attempts = cl->attempt;
        l.due = now + ngx_http_lfv_sweep_backoff(l.attempts);

        if (now >= l.ends + sw->lmcf->lease.retry) {
            if (!l.alerted) {
                l.alerted = 1;
                *overdue = 1;
            }

            /* past the window: tried on, at the reconciling pace */

            l.due = now + reconcile;
        }

        rc = ngx_http_lfv_store_lease_update(&r, &sw->lmcf->store.table, &l,
                                             ngx_http_lfv_store_owner());
        break;

    default: /* NGX_HTTP_LFV_SWEPT_CHECKED */

        /* hosted: asked again in a while, stopped when its lease ends */

        l.due = (l.ends == 0) ? now + reconcile
                : (l.ends > now) ? ngx_min(l.ends, now + reconcile)
                : now;

        rc = ngx_http_lfv_store_lease_update(&r, &sw->lmcf->store.table, &l,
                                             ngx_http_lfv_store_owner());
        break;
    }

    if (rc == NGX_OK) {
        ngx_http_lfv_store_write(sw->lmcf, &r.req, "the lease after a call",
                                 &sw->log);
    }
}
