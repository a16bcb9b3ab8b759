
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
#include "ngx_http_lfv_store_lease.h"


#define NGX_HTTP_LFV_STORE_READ   1
#define NGX_HTTP_LFV_STORE_LEASE  2
#define NGX_HTTP_LFV_STORE_WRITE  3

/* while the store fails, or has not been asked for this long: a probe */
#define NGX_HTTP_LFV_STORE_PROBE  5

/* a team's partition is read in pages of items, so many at most */
#define NGX_HTTP_LFV_STORE_PAGE   16
#define NGX_HTTP_LFV_STORE_PAGES  64

/* writes that wait for the store, per worker */
#define NGX_HTTP_LFV_STORE_QUEUE  1024


/*
 * One decision of a start (or worker 0's probe): the team's partition
 * read (its limits item and its leases), a guarded start's lease
 * written, then the limits item written on the condition of its version
 */

typedef struct {
    ngx_http_lfv_store_io_t     io;
    ngx_http_request_t         *request;        /* NULL: the probe */
    ngx_http_lfv_main_conf_t   *lmcf;
    ngx_http_lfv_policy_t      *policy;
    ngx_str_t                   team;           /* the state's name */
    ngx_uint_t                  units;
    ngx_uint_t                  step;
    ngx_uint_t                  races;
    ngx_uint_t                  pages;
    ngx_event_t                 backoff;        /* after a lost race */

    uint64_t                    version;        /* of the item; 0: none */
    ngx_http_lfv_bucket_t       bucket;
    ngx_uint_t                  running;        /* the team's other leases */
    ngx_http_lfv_ddb_item_t    *next;           /* the page to read next */

    /* a guarded start: the lease it records */
    ngx_http_lfv_store_lease_t  lease;
    ngx_str_t                   sk;
    u_char                      nonce[NGX_HTTP_LFV_STORE_NONCE_LEN];

    /* the pending starts the limits item admitted, those still pending */
    ngx_str_t                   admitted;
    size_t                      admit_len;
    u_char                      admit[NGX_HTTP_LFV_DDB_S_MAX];

    ngx_http_lfv_reason_e       reason;
    ngx_msec_t                  delay;
    time_t                      retry_after;

    unsigned                    answered:1;
    unsigned                    consumed:1;
    unsigned                    guarded:1;
    unsigned                    leased:1;       /* its item is written */
    unsigned                    settled:1;
} ngx_http_lfv_store_call_t;


/* a write that waits for the store, retried until it answers */

typedef struct {
    ngx_queue_t                 queue;
    ngx_http_lfv_ddb_op_e       op;
    char                       *what;
    ngx_str_t                   body;
} ngx_http_lfv_store_write_t;


static ngx_int_t ngx_http_lfv_store_fetch(ngx_http_lfv_store_io_t *io,
    ngx_http_lfv_main_conf_t *lmcf, ngx_pool_t *pool,
    ngx_http_lfv_ddb_op_e op, ngx_str_t *body, ngx_log_t *log,
    ngx_http_lfv_fetch_handler_pt handler, void *data);
static void ngx_http_lfv_store_again(ngx_event_t *ev);
static void ngx_http_lfv_store_next(ngx_http_lfv_store_call_t *sc);
static ngx_int_t ngx_http_lfv_store_request(ngx_http_lfv_store_call_t *sc,
    ngx_http_lfv_ddb_request_t *req, ngx_http_lfv_ddb_item_t *values,
    ngx_http_lfv_store_lease_req_t *lr);
static void ngx_http_lfv_store_done(ngx_http_lfv_fetch_t *f);
static void ngx_http_lfv_store_decided(ngx_http_lfv_store_call_t *sc);
static ngx_int_t ngx_http_lfv_store_read(ngx_http_lfv_store_call_t *sc,
    ngx_str_t *body, char **err);
static ngx_int_t ngx_http_lfv_store_limits(ngx_http_lfv_store_call_t *sc,
    ngx_http_lfv_ddb_item_t *item, char **err);
static void ngx_http_lfv_store_fail(ngx_http_lfv_store_call_t *sc);
static void ngx_http_lfv_store_account(ngx_http_lfv_main_conf_t *lmcf,
    ngx_msec_t sent, ngx_uint_t ok, ngx_uint_t race, u_char *error,
    size_t len);
static void ngx_http_lfv_store_queued(ngx_http_lfv_main_conf_t *lmcf,
    ngx_int_t n);
static void ngx_http_lfv_store_answer(ngx_http_lfv_store_call_t *sc);
static void ngx_http_lfv_store_give_back(ngx_http_lfv_store_call_t *sc,
    ngx_log_t *log);
static void ngx_http_lfv_store_cleanup(void *data);
static void ngx_http_lfv_store_written(ngx_http_lfv_fetch_t *f);
static ngx_http_lfv_store_health_t *ngx_http_lfv_store_shared(
    ngx_http_lfv_main_conf_t *lmcf, ngx_slab_pool_t **shpool);


/* the probe of worker 0: one at a time */
static ngx_http_lfv_store_call_t  *ngx_http_lfv_store_probing;

/* the writes waiting in this worker, the first of them in flight */
static ngx_queue_t                 ngx_http_lfv_store_writes;
static ngx_uint_t                  ngx_http_lfv_store_nwrites;
static ngx_http_lfv_store_io_t     ngx_http_lfv_store_writer;
static ngx_uint_t                  ngx_http_lfv_store_writing;
static ngx_http_lfv_main_conf_t   *ngx_http_lfv_store_writes_conf;


