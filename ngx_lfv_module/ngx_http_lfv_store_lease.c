
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
static ngx_int_t ngx_http_lfv_store_lease_key(
    ngx_http_lfv_store_lease_req_t *r, ngx_http_lfv_ddb_op_e op,
    ngx_str_t *table, ngx_str_t *team, ngx_str_t *key);
static void ngx_http_lfv_store_lease_value(ngx_http_lfv_ddb_item_t *item,
    char *name, ngx_http_lfv_ddb_type_e type, int64_t n, ngx_str_t *s);


static u_char     ngx_http_lfv_store_owner_buf[NGX_HTTP_LFV_STORE_OWNER_MAX];
static ngx_str_t  ngx_http_lfv_store_owner_name;
static ngx_pid_t  ngx_http_lfv_store_owner_pid;


/* the names each request uses, as DynamoDB wants: every one of them */

static ngx_http_lfv_ddb_name_t  ngx_http_lfv_store_lease_names[] = {
    { ngx_string("#owner"), ngx_string("owner") },
    { ngx_string("#pending"), ngx_string("pending") },
    { ngx_string("#due"), ngx_string("due") },
    { ngx_string("#claimed"), ngx_string("claimed") },
    { ngx_string("#attempts"), ngx_string("attempts") },
    { ngx_string("#alerted"), ngx_string("alerted") },
};


static ngx_http_lfv_ddb_name_t  ngx_http_lfv_store_claim_names[] = {
    { ngx_string("#due"), ngx_string("due") },
    { ngx_string("#owner"), ngx_string("owner") },
    { ngx_string("#claimed"), ngx_string("claimed") },
};


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


ngx_str_t *
ngx_http_lfv_store_lease_sk(ngx_str_t *key, u_char *buf, ngx_str_t *sk)
{
    sk->data = buf;
    sk->len = ngx_sprintf(buf, "model#%V", key) - buf;

    return sk;
}


static ngx_int_t
ngx_http_lfv_store_lease_key(ngx_http_lfv_store_lease_req_t *r,
    ngx_http_lfv_ddb_op_e op, ngx_str_t *table, ngx_str_t *team,
    ngx_str_t *key)
{
    if (team->len > NGX_HTTP_LFV_STATE_TEAM_MAX
        || key->len > NGX_HTTP_LFV_STORE_KEY_MAX)
    {
        return NGX_ERROR;
    }

    ngx_memzero(r, offsetof(ngx_http_lfv_store_lease_req_t, pk));

    r->req.op = op;
    r->req.table = *table;
    r->req.pk.data = r->pk;
    r->req.pk.len = ngx_sprintf(r->pk, "team#%V", team) - r->pk;

    (void) ngx_http_lfv_store_lease_sk(key, r->sk, &r->req.sk);

    return NGX_OK;
}


static void
ngx_http_lfv_store_lease_value(ngx_http_lfv_ddb_item_t *item, char *name,
    ngx_http_lfv_ddb_type_e type, int64_t n, ngx_str_t *s)
{
    ngx_http_lfv_ddb_attr_t  *a;

    a = &item->attrs[item->nattrs++];

    a->name.data = (u_char *) name;
    a->name.len = ngx_strlen(name);
    a->type = type;
    a->n = n;

    if (s) {
        a->s = *s;
    }
}


/* the whole item: a start's (fresh, pending) or its commit */

