
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_store_doc.h"


static ngx_int_t ngx_http_lfv_store_lease_key(
    ngx_http_lfv_store_lease_req_t *r, ngx_http_lfv_ddb_op_e op,
    ngx_str_t *table, ngx_str_t *team, ngx_str_t *key);
static void ngx_http_lfv_store_lease_value(ngx_http_lfv_ddb_item_t *item,
    char *name, ngx_http_lfv_ddb_type_e type, int64_t n, ngx_str_t *s);


/*
 * The limits item: the numbers "ver" (1 or more), "win", "used",
 * "excess", "last_ms" (none negative), and "admitted": nonces of
 * NGX_HTTP_LFV_STORE_NONCE_LEN bytes with single spaces between them
 * (an item written before leases were kept has none)
 */

ngx_int_t
ngx_http_lfv_store_limits_parse(ngx_http_lfv_ddb_item_t *item,
    ngx_http_lfv_store_limits_t *lim, char **err)
{
    size_t                    i;
    int64_t                   n[5];
    ngx_http_lfv_ddb_attr_t  *a;

    static char  *names[] = { "ver", "win", "used", "excess", "last_ms" };

    ngx_memzero(lim, sizeof(ngx_http_lfv_store_limits_t));

    for (i = 0; i < 5; i++) {
        a = ngx_http_lfv_ddb_attr(item, names[i]);

        if (a == NULL || a->type != NGX_HTTP_LFV_DDB_N || a->n < 0) {
            *err = "the team's item lacks a number of its own";
            return NGX_ERROR;
        }

        n[i] = a->n;
    }

    if (n[0] == 0) {
        *err = "the team's item has version 0";
        return NGX_ERROR;
    }

    a = ngx_http_lfv_ddb_attr(item, "admitted");

    if (a) {
        if (a->type != NGX_HTTP_LFV_DDB_S
            || (a->s.len && (a->s.len + 1)
                            % (NGX_HTTP_LFV_STORE_NONCE_LEN + 1) != 0))
        {
            *err = "the team's item admits no nonces";
            return NGX_ERROR;
        }

        for (i = 0; i < a->s.len; i++) {
            if ((i + 1) % (NGX_HTTP_LFV_STORE_NONCE_LEN + 1) == 0
                ? a->s.data[i] != ' '
                : !((a->s.data[i] >= '0' && a->s.data[i] <= '9')
                    || (a->s.data[i] >= 'a' && a->s.data[i] <= 'f')))
            {
                *err = "the team's item admits no nonces";
                return NGX_ERROR;
            }
        }

        lim->admitted = a->s;
    }

    lim->version = (uint64_t) n[0];
    lim->window = (time_t) n[1];
    lim->used = (uint64_t) n[2];
    lim->excess = (uint64_t) n[3];
    lim->last = (uint64_t) n[4];

    return NGX_OK;
}


ngx_uint_t
ngx_http_lfv_store_limits_admit(ngx_str_t *admitted, ngx_str_t *nonce)
{
    size_t  i;

    if (nonce->len != NGX_HTTP_LFV_STORE_NONCE_LEN) {
        return 0;
    }

    for (i = 0; i + NGX_HTTP_LFV_STORE_NONCE_LEN <= admitted->len;
         i += NGX_HTTP_LFV_STORE_NONCE_LEN + 1)
    {
        if (ngx_strncmp(admitted->data + i, nonce->data,
                        NGX_HTTP_LFV_STORE_NONCE_LEN) == 0)
        {
            return 1;
        }
    }

    return 0;
}


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