/*
 * lfv_policy_store dynamodb table=name [region=name] [endpoint=url]
 *     [timeout=time] [claim=time];
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

        if (ngx_strncmp(value[i].data, "claim=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            /* NGX_ERROR is below 2 too */

            scf->claim = ngx_parse_time(&s, 1);
            if (scf->claim < 2) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\": at least "
                                   "2s", &value[i]);
                return NGX_CONF_ERROR;
            }

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

    if (scf->claim == 0) {
        scf->claim = 120;
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


/* the store decides the starts of teams with a limit it keeps */

ngx_uint_t
ngx_http_lfv_store_decides(ngx_http_lfv_store_conf_t *scf,
    ngx_http_lfv_policy_t *policy)
{
    return scf->enabled
           && (policy->rate || policy->budget
               || ngx_http_lfv_policy_guarded(policy));
}


ngx_int_t
ngx_http_lfv_store_decide(ngx_http_request_t *r, void *data,
    ngx_http_lfv_lease_want_t *want)
{
    ngx_http_lfv_ctx_t *ctx = data;

    u_char                     *p;
    time_t                      now;
    ngx_pool_cleanup_t         *cln;
    ngx_http_lfv_policy_t      *policy;
    ngx_http_lfv_store_call_t  *sc;
    ngx_http_lfv_store_lease_t *l;

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

    policy = ctx->audit->policy;

    sc->request = r;
    sc->lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);
    sc->io.lmcf = sc->lmcf;
    sc->policy = policy;
    sc->team = ctx->audit->key;
    sc->units = ngx_http_lfv_units(ctx->audit);
    sc->step = NGX_HTTP_LFV_STORE_READ;

    if (ngx_http_lfv_policy_guarded(policy)) {

        /* the lease, pending until AWS answers, given up if it never does */

        sc->guarded = 1;

        l = &sc->lease;
        now = ngx_time();

        l->team = sc->team;
        l->region = want->region;
        l->units = sc->units;
        l->started = now;
        l->ends = policy->lease ? now + policy->lease : 0;
        l->due = now + sc->lmcf->store.claim * NGX_HTTP_LFV_STORE_LEASE_PENDING;
        l->pending = 1;
        l->owner = *ngx_http_lfv_store_owner();
        l->claimed = now;
        l->nonce.data = sc->nonce;
        l->nonce.len = ngx_sprintf(sc->nonce, "%08xD%08xD",
                                   (uint32_t) ngx_random(),
                                   (uint32_t) ngx_random())
                       - sc->nonce;

        l->key.len = want->host.len + 1 + want->project.len + 1
                     + want->version.len;

        if (l->key.len > NGX_HTTP_LFV_STORE_KEY_MAX
            || sc->team.len > NGX_HTTP_LFV_STATE_TEAM_MAX)
        {
            return NGX_ERROR;
        }

        p = ngx_pnalloc(r->pool, l->key.len + sizeof("model#") - 1
                                 + NGX_HTTP_LFV_STORE_KEY_MAX);
        if (p == NULL) {
            return NGX_ERROR;
        }

        l->key.data = p;
        p = ngx_sprintf(p, "%V/%V/%V", &want->host, &want->project,
                        &want->version);

        (void) ngx_http_lfv_store_lease_sk(&l->key, p, &sc->sk);
    }

    ctx->store = sc;
    ctx->audit->store = sc;

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


/*
 * AWS's answer to a guarded start: a 2xx makes the lease run, its own
 * refusal gives it back; without AWS's answer (nginx's 502 or 504, the
 * request gone) it stays pending: the sweep asks DescribeModel when its
 * wait is over, and keeps it only if the model is hosted
 */

time_t
ngx_http_lfv_store_settle(void *data, ngx_uint_t answered,
    ngx_uint_t accepted, ngx_log_t *log)
{
    ngx_http_lfv_store_call_t *sc = data;

    time_t                           now, reconcile;
    ngx_http_lfv_store_lease_t      *l;
    ngx_http_lfv_store_lease_req_t   lr;

    if (sc == NULL || !sc->guarded || sc->settled || !sc->answered
        || sc->reason != NGX_HTTP_LFV_OK)
    {
        return 0;
    }

    sc->settled = 1;

    if (!answered) {
        return 0;
    }

    if (!accepted) {
        ngx_http_lfv_store_give_back(sc, log);
        return 0;
    }

    l = &sc->lease;
    now = ngx_time();
    reconcile = sc->lmcf->lease.reconcile;

    l->started = now;
    l->ends = sc->policy->lease ? now + sc->policy->lease : 0;
    l->due = l->ends ? ngx_min(l->ends, now + reconcile) : now + reconcile;
    l->pending = 0;
    ngx_str_null(&l->owner);
    l->claimed = 0;

    if (ngx_http_lfv_store_lease_put(&lr, &sc->lmcf->store.table, l, 0)
        == NGX_OK)
    {
        (void) ngx_http_lfv_store_write(sc->lmcf, &lr.req, "a lease", log);
    }

    return l->ends;
}


/* a StopModel through the proxy that AWS accepted ends the lease */

void
ngx_http_lfv_store_stopped(ngx_http_lfv_main_conf_t *lmcf, ngx_str_t *team,
    ngx_str_t *key, ngx_log_t *log)
{
    ngx_http_lfv_store_lease_req_t  lr;

    if (ngx_http_lfv_store_lease_delete(&lr, &lmcf->store.table, team, key,
                                        NGX_HTTP_LFV_STORE_LEASE_ANY, NULL)
        == NGX_OK)
    {
        (void) ngx_http_lfv_store_write(lmcf, &lr.req,
                                        "the end of a lease", log);
    }
}


/* a start's pending lease, deleted if it is still its own */

static void
ngx_http_lfv_store_give_back(ngx_http_lfv_store_call_t *sc, ngx_log_t *log)
{
    ngx_http_lfv_store_lease_req_t  lr;

    if (!sc->leased) {
        return;
    }

    sc->leased = 0;

    if (ngx_http_lfv_store_lease_delete(&lr, &sc->lmcf->store.table,
                                        &sc->team, &sc->lease.key,
                                        NGX_HTTP_LFV_STORE_LEASE_STARTING,
                                        ngx_http_lfv_store_owner())
        == NGX_OK)
    {
        (void) ngx_http_lfv_store_write(sc->lmcf, &lr.req,
                                        "a lease given back", log);
    }
}


/* one call: the request's body in a pool of its own, signed, sent */

ngx_int_t
ngx_http_lfv_store_send(ngx_http_lfv_store_io_t *io,
    ngx_http_lfv_main_conf_t *lmcf, ngx_http_lfv_ddb_request_t *req,
    ngx_log_t *log, ngx_http_lfv_fetch_handler_pt handler, void *data)
{
    char        *err;
    ngx_str_t    body;
    ngx_pool_t  *pool;

    body.len = ngx_http_lfv_ddb_request_len(req, &err);
    if (body.len == 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "lfv: the store's request: %s", err);
        return NGX_ERROR;
    }

    pool = ngx_create_pool(NGX_HTTP_LFV_FETCH_MAX + 4096, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    body.data = ngx_pnalloc(pool, body.len);
    if (body.data == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    (void) ngx_http_lfv_ddb_write_request(body.data, req);

    return ngx_http_lfv_store_fetch(io, lmcf, pool, req->op, &body, log,
                                    handler, data);
}


/* signed with the base credentials: the store is the proxy's own */

static ngx_int_t
ngx_http_lfv_store_fetch(ngx_http_lfv_store_io_t *io,
    ngx_http_lfv_main_conf_t *lmcf, ngx_pool_t *pool,
    ngx_http_lfv_ddb_op_e op, ngx_str_t *body, ngx_log_t *log,
    ngx_http_lfv_fetch_handler_pt handler, void *data)
{
    time_t                          retry_after;
    ngx_http_lfv_creds_t           *creds;
    ngx_http_lfv_fetch_t           *f;
    ngx_http_lfv_store_conf_t      *scf;
    ngx_http_lfv_endpoint_call_t    call;

    scf = &lmcf->store;

    if (ngx_http_lfv_credentials_get(&lmcf->creds, &creds, &retry_after)
        != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    ngx_memzero(&call, sizeof(ngx_http_lfv_endpoint_call_t));

    ngx_str_set(&call.method, "POST");
    ngx_str_set(&call.uri, "/");
    call.host = scf->endpoint.host;
    call.region = scf->endpoint.region;
    ngx_str_set(&call.service, "dynamodb");
    ngx_str_set(&call.content_type, "application/x-amz-json-1.0");
    call.target = *ngx_http_lfv_ddb_target(op);
    ngx_str_set(&call.accept, "application/json");
    call.body = *body;
    call.access_key_id = &creds->access_key_id;
    call.secret_access_key = &creds->secret_access_key;
    call.session_token = &creds->session_token;

    f = &io->fetch;
    ngx_memzero(f, sizeof(ngx_http_lfv_fetch_t));

    f->request = ngx_http_lfv_endpoint_signed(pool, &lmcf->crypto, &call);
    if (f->request == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    ngx_http_lfv_endpoint_fetch_init(&scf->endpoint, f);

    f->timeout = scf->timeout;
    f->pool = pool;
    f->log = log;
    f->handler = handler;
    f->data = data;

    io->lmcf = lmcf;
    io->sent = ngx_current_msec;
    io->busy = 1;

    ngx_http_lfv_fetch(f);

    return NGX_OK;
}


/*
 * What came of a call: its answer, a condition that failed (a race,
 * not an error), or a failure, counted and logged (unless "what" is
 * NULL) as "the store ... failed: why; what"
 */

ngx_http_lfv_store_rc_e
ngx_http_lfv_store_result(ngx_http_lfv_store_io_t *io, char *what)
{
    u_char                    *p;
    char                      *err;
    ngx_str_t                  type;
    ngx_http_lfv_fetch_t      *f;
    ngx_http_lfv_ddb_error_t   error;

    f = &io->fetch;
    io->busy = 0;

    if (f->rc == NGX_OK && f->resp.status == NGX_HTTP_OK) {
        ngx_http_lfv_store_account(io->lmcf, io->sent, 1, 0, NULL, 0);
        return NGX_HTTP_LFV_STORE_DONE;
    }

    ngx_str_null(&type);

    if (f->rc == NGX_OK
        && ngx_http_lfv_ddb_parse_error(f->resp.body.data, f->resp.body.len,
                                        &error, &err)
           == NGX_OK)
    {
        type = error.type;
    }

    if (f->resp.status == NGX_HTTP_BAD_REQUEST
        && type.len == sizeof("ConditionalCheckFailedException") - 1
        && ngx_strncmp(type.data, "ConditionalCheckFailedException",
                       type.len) == 0)
    {
        ngx_http_lfv_store_account(io->lmcf, io->sent, 1, 1, NULL, 0);
        return NGX_HTTP_LFV_STORE_CONDITION;
    }

    if (f->rc != NGX_OK) {
        p = ngx_snprintf(io->error, sizeof(io->error), "%s",
                         f->err ? f->err : "no answer");

    } else if (type.len) {
        p = ngx_snprintf(io->error, sizeof(io->error),
                         "the store refused the call: %V", &type);

    } else {
        p = ngx_snprintf(io->error, sizeof(io->error),
                         "the store refused the call: status %ui",
                         f->resp.status);
    }

    io->error_len = p - io->error;

    ngx_http_lfv_store_account(io->lmcf, io->sent, 0, 0, io->error,
                               io->error_len);

    if (what) {
        ngx_log_error(NGX_LOG_ERR, f->log, 0,
                      "lfv: the store of the team limits failed: %*s; %s",
                      io->error_len, io->error, what);
    }

    return NGX_HTTP_LFV_STORE_FAILED;
}


/* an answer of 200 that is not what DynamoDB answers */

void
ngx_http_lfv_store_refused(ngx_http_lfv_store_io_t *io, char *what,
    char *err)
{
    u_char  *p;

    p = ngx_snprintf(io->error, sizeof(io->error), "%s", err);
    io->error_len = p - io->error;

    ngx_http_lfv_store_account(io->lmcf, io->sent, 0, 0, io->error,
                               io->error_len);

    ngx_log_error(NGX_LOG_ERR, io->fetch.log ? io->fetch.log : ngx_cycle->log,
                  0, "lfv: the store of the team limits failed: %*s; %s",
                  io->error_len, io->error, what);
}


void
ngx_http_lfv_store_close(ngx_http_lfv_store_io_t *io)
{
    if (io->fetch.pool == NULL) {
        return;
    }

    if (io->busy) {
        ngx_http_lfv_fetch_abort(&io->fetch);
        io->busy = 0;
    }

    ngx_destroy_pool(io->fetch.pool);
    io->fetch.pool = NULL;
}


static void
ngx_http_lfv_store_next(ngx_http_lfv_store_call_t *sc)
{
    ngx_int_t                        rc;
    ngx_log_t                       *log;
    ngx_http_lfv_ddb_item_t          values;
    ngx_http_lfv_ddb_request_t       req;
    ngx_http_lfv_store_lease_req_t   lr;

    log = sc->request ? sc->request->connection->log : ngx_cycle->log;

    rc = ngx_http_lfv_store_request(sc, &req, &values, &lr);

    if (rc == NGX_DECLINED) {
        ngx_http_lfv_store_refused(&sc->io, "the start is refused",
                                   "too many starts of the team in flight");
        ngx_http_lfv_store_fail(sc);
        return;
    }

    if (rc == NGX_OK) {
        rc = ngx_http_lfv_store_send(&sc->io, sc->lmcf,
                                     (sc->step == NGX_HTTP_LFV_STORE_LEASE)
                                     ? &lr.req : &req,
                                     log, ngx_http_lfv_store_done, sc);
    }

    if (rc != NGX_OK && sc->request == NULL) {
        ngx_http_lfv_store_probing = NULL;
        ngx_free(sc);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_lfv_store_refused(&sc->io, "the start is refused",
                                   (rc == NGX_DECLINED)
                                   ? "no usable AWS credentials to sign with"
                                   : "the request could not be made");
        ngx_http_lfv_store_fail(sc);
    }
}


/*
 * The team's partition "team#NAME": its item "limits" read consistently
 * with its leases, then written on the condition that its version is
 * still the one read
 */

static ngx_int_t
ngx_http_lfv_store_request(ngx_http_lfv_store_call_t *sc,
    ngx_http_lfv_ddb_request_t *req, ngx_http_lfv_ddb_item_t *values,
    ngx_http_lfv_store_lease_req_t *lr)
{
    ngx_uint_t                i;
    ngx_pool_t               *pool;
    ngx_http_lfv_ddb_attr_t  *a;

    static ngx_http_lfv_ddb_name_t  names[] = {
        { ngx_string("#ver"), ngx_string("ver") },
        { ngx_string("#win"), ngx_string("win") },
        { ngx_string("#used"), ngx_string("used") },
        { ngx_string("#excess"), ngx_string("excess") },
        { ngx_string("#last"), ngx_string("last_ms") },
        { ngx_string("#exp"), ngx_string("expires") },
        { ngx_string("#adm"), ngx_string("admitted") },
    };

    static const ngx_str_t  placeholders[] = {
        ngx_string(":ver"), ngx_string(":win"), ngx_string(":used"),
        ngx_string(":excess"), ngx_string(":last"), ngx_string(":exp"),
        ngx_string(":adm"), ngx_string(":old")
    };

    if (sc->step == NGX_HTTP_LFV_STORE_LEASE) {
        return ngx_http_lfv_store_lease_put(lr, &sc->lmcf->store.table,
                                            &sc->lease, 1);
    }

    ngx_memzero(req, sizeof(ngx_http_lfv_ddb_request_t));
    ngx_memzero(values, sizeof(ngx_http_lfv_ddb_item_t));

    req->table = sc->lmcf->store.table;

    if (sc->request == NULL) {

        /* the probe: any item or none, the store answers */

        req->op = NGX_HTTP_LFV_DDB_GET_ITEM;
        ngx_str_set(&req->pk, "team#");
        ngx_str_set(&req->sk, "limits");
        return NGX_OK;
    }

    pool = sc->request->pool;

    req->pk.len = sizeof("team#") - 1 + sc->team.len;
    req->pk.data = ngx_pnalloc(pool, req->pk.len);
    if (req->pk.data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(req->pk.data, "team#%V", &sc->team);

    if (sc->step == NGX_HTTP_LFV_STORE_READ) {
        req->op = NGX_HTTP_LFV_DDB_QUERY;
        ngx_str_set(&req->key_condition, "pk = :pk");
        req->values = values;
        req->limit = NGX_HTTP_LFV_STORE_PAGE;
        req->start = sc->next;
        req->consistent = 1;

        values->nattrs = 1;
        ngx_str_set(&values->attrs[0].name, ":pk");
        values->attrs[0].type = NGX_HTTP_LFV_DDB_S;
        values->attrs[0].s = req->pk;

        req->pk.len = 0;

        return NGX_OK;
    }

    req->op = NGX_HTTP_LFV_DDB_UPDATE_ITEM;
    ngx_str_set(&req->sk, "limits");
    ngx_str_set(&req->update, "SET #ver = :ver, #win = :win, "
                              "#used = :used, #excess = :excess, "
                              "#last = :last, #exp = :exp, #adm = :adm");

    if (sc->version) {
        ngx_str_set(&req->condition, "#ver = :old");

    } else {
        ngx_str_set(&req->condition, "attribute_not_exists(#ver)");
    }

    req->names = names;
    req->nnames = sizeof(names) / sizeof(names[0]);

    values->nattrs = sc->version ? 8 : 7;

    for (i = 0; i < values->nattrs; i++) {
        a = &values->attrs[i];
        a->name = placeholders[i];
        a->type = NGX_HTTP_LFV_DDB_N;
    }

    values->attrs[0].n = sc->version + 1;
    values->attrs[1].n = sc->bucket.window;
    values->attrs[2].n = sc->bucket.used;
    values->attrs[3].n = sc->bucket.excess;
    values->attrs[4].n = sc->bucket.last;

    /*
     * The table's TTL drops an item no start has used for long, never
     * while its budget window runs
     */

    values->attrs[5].n = ngx_max(ngx_time() + NGX_HTTP_LFV_STORE_TTL,
                                 sc->bucket.window + sc->policy->window
                                 + 86400);

    /* the starts still pending that it admitted, and this one */

    values->attrs[6].type = NGX_HTTP_LFV_DDB_S;
    values->attrs[6].s.data = sc->admit;
    values->attrs[6].s.len = sc->admit_len;

    if (sc->leased) {
        if (sc->admit_len + 1 + NGX_HTTP_LFV_STORE_NONCE_LEN
            > NGX_HTTP_LFV_DDB_S_MAX)
        {
            return NGX_DECLINED;
        }

        values->attrs[6].s.len = ngx_sprintf(sc->admit + sc->admit_len,
                                             sc->admit_len ? " %V" : "%V",
                                             &sc->lease.nonce)
                                 - sc->admit;
    }

    values->attrs[7].n = sc->version;

    req->values = values;

    return NGX_OK;
}


static void
ngx_http_lfv_store_done(ngx_http_lfv_fetch_t *f)
{
    char                       *err;
    ngx_http_lfv_store_rc_e     rc;
    ngx_http_lfv_store_call_t  *sc;

    sc = f->data;

    rc = ngx_http_lfv_store_result(&sc->io, sc->request
                                            ? "the start is refused" : NULL);

    if (sc->request == NULL) {

        /* the probe */

        ngx_http_lfv_store_close(&sc->io);
        ngx_http_lfv_store_probing = NULL;
        ngx_free(sc);
        return;
    }

    if (rc == NGX_HTTP_LFV_STORE_FAILED) {
        ngx_http_lfv_store_fail(sc);
        return;
    }

    switch (sc->step) {

    case NGX_HTTP_LFV_STORE_READ:

        if (rc != NGX_HTTP_LFV_STORE_DONE) {
            ngx_http_lfv_store_refused(&sc->io, "the start is refused",
                                       "a read failed a condition");
            ngx_http_lfv_store_fail(sc);
            return;
        }

        if (ngx_http_lfv_store_read(sc, &f->resp.body, &err) != NGX_OK) {
            ngx_http_lfv_store_refused(&sc->io, "the start is refused", err);
            ngx_http_lfv_store_fail(sc);
            return;
        }

        ngx_http_lfv_store_close(&sc->io);

        if (sc->next) {
            ngx_http_lfv_store_next(sc);
            return;
        }

        ngx_http_lfv_store_decided(sc);
        return;

    case NGX_HTTP_LFV_STORE_LEASE:

        /* written, or the model has a lease: the commit replaces it */

        sc->leased = (rc == NGX_HTTP_LFV_STORE_DONE);

        ngx_http_lfv_store_close(&sc->io);

        sc->step = NGX_HTTP_LFV_STORE_WRITE;
        ngx_http_lfv_store_next(sc);
        return;

    default: /* NGX_HTTP_LFV_STORE_WRITE */
        break;
    }

    ngx_http_lfv_store_close(&sc->io);

    if (rc == NGX_HTTP_LFV_STORE_DONE) {
        sc->reason = NGX_HTTP_LFV_OK;
        ngx_http_lfv_store_answer(sc);
        return;
    }

    /* someone wrote the item since it was read: read it again */

    if (++sc->races >= NGX_HTTP_LFV_STORE_RACES) {
        ngx_http_lfv_store_refused(&sc->io, "the start is refused",
                                   "too many concurrent writes");
        ngx_http_lfv_store_fail(sc);
        return;
    }

    sc->step = NGX_HTTP_LFV_STORE_READ;

    /* the writers that met apart again: a few random ms */

    sc->backoff.handler = ngx_http_lfv_store_again;
    sc->backoff.data = sc;
    sc->backoff.log = f->log;

    ngx_add_timer(&sc->backoff, ngx_random() % (4 * sc->races) + 1);
}


static void
ngx_http_lfv_store_again(ngx_event_t *ev)
{
    ngx_http_lfv_store_next(ev->data);
}


/* decided as the zone decides, on the wall clock the proxies share */

static void
ngx_http_lfv_store_decided(ngx_http_lfv_store_call_t *sc)
{
    time_t                  now;
    ngx_time_t             *tp;
    ngx_uint_t              over;
    ngx_msec_t              ms_now;
    ngx_connection_t       *c;

    c = sc->request->connection;

    if (sc->guarded && sc->policy->running_units
        && sc->running + sc->units > sc->policy->running_units)
    {
        sc->reason = NGX_HTTP_LFV_RUNNING_UNITS;
        sc->retry_after = 60;

        ngx_http_lfv_store_give_back(sc, c->log);
        ngx_http_lfv_store_answer(sc);
        return;
    }

    tp = ngx_timeofday();
    now = tp->sec;
    ms_now = (ngx_msec_t) tp->sec * 1000 + tp->msec;

    sc->reason = ngx_http_lfv_limit_charge(sc->policy, &sc->bucket, sc->units,
                                           now, ms_now, &sc->delay,
                                           &sc->retry_after, &over);

    if (over) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "lfv: team \"%V\" over its rate, dry run", &sc->team);
    }

    if (sc->reason != NGX_HTTP_LFV_OK) {

        /* a refusal changes nothing in the store */

        ngx_http_lfv_store_give_back(sc, c->log);
        ngx_http_lfv_store_answer(sc);
        return;
    }

    /* a guarded start's lease is written before the limits, once */

    if (sc->guarded && sc->races == 0) {
        sc->step = NGX_HTTP_LFV_STORE_LEASE;

    } else {
        sc->step = NGX_HTTP_LFV_STORE_WRITE;
    }

    ngx_http_lfv_store_next(sc);
}


/*
 * A page of the team's partition, read strictly: the limits item's
 * numbers, the units of every other model's lease; the next page's key
 */

static ngx_int_t
ngx_http_lfv_store_read(ngx_http_lfv_store_call_t *sc, ngx_str_t *body,
    char **err)
{
    ngx_uint_t                  i, j;
    ngx_pool_t                 *pool;
    ngx_http_lfv_ddb_attr_t    *sk, *a;
    ngx_http_lfv_ddb_item_t    *items, *next;
    ngx_http_lfv_ddb_query_t    q;
    ngx_http_lfv_store_lease_t  l;

    pool = sc->request->pool;

    if (sc->next == NULL) {
        ngx_memzero(&sc->bucket, sizeof(ngx_http_lfv_bucket_t));
        sc->version = 0;
        sc->running = 0;
        sc->pages = 0;
        sc->admit_len = 0;
        ngx_str_null(&sc->admitted);
    }

    if (++sc->pages > NGX_HTTP_LFV_STORE_PAGES) {
        *err = "the team has more items than a start reads";
        return NGX_ERROR;
    }

    items = ngx_palloc(sc->io.fetch.pool,
                       NGX_HTTP_LFV_STORE_PAGE
                       * sizeof(ngx_http_lfv_ddb_item_t));
    if (items == NULL) {
        *err = "no memory";
        return NGX_ERROR;
    }

    ngx_memzero(&q, sizeof(ngx_http_lfv_ddb_query_t));

    q.items = items;
    q.max = NGX_HTTP_LFV_STORE_PAGE;

    if (ngx_http_lfv_ddb_parse_query(body->data, body->len, &q, err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < q.nitems; i++) {
        sk = ngx_http_lfv_ddb_attr(&items[i], NGX_HTTP_LFV_DDB_SK);

        if (sk == NULL || sk->type != NGX_HTTP_LFV_DDB_S) {
            *err = "an item of the team has no sort key";
            return NGX_ERROR;
        }

        if (sk->s.len == sizeof("limits") - 1
            && ngx_strncmp(sk->s.data, "limits", sk->s.len) == 0)
        {
            if (ngx_http_lfv_store_limits(sc, &items[i], err) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        if (sk->s.len < sizeof("model#") - 1
            || ngx_strncmp(sk->s.data, "model#", sizeof("model#") - 1) != 0)
        {
            continue;
        }

        /* this model's own lease is replaced by the start: not counted */

        if (sc->guarded && sk->s.len == sc->sk.len
            && ngx_strncmp(sk->s.data, sc->sk.data, sk->s.len) == 0)
        {
            continue;
        }

        if (ngx_http_lfv_store_lease_parse(&items[i], &l, err) != NGX_OK) {
            return NGX_ERROR;
        }

        if (!l.pending) {
            sc->running += l.units;
            continue;
        }

        /*
         * A pending start counts once the limits admitted it; until then
         * it is a start that may lose its race
         */

        if (!ngx_http_lfv_store_limits_admit(&sc->admitted, &l.nonce)) {
            continue;
        }

        if (sc->admit_len + 1 + l.nonce.len > NGX_HTTP_LFV_DDB_S_MAX) {
            *err = "too many starts of the team in flight";
            return NGX_ERROR;
        }

        sc->admit_len = ngx_sprintf(sc->admit + sc->admit_len,
                                    sc->admit_len ? " %V" : "%V", &l.nonce)
                        - sc->admit;
        sc->running += l.units;
    }

    sc->next = NULL;

    if (!q.more) {
        return NGX_OK;
    }

    /* the key to go on from, out of the answer's buffer */

    next = ngx_palloc(pool, sizeof(ngx_http_lfv_ddb_item_t));
    if (next == NULL) {
        *err = "no memory";
        return NGX_ERROR;
    }

    *next = q.last_key;

    for (j = 0; j < next->nattrs; j++) {
        a = &next->attrs[j];

        a->name.data = ngx_pstrdup(pool, &a->name);
        a->s.data = a->s.len ? ngx_pstrdup(pool, &a->s) : a->s.data;

        if (a->name.data == NULL || (a->s.len && a->s.data == NULL)) {
            *err = "no memory";
            return NGX_ERROR;
        }
    }

    sc->next = next;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_store_limits(ngx_http_lfv_store_call_t *sc,
    ngx_http_lfv_ddb_item_t *item, char **err)
{
    ngx_http_lfv_store_limits_t  lim;

    if (ngx_http_lfv_store_limits_parse(item, &lim, err) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the nonces outlive the page they were read from */

    if (lim.admitted.len) {
        sc->admitted.data = ngx_pstrdup(sc->request->pool, &lim.admitted);
        if (sc->admitted.data == NULL) {
            *err = "no memory";
            return NGX_ERROR;
        }

        sc->admitted.len = lim.admitted.len;
    }

    sc->version = lim.version;
    sc->bucket.window = lim.window;
    sc->bucket.used = lim.used;
    sc->bucket.excess = lim.excess;
    sc->bucket.last = lim.last;

    return NGX_OK;
}


/* fail closed: a start the store cannot decide is refused */

static void
ngx_http_lfv_store_fail(ngx_http_lfv_store_call_t *sc)
{
    ngx_http_lfv_store_close(&sc->io);

    if (sc->request == NULL) {
        ngx_http_lfv_store_probing = NULL;
        ngx_free(sc);
        return;
    }

    sc->reason = NGX_HTTP_LFV_STORE_UNAVAILABLE;
    sc->retry_after = 1;

    ngx_http_lfv_store_give_back(sc, sc->request->connection->log);
    ngx_http_lfv_store_answer(sc);
}


/* what the status page shows, in the policy zone */

static void
ngx_http_lfv_store_account(ngx_http_lfv_main_conf_t *lmcf, ngx_msec_t sent,
    ngx_uint_t ok, ngx_uint_t race, u_char *error, size_t len)
{
    time_t                        now;
    ngx_slab_pool_t              *shpool;
    ngx_http_lfv_store_health_t  *h;

    h = ngx_http_lfv_store_shared(lmcf, &shpool);
    now = ngx_time();

    ngx_shmtx_lock(&shpool->mutex);

    h->calls++;
    h->latency = ngx_current_msec - sent;

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


static void
ngx_http_lfv_store_queued(ngx_http_lfv_main_conf_t *lmcf, ngx_int_t n)
{
    ngx_slab_pool_t              *shpool;
    ngx_http_lfv_store_health_t  *h;

    h = ngx_http_lfv_store_shared(lmcf, &shpool);

    ngx_shmtx_lock(&shpool->mutex);
    h->queued += n;
    ngx_shmtx_unlock(&shpool->mutex);
}


/* back to the request, in its own event loop turn */

static void
ngx_http_lfv_store_answer(ngx_http_lfv_store_call_t *sc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    ngx_http_lfv_store_close(&sc->io);

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

    ngx_http_lfv_store_close(&sc->io);

    /* refused before AWS was asked, or never forwarded */

    if (!sc->answered || sc->reason != NGX_HTTP_LFV_OK) {
        ngx_http_lfv_store_give_back(sc, ngx_cycle->log);
    }
}


/*
 * The writes that need no answer (a lease's commit, its end, what came
 * of a call) wait in their worker until the store takes them, in order;
 * a condition that failed is an answer too.  What a worker that exits
 * had not written is set right by the sweep: a pending lease is checked
 * when its wait is over, a lease's end by its StopModel or check.
 */

ngx_int_t
ngx_http_lfv_store_write(ngx_http_lfv_main_conf_t *lmcf,
    ngx_http_lfv_ddb_request_t *req, char *what, ngx_log_t *log)
{
    char                        *err;
    size_t                       len;
    ngx_queue_t                 *q;
    ngx_http_lfv_store_write_t  *w;

    len = ngx_http_lfv_ddb_request_len(req, &err);
    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "lfv: the store's request: %s", err);
        return NGX_ERROR;
    }

    if (ngx_http_lfv_store_writes_conf == NULL) {
        ngx_queue_init(&ngx_http_lfv_store_writes);
        ngx_http_lfv_store_writes_conf = lmcf;
    }

    if (ngx_http_lfv_store_nwrites >= NGX_HTTP_LFV_STORE_QUEUE) {

        /* the oldest that is not in flight makes room */

        q = ngx_queue_head(&ngx_http_lfv_store_writes);

        if (ngx_http_lfv_store_writing) {
            q = ngx_queue_next(q);
        }

        if (q != ngx_queue_sentinel(&ngx_http_lfv_store_writes)) {
            w = ngx_queue_data(q, ngx_http_lfv_store_write_t, queue);

            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "lfv: %ui writes wait for the store: %s is "
                          "dropped, the sweep sets it right",
                          ngx_http_lfv_store_nwrites, w->what);

            ngx_queue_remove(q);
            ngx_free(w);
            ngx_http_lfv_store_nwrites--;
            ngx_http_lfv_store_queued(lmcf, -1);
        }
    }

    w = ngx_alloc(sizeof(ngx_http_lfv_store_write_t) + len, log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->op = req->op;
    w->what = what;
    w->body.data = (u_char *) (w + 1);
    w->body.len = len;

    (void) ngx_http_lfv_ddb_write_request(w->body.data, req);

    ngx_queue_insert_tail(&ngx_http_lfv_store_writes, &w->queue);
    ngx_http_lfv_store_nwrites++;
    ngx_http_lfv_store_queued(lmcf, 1);

    ngx_http_lfv_store_flush(log);

    return NGX_OK;
}


/* the first write waiting, sent; called again each second */

void
ngx_http_lfv_store_flush(ngx_log_t *log)
{
    ngx_int_t                    rc;
    ngx_pool_t                  *pool;
    ngx_http_lfv_store_write_t  *w;

    if (ngx_http_lfv_store_writing || ngx_http_lfv_store_nwrites == 0) {
        return;
    }

    w = ngx_queue_data(ngx_queue_head(&ngx_http_lfv_store_writes),
                       ngx_http_lfv_store_write_t, queue);

    pool = ngx_create_pool(NGX_HTTP_LFV_FETCH_MAX + 4096, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    ngx_http_lfv_store_writing = 1;

    rc = ngx_http_lfv_store_fetch(&ngx_http_lfv_store_writer,
                                  ngx_http_lfv_store_writes_conf, pool, w->op,
                                  &w->body, ngx_cycle->log,
                                  ngx_http_lfv_store_written, w);

    if (rc != NGX_OK) {
        ngx_http_lfv_store_writing = 0;
    }
}


static void
ngx_http_lfv_store_written(ngx_http_lfv_fetch_t *f)
{
    ngx_http_lfv_store_rc_e      rc;
    ngx_http_lfv_store_write_t  *w;

    static ngx_uint_t  failing;

    w = f->data;

    rc = ngx_http_lfv_store_result(&ngx_http_lfv_store_writer, NULL);

    ngx_http_lfv_store_close(&ngx_http_lfv_store_writer);
    ngx_http_lfv_store_writing = 0;

    if (rc == NGX_HTTP_LFV_STORE_FAILED) {

        /* said once, until the store takes the writes again */

        if (!failing) {
            failing = 1;

            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "lfv: the store of the team limits failed: %*s; "
                          "%s and %ui other writes wait for it",
                          ngx_http_lfv_store_writer.error_len,
                          ngx_http_lfv_store_writer.error, w->what,
                          ngx_http_lfv_store_nwrites - 1);
        }

        return;
    }

    if (failing) {
        failing = 0;

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "lfv: the store answers again: %ui writes that "
                      "waited are sent", ngx_http_lfv_store_nwrites);
    }

    ngx_queue_remove(&w->queue);
    ngx_free(w);

    ngx_http_lfv_store_nwrites--;
    ngx_http_lfv_store_queued(ngx_http_lfv_store_writes_conf, -1);

    ngx_http_lfv_store_flush(ngx_cycle->log);
}


/* a worker that exits says what it could not write */

void
ngx_http_lfv_store_exit_worker(ngx_log_t *log)
{
    ngx_queue_t                 *q, *next;
    ngx_http_lfv_store_write_t  *w;

    if (ngx_http_lfv_store_writing) {
        ngx_http_lfv_store_close(&ngx_http_lfv_store_writer);
        ngx_http_lfv_store_writing = 0;
    }

    if (ngx_http_lfv_store_nwrites == 0) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "lfv: %ui writes to the store are not made at exit; "
                  "the sweep of the other proxies sets them right",
                  ngx_http_lfv_store_nwrites);

    ngx_http_lfv_store_queued(ngx_http_lfv_store_writes_conf,
                              - (ngx_int_t) ngx_http_lfv_store_nwrites);

    for (q = ngx_queue_head(&ngx_http_lfv_store_writes);
         q != ngx_queue_sentinel(&ngx_http_lfv_store_writes);
         q = next)
    {
        next = ngx_queue_next(q);
        w = ngx_queue_data(q, ngx_http_lfv_store_write_t, queue);
        ngx_free(w);
    }

    ngx_queue_init(&ngx_http_lfv_store_writes);
    ngx_http_lfv_store_nwrites = 0;
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
    sc->io.lmcf = lmcf;
    sc->step = NGX_HTTP_LFV_STORE_READ;

    ngx_http_lfv_store_probing = sc;

    ngx_http_lfv_store_next(sc);
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