ngx_int_t
ngx_http_lfv_store_lease_put(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_http_lfv_store_lease_t *l, ngx_uint_t fresh)
{
    ngx_str_t                 gpk;
    ngx_http_lfv_ddb_item_t  *it;

    if (ngx_http_lfv_store_lease_key(r, NGX_HTTP_LFV_DDB_PUT_ITEM, table,
                                     &l->team, &l->key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&gpk, NGX_HTTP_LFV_STORE_LEASE_GPK);

    it = &r->item;

    ngx_http_lfv_store_lease_value(it, "gpk", NGX_HTTP_LFV_DDB_S, 0, &gpk);
    ngx_http_lfv_store_lease_value(it, "due", NGX_HTTP_LFV_DDB_N, l->due,
                                   NULL);
    ngx_http_lfv_store_lease_value(it, "region", NGX_HTTP_LFV_DDB_S, 0,
                                   &l->region);
    ngx_http_lfv_store_lease_value(it, "units", NGX_HTTP_LFV_DDB_N, l->units,
                                   NULL);
    ngx_http_lfv_store_lease_value(it, "started", NGX_HTTP_LFV_DDB_N,
                                   l->started, NULL);
    ngx_http_lfv_store_lease_value(it, "ends", NGX_HTTP_LFV_DDB_N, l->ends,
                                   NULL);
    ngx_http_lfv_store_lease_value(it, "attempts", NGX_HTTP_LFV_DDB_N,
                                   l->attempts, NULL);
    ngx_http_lfv_store_lease_value(it, "alerted", NGX_HTTP_LFV_DDB_N,
                                   l->alerted, NULL);
    ngx_http_lfv_store_lease_value(it, "pending", NGX_HTTP_LFV_DDB_N,
                                   l->pending, NULL);
    ngx_http_lfv_store_lease_value(it, "owner", NGX_HTTP_LFV_DDB_S, 0,
                                   &l->owner);
    ngx_http_lfv_store_lease_value(it, "claimed", NGX_HTTP_LFV_DDB_N,
                                   l->claimed, NULL);
    ngx_http_lfv_store_lease_value(it, "nonce", NGX_HTTP_LFV_DDB_S, 0,
                                   &l->nonce);

    r->req.item = it;

    if (fresh) {
        ngx_str_set(&r->req.condition, "attribute_not_exists(pk)");
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_store_lease_delete(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_str_t *team, ngx_str_t *key, ngx_uint_t how)
{
    if (ngx_http_lfv_store_lease_key(r, NGX_HTTP_LFV_DDB_DELETE_ITEM, table,
                                     team, key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (how == NGX_HTTP_LFV_STORE_LEASE_ANY) {
        return NGX_OK;
    }

    r->req.names = ngx_http_lfv_store_lease_names;
    r->req.nnames = 1;
    r->req.values = &r->values;

    ngx_http_lfv_store_lease_value(&r->values, ":me", NGX_HTTP_LFV_DDB_S, 0,
                                   ngx_http_lfv_store_owner());

    if (how == NGX_HTTP_LFV_STORE_LEASE_CLAIMED) {
        ngx_str_set(&r->req.condition, "#owner = :me");

    } else {
        r->req.nnames = 2;
        ngx_str_set(&r->req.condition, "#owner = :me AND #pending = :one");
        ngx_http_lfv_store_lease_value(&r->values, ":one", NGX_HTTP_LFV_DDB_N,
                                       1, NULL);
    }

    return NGX_OK;
}


/*
 * A claim moves "due" by the claim time, on the condition that it is
 * still what the proxy read: of two proxies that read it, one wins; a
 * claim whose proxy died is due again when its time is up
 */

ngx_int_t
ngx_http_lfv_store_lease_claim(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_http_lfv_store_lease_t *l, time_t now,
    time_t claim)
{
    if (ngx_http_lfv_store_lease_key(r, NGX_HTTP_LFV_DDB_UPDATE_ITEM, table,
                                     &l->team, &l->key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&r->req.update,
                "SET #due = :due, #owner = :me, #claimed = :now");
    ngx_str_set(&r->req.condition, "#due = :seen");

    r->req.names = ngx_http_lfv_store_claim_names;
    r->req.nnames = 3;
    r->req.values = &r->values;

    ngx_http_lfv_store_lease_value(&r->values, ":due", NGX_HTTP_LFV_DDB_N,
                                   now + claim, NULL);
    ngx_http_lfv_store_lease_value(&r->values, ":me", NGX_HTTP_LFV_DDB_S, 0,
                                   ngx_http_lfv_store_owner());
    ngx_http_lfv_store_lease_value(&r->values, ":now", NGX_HTTP_LFV_DDB_N,
                                   now, NULL);
    ngx_http_lfv_store_lease_value(&r->values, ":seen", NGX_HTTP_LFV_DDB_N,
                                   l->due, NULL);

    return NGX_OK;
}


/* what came of the call, written by the claim's owner, the claim let go */

ngx_int_t
ngx_http_lfv_store_lease_update(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_http_lfv_store_lease_t *l)
{
    ngx_str_t  none;

    if (ngx_http_lfv_store_lease_key(r, NGX_HTTP_LFV_DDB_UPDATE_ITEM, table,
                                     &l->team, &l->key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&r->req.update,
                "SET #due = :due, #owner = :none, #claimed = :zero, "
                "#pending = :zero, #attempts = :attempts, "
                "#alerted = :alerted");
    ngx_str_set(&r->req.condition, "#owner = :me");

    r->req.names = ngx_http_lfv_store_lease_names;
    r->req.nnames = 6;
    r->req.values = &r->values;

    ngx_str_null(&none);

    ngx_http_lfv_store_lease_value(&r->values, ":due", NGX_HTTP_LFV_DDB_N,
                                   l->due, NULL);
    ngx_http_lfv_store_lease_value(&r->values, ":none", NGX_HTTP_LFV_DDB_S, 0,
                                   &none);
    ngx_http_lfv_store_lease_value(&r->values, ":zero", NGX_HTTP_LFV_DDB_N, 0,
                                   NULL);
    ngx_http_lfv_store_lease_value(&r->values, ":attempts",
                                   NGX_HTTP_LFV_DDB_N, l->attempts, NULL);
    ngx_http_lfv_store_lease_value(&r->values, ":alerted",
                                   NGX_HTTP_LFV_DDB_N, l->alerted, NULL);
    ngx_http_lfv_store_lease_value(&r->values, ":me", NGX_HTTP_LFV_DDB_S, 0,
                                   ngx_http_lfv_store_owner());

    return NGX_OK;
}


/*
 * pk "team#TEAM", sk "model#HOST/PROJECT/VERSION" (none of them holds a
 * "/"), and every attribute the put writes, numbers not negative
 */

ngx_int_t
ngx_http_lfv_store_lease_parse(ngx_http_lfv_ddb_item_t *item,
    ngx_http_lfv_store_lease_t *l, char **err)
{
    u_char                   *p, *last;
    int64_t                   n[8];
    ngx_uint_t                i, slashes;
    ngx_http_lfv_ddb_attr_t  *a, *pk, *sk, *region, *owner, *gpk, *nonce;

    static char  *numbers[] = { "due", "units", "started", "ends",
                                "attempts", "alerted", "pending", "claimed" };

    ngx_memzero(l, sizeof(ngx_http_lfv_store_lease_t));

    pk = ngx_http_lfv_ddb_attr(item, NGX_HTTP_LFV_DDB_PK);
    sk = ngx_http_lfv_ddb_attr(item, NGX_HTTP_LFV_DDB_SK);
    gpk = ngx_http_lfv_ddb_attr(item, "gpk");
    region = ngx_http_lfv_ddb_attr(item, "region");
    owner = ngx_http_lfv_ddb_attr(item, "owner");
    nonce = ngx_http_lfv_ddb_attr(item, "nonce");

    if (pk == NULL || sk == NULL || gpk == NULL || region == NULL
        || owner == NULL || nonce == NULL || pk->type != NGX_HTTP_LFV_DDB_S
        || sk->type != NGX_HTTP_LFV_DDB_S || gpk->type != NGX_HTTP_LFV_DDB_S
        || region->type != NGX_HTTP_LFV_DDB_S
        || owner->type != NGX_HTTP_LFV_DDB_S
        || nonce->type != NGX_HTTP_LFV_DDB_S)
    {
        *err = "a key or a string of the lease is missing";
        return NGX_ERROR;
    }

    for (i = 0; i < 8; i++) {
        a = ngx_http_lfv_ddb_attr(item, numbers[i]);

        if (a == NULL || a->type != NGX_HTTP_LFV_DDB_N || a->n < 0
            || (uint64_t) a->n >= NGX_HTTP_LFV_STATE_NUMBER_MAX)
        {
            *err = "a number of the lease is missing or out of range";
            return NGX_ERROR;
        }

        n[i] = a->n;
    }

    if (pk->s.len <= sizeof("team#") - 1
        || pk->s.len > sizeof("team#") - 1 + NGX_HTTP_LFV_STATE_TEAM_MAX
        || ngx_strncmp(pk->s.data, "team#", sizeof("team#") - 1) != 0
        || sk->s.len <= sizeof("model#") - 1
        || sk->s.len > sizeof("model#") - 1 + NGX_HTTP_LFV_STORE_KEY_MAX
        || ngx_strncmp(sk->s.data, "model#", sizeof("model#") - 1) != 0
        || gpk->s.len != sizeof(NGX_HTTP_LFV_STORE_LEASE_GPK) - 1
        || ngx_strncmp(gpk->s.data, NGX_HTTP_LFV_STORE_LEASE_GPK,
                       gpk->s.len) != 0)
    {
        *err = "the keys of the lease are not a lease's";
        return NGX_ERROR;
    }

    l->team.data = pk->s.data + sizeof("team#") - 1;
    l->team.len = pk->s.len - (sizeof("team#") - 1);
    l->key.data = sk->s.data + sizeof("model#") - 1;
    l->key.len = sk->s.len - (sizeof("model#") - 1);

    /* host/project/version: two slashes, nothing empty around them */

    slashes = 0;
    last = l->key.data + l->key.len;

    for (p = l->key.data; p < last; p++) {
        if (*p == '/') {
            if (p == l->key.data || p[-1] == '/' || p + 1 == last) {
                break;
            }

            slashes++;
        }
    }

    if (p != last || slashes != 2 || region->s.len == 0
        || region->s.len > NGX_HTTP_LFV_STATE_REGION_MAX
        || owner->s.len > NGX_HTTP_LFV_STORE_OWNER_MAX
        || nonce->s.len != NGX_HTTP_LFV_STORE_NONCE_LEN
        || n[1] == 0 || n[6] > 1 || n[5] > 1)
    {
        *err = "the lease names no model, or a field is out of range";
        return NGX_ERROR;
    }

    l->region = region->s;
    for (i = 0; i < NGX_HTTP_LFV_STORE_NONCE_LEN; i++) {
        if (!((nonce->s.data[i] >= '0' && nonce->s.data[i] <= '9')
              || (nonce->s.data[i] >= 'a' && nonce->s.data[i] <= 'f')))
        {
            *err = "the nonce of the lease is not hexadecimal";
            return NGX_ERROR;
        }
    }

    l->owner = owner->s;
    l->nonce = nonce->s;
    l->due = (time_t) n[0];
    l->units = (ngx_uint_t) n[1];
    l->started = (time_t) n[2];
    l->ends = (time_t) n[3];
    l->attempts = (ngx_uint_t) n[4];
    l->alerted = (ngx_uint_t) n[5];
    l->pending = (ngx_uint_t) n[6];
    l->claimed = (time_t) n[7];

    return NGX_OK;
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
                                       sw->lmcf->store.claim)
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
                                             NGX_HTTP_LFV_STORE_LEASE_CLAIMED);
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

        rc = ngx_http_lfv_store_lease_update(&r, &sw->lmcf->store.table, &l);
        break;

    default: /* NGX_HTTP_LFV_SWEPT_CHECKED */

        /* hosted: asked again in a while, stopped when its lease ends */

        l.due = (l.ends == 0) ? now + reconcile
                : (l.ends > now) ? ngx_min(l.ends, now + reconcile)
                : now;

        rc = ngx_http_lfv_store_lease_update(&r, &sw->lmcf->store.table, &l);
        break;
    }

    if (rc == NGX_OK) {
        ngx_http_lfv_store_write(sw->lmcf, &r.req, "the lease after a call",
                                 &sw->log);
    }
}
