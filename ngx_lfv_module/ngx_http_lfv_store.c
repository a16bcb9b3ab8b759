
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_handler.h"
#include "ngx_http_lfv_limit.h"
#include "ngx_http_lfv_store.h"
#include "ngx_http_lfv_ddb_doc.h"


#define NGX_HTTP_LFV_STORE_GET    1
#define NGX_HTTP_LFV_STORE_PUT    2

/* while the store fails, or has not been asked for this long: a probe */
#define NGX_HTTP_LFV_STORE_PROBE  5


/* one decision of a start (or worker 0's probe): a read, then a write */

typedef struct {
    ngx_http_lfv_fetch_t        fetch;
    ngx_pool_t                 *pool;           /* of the fetch in flight */
    ngx_http_request_t         *request;        /* NULL: the probe */
    ngx_http_lfv_main_conf_t   *lmcf;
    ngx_http_lfv_policy_t      *policy;
    ngx_str_t                   team;           /* the state's name */
    ngx_uint_t                  units;
    ngx_uint_t                  step;
    ngx_uint_t                  races;
    ngx_event_t                 backoff;        /* after a lost race */
    ngx_msec_t                  sent;           /* for the latency */

    uint64_t                    version;        /* of the item; 0: none */
    ngx_http_lfv_bucket_t       bucket;

    ngx_http_lfv_reason_e       reason;
    ngx_msec_t                  delay;
    time_t                      retry_after;

    unsigned                    answered:1;
    unsigned                    consumed:1;
} ngx_http_lfv_store_call_t;


static void ngx_http_lfv_store_again(ngx_event_t *ev);
static void ngx_http_lfv_store_next(ngx_http_lfv_store_call_t *sc);
static ngx_int_t ngx_http_lfv_store_send(ngx_http_lfv_store_call_t *sc);
static ngx_buf_t *ngx_http_lfv_store_body(ngx_http_lfv_store_call_t *sc,
    ngx_pool_t *pool, ngx_str_t *target);
static void ngx_http_lfv_store_done(ngx_http_lfv_fetch_t *f);
static ngx_int_t ngx_http_lfv_store_read(ngx_http_lfv_store_call_t *sc,
    ngx_str_t *body, char **err);
static void ngx_http_lfv_store_fail(ngx_http_lfv_store_call_t *sc,
    char *err, ngx_str_t *detail);
static void ngx_http_lfv_store_account(ngx_http_lfv_store_call_t *sc,
    ngx_uint_t ok, ngx_uint_t race, u_char *error, size_t len);
static void ngx_http_lfv_store_answer(ngx_http_lfv_store_call_t *sc);
static void ngx_http_lfv_store_cleanup(void *data);
static ngx_http_lfv_store_health_t *ngx_http_lfv_store_shared(
    ngx_http_lfv_main_conf_t *lmcf, ngx_slab_pool_t **shpool);


/* the probe of worker 0: one at a time */
static ngx_http_lfv_store_call_t  *ngx_http_lfv_store_probing;


/*
 * lfv_policy_store dynamodb table=name [region=name] [endpoint=url]
 *     [timeout=time];
 */

char *
ngx_http_lfv_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lfv_main_conf_t *lmcf = conf;

    u_char                      ch;
    ngx_str_t                  *value, s;
    ngx_uint_t                  i;
    ngx_http_lfv_store_conf_t  *scf;

    scf = &lmcf->store;

    if (scf->enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "dynamodb") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown store \"%V\": only \"dynamodb\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "table=", 6) == 0) {
            scf->table.data = value[i].data + 6;
            scf->table.len = value[i].len - 6;
            continue;
        }

        if (ngx_strncmp(value[i].data, "region=", 7) == 0) {
            scf->endpoint.region.data = value[i].data + 7;
            scf->endpoint.region.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "endpoint=", 9) == 0) {
            scf->url.data = value[i].data + 9;
            scf->url.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            scf->timeout = ngx_parse_time(&s, 0);
            if (scf->timeout == (ngx_msec_t) NGX_ERROR || scf->timeout == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    /* DynamoDB's table names: [a-zA-Z0-9_.-]{3,255} */

    for (i = 0; i < scf->table.len; i++) {
        ch = scf->table.data[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
              || ch == '-'))
        {
            break;
        }
    }

    if (scf->table.len < 3 || scf->table.len > 255 || i != scf->table.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lfv_policy_store\" needs table=, 3 to 255 "
                           "characters of letters, digits, \"_\", \".\" "
                           "and \"-\"");
        return NGX_CONF_ERROR;
    }

    scf->enabled = 1;
    scf->file = cf->conf_file->file.name.data;
    scf->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