ngx_str_t *
ngx_http_lfv_store_lease_sk(ngx_str_t *key, u_char *buf, ngx_str_t *sk)
{
    u_char  *p;

    p = ngx_cpymem(buf, "model#", sizeof("model#") - 1);
    p = ngx_cpymem(p, key->data, key->len);

    sk->data = buf;
    sk->len = p - buf;

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
    r->req.pk.len = ngx_cpymem(ngx_cpymem(r->pk, "team#", sizeof("team#") - 1),
                               team->data, team->len)
                    - r->pk;

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


/*
 * The whole item, with UpdateItem (the proxies need no PutItem): a
 * start's, pending (fresh: only if the model has no lease), or its
 * commit
 */

ngx_int_t
ngx_http_lfv_store_lease_put(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_http_lfv_store_lease_t *l, ngx_uint_t fresh)
{
    ngx_str_t                 gpk;
    ngx_http_lfv_ddb_item_t  *v;

    static ngx_http_lfv_ddb_name_t  names[] = {
        { ngx_string("#gpk"), ngx_string("gpk") },
        { ngx_string("#due"), ngx_string("due") },
        { ngx_string("#region"), ngx_string("region") },
        { ngx_string("#units"), ngx_string("units") },
        { ngx_string("#started"), ngx_string("started") },
        { ngx_string("#ends"), ngx_string("ends") },
        { ngx_string("#attempts"), ngx_string("attempts") },
        { ngx_string("#alerted"), ngx_string("alerted") },
        { ngx_string("#pending"), ngx_string("pending") },
        { ngx_string("#owner"), ngx_string("owner") },
        { ngx_string("#claimed"), ngx_string("claimed") },
        { ngx_string("#nonce"), ngx_string("nonce") },
    };

    if (ngx_http_lfv_store_lease_key(r, NGX_HTTP_LFV_DDB_UPDATE_ITEM, table,
                                     &l->team, &l->key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&r->req.update,
                "SET #gpk = :gpk, #due = :due, #region = :region, "
                "#units = :units, #started = :started, #ends = :ends, "
                "#attempts = :attempts, #alerted = :alerted, "
                "#pending = :pending, #owner = :owner, "
                "#claimed = :claimed, #nonce = :nonce");

    r->req.names = names;
    r->req.nnames = sizeof(names) / sizeof(names[0]);
    r->req.values = &r->values;

    ngx_str_set(&gpk, NGX_HTTP_LFV_STORE_LEASE_GPK);

    v = &r->values;

    ngx_http_lfv_store_lease_value(v, ":gpk", NGX_HTTP_LFV_DDB_S, 0, &gpk);
    ngx_http_lfv_store_lease_value(v, ":due", NGX_HTTP_LFV_DDB_N, l->due,
                                   NULL);
    ngx_http_lfv_store_lease_value(v, ":region", NGX_HTTP_LFV_DDB_S, 0,
                                   &l->region);
    ngx_http_lfv_store_lease_value(v, ":units", NGX_HTTP_LFV_DDB_N, l->units,
                                   NULL);
    ngx_http_lfv_store_lease_value(v, ":started", NGX_HTTP_LFV_DDB_N,
                                   l->started, NULL);
    ngx_http_lfv_store_lease_value(v, ":ends", NGX_HTTP_LFV_DDB_N, l->ends,
                                   NULL);
    ngx_http_lfv_store_lease_value(v, ":attempts", NGX_HTTP_LFV_DDB_N,
                                   l->attempts, NULL);
    ngx_http_lfv_store_lease_value(v, ":alerted", NGX_HTTP_LFV_DDB_N,
                                   l->alerted, NULL);
    ngx_http_lfv_store_lease_value(v, ":pending", NGX_HTTP_LFV_DDB_N,
                                   l->pending, NULL);
    ngx_http_lfv_store_lease_value(v, ":owner", NGX_HTTP_LFV_DDB_S, 0,
                                   &l->owner);
    ngx_http_lfv_store_lease_value(v, ":claimed", NGX_HTTP_LFV_DDB_N,
                                   l->claimed, NULL);
    ngx_http_lfv_store_lease_value(v, ":nonce", NGX_HTTP_LFV_DDB_S, 0,
                                   &l->nonce);

    if (fresh) {
        ngx_str_set(&r->req.condition, "attribute_not_exists(pk)");
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_store_lease_delete(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_str_t *team, ngx_str_t *key, ngx_uint_t how,
    ngx_str_t *owner)
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
                                   owner);

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
    time_t claim, ngx_str_t *owner)
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
                                   owner);
    ngx_http_lfv_store_lease_value(&r->values, ":now", NGX_HTTP_LFV_DDB_N,
                                   now, NULL);
    ngx_http_lfv_store_lease_value(&r->values, ":seen", NGX_HTTP_LFV_DDB_N,
                                   l->due, NULL);

    return NGX_OK;
}


/* what came of the call, written by the claim's owner, the claim let go */

ngx_int_t
ngx_http_lfv_store_lease_update(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_http_lfv_store_lease_t *l, ngx_str_t *owner)
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
                                   owner);

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