char *
ngx_http_lfv_store_init_conf(ngx_conf_t *cf, ngx_http_lfv_main_conf_t *lmcf)
{
    u_char                     *p;
    ngx_str_t                   url;
    ngx_resolver_t             *resolver;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_lfv_loc_conf_t    *llcf;
    ngx_http_lfv_store_conf_t  *scf;

    scf = &lmcf->store;

    if (!scf->enabled) {
        return NGX_CONF_OK;
    }

    if (lmcf->policy.zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"lfv_policy_store\" in %s:%ui needs "
                      "\"lfv_policy_zone\"", scf->file, scf->line);
        return NGX_CONF_ERROR;
    }

    if (scf->timeout == 0) {
        scf->timeout = 2000;
    }

    /* the region: region=, else the http block's lfv_region */

    if (scf->endpoint.region.len == 0) {
        llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_lfv_module);
        scf->endpoint.region = llcf->region;
    }

    if (scf->endpoint.region.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"lfv_policy_store\" in %s:%ui needs region=, or "
                      "\"lfv_region\" in the http block",
                      scf->file, scf->line);
        return NGX_CONF_ERROR;
    }

    url = scf->url;

    if (url.len == 0) {
        url.len = sizeof("https://dynamodb..amazonaws.com") - 1
                  + scf->endpoint.region.len;
        url.data = ngx_pnalloc(cf->pool, url.len);
        if (url.data == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_sprintf(url.data, "https://dynamodb.%V.amazonaws.com",
                        &scf->endpoint.region);
        url.len = p - url.data;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    resolver = clcf->resolver;

    if (resolver && resolver->connections.nelts == 0) {
        resolver = NULL;
    }

    if (lmcf->creds.ca.len == 0) {
        ngx_str_set(&lmcf->creds.ca, "/etc/ssl/certs/ca-certificates.crt");
    }

    return ngx_http_lfv_endpoint_init(cf, &scf->endpoint, &url,
                                      "lfv_policy_store endpoint",
                                      &lmcf->creds.ca, resolver,
                                      clcf->resolver_timeout
                                      == NGX_CONF_UNSET_MSEC
                                      ? 30000 : clcf->resolver_timeout);
}


ngx_uint_t
ngx_http_lfv_store_decides(ngx_http_lfv_store_conf_t *scf,
    ngx_http_lfv_policy_t *policy)
{
    return scf->enabled && (policy->rate || policy->budget);
}


ngx_int_t
ngx_http_lfv_store_decide(ngx_http_request_t *r, void *data)
{
    ngx_http_lfv_ctx_t *ctx = data;

    ngx_pool_cleanup_t         *cln;
    ngx_http_lfv_store_call_t  *sc;

    sc = ngx_pcalloc(r->pool, sizeof(ngx_http_lfv_store_call_t));
    if (sc == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_lfv_store_cleanup;
    cln->data = sc;

    sc->request = r;
    sc->lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);
    sc->policy = ctx->audit->policy;
    sc->team = ctx->audit->key;
    sc->units = ngx_http_lfv_units(ctx->audit);
    sc->step = NGX_HTTP_LFV_STORE_GET;

    ctx->store = sc;

    /* the client going away meanwhile ends the request, and the call */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_lfv_store_next(sc);

    return NGX_OK;
}


ngx_uint_t
ngx_http_lfv_store_answered(void *data, ngx_http_lfv_reason_e *reason,
    ngx_msec_t *delay)
{
    ngx_http_lfv_ctx_t *ctx = data;

    ngx_http_lfv_store_call_t  *sc;

    sc = ctx->store;

    if (!sc->answered || sc->consumed) {
        return 0;
    }

    sc->consumed = 1;

    *reason = sc->reason;
    *delay = sc->delay;
    ctx->retry_after = sc->retry_after;

    return 1;
}


/* signed with the base credentials: the store is the proxy's own */

static ngx_int_t
ngx_http_lfv_store_send(ngx_http_lfv_store_call_t *sc)
{
    time_t                          retry_after;
    ngx_buf_t                      *body;
    ngx_pool_t                     *pool;
    ngx_log_t                      *log;
    ngx_http_lfv_creds_t           *creds;
    ngx_http_lfv_fetch_t           *f;
    ngx_http_lfv_store_conf_t      *scf;
    ngx_http_lfv_endpoint_call_t    call;

    scf = &sc->lmcf->store;
    log = sc->request ? sc->request->connection->log : ngx_cycle->log;

    if (ngx_http_lfv_credentials_get(&sc->lmcf->creds, &creds, &retry_after)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    pool = ngx_create_pool(NGX_HTTP_LFV_FETCH_MAX + 4096, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&call, sizeof(ngx_http_lfv_endpoint_call_t));

    body = ngx_http_lfv_store_body(sc, pool, &call.target);
    if (body == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    ngx_str_set(&call.method, "POST");
    ngx_str_set(&call.uri, "/");
    call.host = scf->endpoint.host;
    call.region = scf->endpoint.region;
    ngx_str_set(&call.service, "dynamodb");
    ngx_str_set(&call.content_type, "application/x-amz-json-1.0");
    ngx_str_set(&call.accept, "application/json");
    call.body.data = body->pos;
    call.body.len = body->last - body->pos;
    call.access_key_id = &creds->access_key_id;
    call.secret_access_key = &creds->secret_access_key;
    call.session_token = &creds->session_token;

    f = &sc->fetch;
    ngx_memzero(f, sizeof(ngx_http_lfv_fetch_t));

    f->request = ngx_http_lfv_endpoint_signed(pool, &sc->lmcf->crypto, &call);
    if (f->request == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    ngx_http_lfv_endpoint_fetch_init(&scf->endpoint, f);

    f->timeout = scf->timeout;
    f->pool = pool;
    f->log = log;
    f->handler = ngx_http_lfv_store_done;
    f->data = sc;

    sc->pool = pool;
    sc->sent = ngx_current_msec;

    ngx_http_lfv_fetch(f);

    return NGX_OK;
}


/*
 * The team's item, pk "team#NAME", sk "limits": read consistently, then
 * written on the condition that its version is still the one read
 */

static ngx_buf_t *
ngx_http_lfv_store_body(ngx_http_lfv_store_call_t *sc, ngx_pool_t *pool,
    ngx_str_t *target)
{
    char                        *err;
    size_t                       len;
    ngx_buf_t                   *b;
    ngx_uint_t                   i;
    ngx_http_lfv_ddb_item_t      values;
    ngx_http_lfv_ddb_attr_t     *a;
    ngx_http_lfv_ddb_request_t   req;

    static ngx_http_lfv_ddb_name_t  names[] = {
        { ngx_string("#ver"), ngx_string("ver") },
        { ngx_string("#win"), ngx_string("win") },
        { ngx_string("#used"), ngx_string("used") },
        { ngx_string("#excess"), ngx_string("excess") },
        { ngx_string("#last"), ngx_string("last_ms") },
        { ngx_string("#exp"), ngx_string("expires") },
    };

    static const ngx_str_t  placeholders[] = {
        ngx_string(":ver"), ngx_string(":win"), ngx_string(":used"),
        ngx_string(":excess"), ngx_string(":last"), ngx_string(":exp"),
        ngx_string(":old")
    };

    ngx_memzero(&req, sizeof(ngx_http_lfv_ddb_request_t));

    req.table = sc->lmcf->store.table;
    ngx_str_set(&req.sk, "limits");

    req.pk.len = sizeof("team#") - 1 + sc->team.len;
    req.pk.data = ngx_pnalloc(pool, req.pk.len);
    if (req.pk.data == NULL) {
        return NULL;
    }

    (void) ngx_sprintf(req.pk.data, "team#%V", &sc->team);

    if (sc->step == NGX_HTTP_LFV_STORE_GET) {
        req.op = NGX_HTTP_LFV_DDB_GET_ITEM;
        req.consistent = 1;

    } else {
        req.op = NGX_HTTP_LFV_DDB_UPDATE_ITEM;
        ngx_str_set(&req.update, "SET #ver = :ver, #win = :win, "
                                 "#used = :used, #excess = :excess, "
                                 "#last = :last, #exp = :exp");

        if (sc->version) {
            ngx_str_set(&req.condition, "#ver = :old");

        } else {
            ngx_str_set(&req.condition, "attribute_not_exists(#ver)");
        }

        req.names = names;
        req.nnames = sizeof(names) / sizeof(names[0]);

        ngx_memzero(&values, sizeof(ngx_http_lfv_ddb_item_t));

        values.nattrs = sc->version ? 7 : 6;

        for (i = 0; i < values.nattrs; i++) {
            a = &values.attrs[i];
            a->name = placeholders[i];
            a->type = NGX_HTTP_LFV_DDB_N;
        }

        values.attrs[0].n = sc->version + 1;
        values.attrs[1].n = sc->bucket.window;
        values.attrs[2].n = sc->bucket.used;
        values.attrs[3].n = sc->bucket.excess;
        values.attrs[4].n = sc->bucket.last;

        /*
         * The table's TTL drops an item no start has used for long, never
         * while its budget window runs
         */

        values.attrs[5].n = ngx_max(ngx_time() + NGX_HTTP_LFV_STORE_TTL,
                                    sc->bucket.window + sc->policy->window
                                    + 86400);
        values.attrs[6].n = sc->version;

        req.values = &values;
    }

    *target = *ngx_http_lfv_ddb_target(req.op);

    len = ngx_http_lfv_ddb_request_len(&req, &err);
    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, pool->log, 0,
                      "lfv: the store's request: %s", err);
        return NULL;
    }

    b = ngx_create_temp_buf(pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_http_lfv_ddb_write_request(b->last, &req);

    return b;
}


static void
ngx_http_lfv_store_done(ngx_http_lfv_fetch_t *f)
{
    char                       *err;
    time_t                      now;
    ngx_str_t                   type;
    ngx_time_t                 *tp;
    ngx_http_lfv_ddb_error_t    error;
    ngx_msec_t                  ms_now;
    ngx_uint_t                  over;
    ngx_http_lfv_store_call_t  *sc;

    sc = f->data;

    if (f->rc != NGX_OK) {
        ngx_http_lfv_store_fail(sc, f->err, NULL);
        return;
    }

    if (f->resp.status != NGX_HTTP_OK) {
        if (ngx_http_lfv_ddb_parse_error(f->resp.body.data, f->resp.body.len,
                                         &error, &err)
            == NGX_OK)
        {
            type = error.type;

        } else {
            ngx_str_null(&type);
        }

        /* someone wrote the item since it was read: read it again */

        if (f->resp.status == NGX_HTTP_BAD_REQUEST
            && sc->step == NGX_HTTP_LFV_STORE_PUT
            && type.len == sizeof("ConditionalCheckFailedException") - 1
            && ngx_strncmp(type.data, "ConditionalCheckFailedException",
                           type.len) == 0
            && ++sc->races < NGX_HTTP_LFV_STORE_RACES)
        {
            ngx_http_lfv_store_account(sc, 1, 1, NULL, 0);

            ngx_destroy_pool(sc->pool);
            sc->pool = NULL;

            sc->step = NGX_HTTP_LFV_STORE_GET;

            /* the writers that met apart again: a few random ms */

            sc->backoff.handler = ngx_http_lfv_store_again;
            sc->backoff.data = sc;
            sc->backoff.log = f->log;

            ngx_add_timer(&sc->backoff, ngx_random() % (4 * sc->races) + 1);
            return;
        }

        ngx_http_lfv_store_fail(sc, sc->races >= NGX_HTTP_LFV_STORE_RACES
                                    ? "too many concurrent writes"
                                    : "the store refused the call", &type);
        return;
    }

    if (sc->request == NULL) {

        /* the probe: any item or none, the store answers */

        ngx_http_lfv_store_account(sc, 1, 0, NULL, 0);
        ngx_destroy_pool(sc->pool);
        ngx_http_lfv_store_probing = NULL;
        ngx_free(sc);
        return;
    }

    if (sc->step == NGX_HTTP_LFV_STORE_PUT) {
        ngx_http_lfv_store_account(sc, 1, 0, NULL, 0);
        sc->reason = NGX_HTTP_LFV_OK;
        ngx_http_lfv_store_answer(sc);
        return;
    }

    if (ngx_http_lfv_store_read(sc, &f->resp.body, &err) != NGX_OK) {
        ngx_http_lfv_store_fail(sc, err, NULL);
        return;
    }

    /* decided as the zone decides, on the wall clock the proxies share */

    tp = ngx_timeofday();
    now = tp->sec;
    ms_now = (ngx_msec_t) tp->sec * 1000 + tp->msec;

    sc->reason = ngx_http_lfv_limit_charge(sc->policy, &sc->bucket, sc->units,
                                           now, ms_now, &sc->delay,
                                           &sc->retry_after, &over);

    if (over) {
        ngx_log_error(NGX_LOG_INFO, f->log, 0,
                      "lfv: team \"%V\" over its rate, dry run", &sc->team);
    }

    if (sc->reason != NGX_HTTP_LFV_OK) {

        /* a refusal changes nothing in the store */

        ngx_http_lfv_store_account(sc, 1, 0, NULL, 0);
        ngx_http_lfv_store_answer(sc);
        return;
    }

    ngx_destroy_pool(sc->pool);
    sc->pool = NULL;

    sc->step = NGX_HTTP_LFV_STORE_PUT;

    ngx_http_lfv_store_next(sc);
}


static void
ngx_http_lfv_store_again(ngx_event_t *ev)
{
    ngx_http_lfv_store_next(ev->data);
}


static void
ngx_http_lfv_store_next(ngx_http_lfv_store_call_t *sc)
{
    ngx_int_t  rc;

    rc = ngx_http_lfv_store_send(sc);

    if (rc != NGX_OK) {
        ngx_http_lfv_store_fail(sc, (rc == NGX_DECLINED)
                                    ? "no usable AWS credentials to sign with"
                                    : "the request could not be made", NULL);
    }
}


/* GetItem's answer, read strictly: none, or our attributes' numbers */

static ngx_int_t
ngx_http_lfv_store_read(ngx_http_lfv_store_call_t *sc, ngx_str_t *body,
    char **err)
{
    int64_t                   n[5];
    ngx_uint_t                i, found;
    ngx_http_lfv_ddb_attr_t  *a;
    ngx_http_lfv_ddb_item_t   item;

    static char  *names[] = { "ver", "win", "used", "excess", "last_ms" };

    ngx_memzero(&sc->bucket, sizeof(ngx_http_lfv_bucket_t));
    sc->version = 0;

    if (ngx_http_lfv_ddb_parse_item(body->data, body->len,
                                    NGX_HTTP_LFV_DDB_GET_ITEM, &item, &found,
                                    err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!found) {
        return NGX_OK;
    }

    for (i = 0; i < 5; i++) {
        a = ngx_http_lfv_ddb_attr(&item, names[i]);

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

    sc->version = n[0];
    sc->bucket.window = (time_t) n[1];
    sc->bucket.used = n[2];
    sc->bucket.excess = n[3];
    sc->bucket.last = n[4];

    return NGX_OK;
}


/* fail closed: a start the store cannot decide is refused */

static void
ngx_http_lfv_store_fail(ngx_http_lfv_store_call_t *sc, char *err,
    ngx_str_t *detail)
{
    u_char      *p;
    size_t       len;
    ngx_log_t   *log;
    u_char       error[128];

    log = sc->request ? sc->request->connection->log : ngx_cycle->log;

    if (err == NULL) {
        err = "no answer";
    }

    p = ngx_snprintf(error, sizeof(error), "%s", err);

    if (detail && detail->len) {
        p = ngx_snprintf(p, error + sizeof(error) - p, ": %V", detail);

    } else if (sc->fetch.rc == NGX_OK && sc->fetch.resp.status
               && sc->fetch.resp.status != NGX_HTTP_OK)
    {
        p = ngx_snprintf(p, error + sizeof(error) - p, ": status %ui",
                         sc->fetch.resp.status);
    }

    len = p - error;

    ngx_http_lfv_store_account(sc, 0, 0, error, len);

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "lfv: the store of the team limits failed: %*s%s",
                  len, error,
                  sc->request ? "; the start is refused" : "");

    if (sc->pool) {
        ngx_destroy_pool(sc->pool);
        sc->pool = NULL;
    }

    if (sc->request == NULL) {
        ngx_http_lfv_store_probing = NULL;
        ngx_free(sc);
        return;
    }

    sc->reason = NGX_HTTP_LFV_STORE_UNAVAILABLE;
    sc->retry_after = 1;

    ngx_http_lfv_store_answer(sc);
}


/* what the status page shows, in the policy zone */

static void
ngx_http_lfv_store_account(ngx_http_lfv_store_call_t *sc, ngx_uint_t ok,
    ngx_uint_t race, u_char *error, size_t len)
{
    time_t                        now;
    ngx_slab_pool_t              *shpool;
    ngx_http_lfv_store_health_t  *h;

    h = ngx_http_lfv_store_shared(sc->lmcf, &shpool);
    now = ngx_time();

    ngx_shmtx_lock(&shpool->mutex);

    h->calls++;
    h->latency = ngx_current_msec - sc->sent;

    if (race) {
        h->races++;
    }

    if (ok) {
        h->succeeded = now;
        h->failing = 0;

    } else {
        h->failed = now;
        h->failing = 1;
        h->errors++;
        h->error_len = ngx_min(len, sizeof(h->error));
        ngx_memcpy(h->error, error, h->error_len);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* back to the request, in its own event loop turn */

static void
ngx_http_lfv_store_answer(ngx_http_lfv_store_call_t *sc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (sc->pool) {
        ngx_destroy_pool(sc->pool);
        sc->pool = NULL;
    }

    sc->answered = 1;

    r = sc->request;
    c = r->connection;

    r->read_event_handler = ngx_http_block_reading;

    ngx_http_lfv_handler_resume(r);

    ngx_http_run_posted_requests(c);
}


/* a request that ends while the store is asked ends the call */

static void
ngx_http_lfv_store_cleanup(void *data)
{
    ngx_http_lfv_store_call_t  *sc = data;

    if (sc->backoff.timer_set) {
        ngx_del_timer(&sc->backoff);
    }

    if (sc->pool) {
        ngx_http_lfv_fetch_abort(&sc->fetch);
        ngx_destroy_pool(sc->pool);
        sc->pool = NULL;
    }
}


void
ngx_http_lfv_store_probe(ngx_http_lfv_main_conf_t *lmcf, ngx_log_t *log)
{
    time_t                        now, succeeded;
    ngx_uint_t                    failing;
    ngx_slab_pool_t              *shpool;
    ngx_http_lfv_store_call_t    *sc;
    ngx_http_lfv_store_health_t  *h;

    if (!lmcf->store.enabled || ngx_http_lfv_store_probing) {
        return;
    }

    h = ngx_http_lfv_store_shared(lmcf, &shpool);

    ngx_shmtx_lock(&shpool->mutex);
    failing = h->failing;
    succeeded = h->succeeded;
    ngx_shmtx_unlock(&shpool->mutex);

    now = ngx_time();

    if (!failing && now - succeeded < NGX_HTTP_LFV_STORE_PROBE) {
        return;
    }

    sc = ngx_calloc(sizeof(ngx_http_lfv_store_call_t), log);
    if (sc == NULL) {
        return;
    }

    sc->lmcf = lmcf;
    sc->step = NGX_HTTP_LFV_STORE_GET;

    ngx_http_lfv_store_probing = sc;

    if (ngx_http_lfv_store_send(sc) != NGX_OK) {
        ngx_http_lfv_store_probing = NULL;
        ngx_free(sc);
    }
}


ngx_int_t
ngx_http_lfv_store_health(ngx_http_lfv_main_conf_t *lmcf,
    ngx_http_lfv_store_health_t *copy)
{
    ngx_slab_pool_t              *shpool;
    ngx_http_lfv_store_health_t  *h;

    if (!lmcf->store.enabled) {
        return NGX_DECLINED;
    }

    h = ngx_http_lfv_store_shared(lmcf, &shpool);

    ngx_shmtx_lock(&shpool->mutex);
    *copy = *h;
    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


static ngx_http_lfv_store_health_t *
ngx_http_lfv_store_shared(ngx_http_lfv_main_conf_t *lmcf,
    ngx_slab_pool_t **shpool)
{
    ngx_http_lfv_limit_ctx_t  *ctx;

    ctx = lmcf->policy.zone->data;
    *shpool = ctx->shpool;

    return &ctx->sh->store;
}
