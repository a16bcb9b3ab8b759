
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_handler.h"
#include "ngx_http_lfv_request.h"
#include "ngx_http_lfv_error.h"
#include "ngx_http_lfv_sign.h"
#include "ngx_http_lfv_limit.h"
#include "ngx_http_lfv_store.h"
#include "ngx_http_lfv_body.h"


/* indexed by ngx_http_lfv_op_e */

static char  *ngx_http_lfv_op_verbs[] = {
    "use", "start", "stop", "describe", "list"
};

static ngx_str_t  ngx_http_lfv_op_methods[] = {
    ngx_null_string,
    ngx_string("only POST is allowed on the StartModel route"),
    ngx_string("only POST is allowed on the StopModel route"),
    ngx_string("only GET is allowed on the DescribeModel route"),
    ngx_string("only GET is allowed on the ListModels route")
};


static ngx_int_t ngx_http_lfv_redirected(ngx_http_request_t *r,
    ngx_http_lfv_audit_t *audit);
static ngx_http_lfv_audit_t *ngx_http_lfv_create_audit(ngx_http_request_t *r);
static void ngx_http_lfv_audit_cleanup(void *data);
static ngx_int_t ngx_http_lfv_team(ngx_http_request_t *r,
    ngx_http_lfv_audit_t *audit);
static ngx_http_lfv_reason_e ngx_http_lfv_check_request(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx);
static ngx_http_lfv_reason_e ngx_http_lfv_check_policy(ngx_http_request_t *r,
    ngx_http_lfv_audit_t *audit);
static void ngx_http_lfv_body_handler(ngx_http_request_t *r);
static ngx_http_lfv_reason_e ngx_http_lfv_check_body(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx);
static void ngx_http_lfv_continue(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx);
static void ngx_http_lfv_delay(ngx_http_request_t *r, ngx_msec_t delay);
static void ngx_http_lfv_wait_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_lfv_wait(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_creds_conf_t *ccf);
static void ngx_http_lfv_wait_cleanup(void *data);
static void ngx_http_lfv_resume(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_reason_e reason);
static ngx_http_lfv_reason_e ngx_http_lfv_sign_request(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_creds_t *creds);
static ngx_int_t ngx_http_lfv_reject(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_reason_e reason);
static void ngx_http_lfv_account(ngx_http_request_t *r,
    ngx_http_lfv_audit_t *audit, ngx_http_lfv_reason_e reason);


/*
 * PRECONTENT phase: after access checks, before proxy_pass.  The body
 * is read here, as the mirror module does, so that it can be hashed.
 */

ngx_int_t
ngx_http_lfv_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_lfv_ctx_t       *ctx;
    ngx_http_lfv_audit_t     *audit;
    ngx_http_lfv_reason_e     reason;
    ngx_http_lfv_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    if (!llcf->enable) {
        return NGX_DECLINED;
    }

    if (r != r->main) {

        /* a subrequest (mirror, SSI, auth_request) is never signed */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "lfv: subrequest \"%V\" refused", &r->uri);

        return NGX_HTTP_FORBIDDEN;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx) {

        /* the phases run again: the body is being read, or was decided */

        return ctx->status;
    }

    audit = ngx_http_lfv_get_audit(r);

    if (audit) {
        return ngx_http_lfv_redirected(r, audit);
    }

    audit = ngx_http_lfv_create_audit(r);
    if (audit == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_lfv_create_ctx(r, audit);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_lfv_team(r, audit) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    reason = ngx_http_lfv_check_request(r, ctx);

    if (reason == NGX_HTTP_LFV_OK) {
        reason = ngx_http_lfv_check_policy(r, audit);
    }

    if (reason == NGX_HTTP_LFV_OK
        && r->headers_in.content_length_n > (off_t) llcf->body_max_size)
    {
        reason = NGX_HTTP_LFV_BODY_TOO_LARGE;
    }

    if (reason != NGX_HTTP_LFV_OK) {
        return ngx_http_lfv_reject(r, ctx, reason);
    }

    ctx->status = NGX_DONE;

    rc = ngx_http_lfv_body_read(r, ctx, ngx_http_lfv_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->status = rc;
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


/*
 * Back in an lfv location after an internal redirect (error_page):
 * the request is never passed on again.  What was decided is answered;
 * an error nginx made while the body was read (400, 408) is its own.
 */

static ngx_int_t
ngx_http_lfv_redirected(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit)
{
    ngx_int_t            rc;
    ngx_http_lfv_ctx_t  *ctx;

    ctx = ngx_http_lfv_create_ctx(r, audit);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_lfv_decided(audit) && !ngx_http_lfv_forwarded(audit)) {
        return ngx_http_lfv_reject(r, ctx, audit->reason);
    }

    if (!ngx_http_lfv_decided(audit)) {
        ngx_http_lfv_decide(r, audit, NGX_HTTP_LFV_HTTP);
    }

    rc = (r->err_status >= NGX_HTTP_BAD_REQUEST)
         ? r->err_status : NGX_HTTP_INTERNAL_SERVER_ERROR;

    ctx->status = rc;

    return rc;
}


ngx_http_lfv_ctx_t *
ngx_http_lfv_create_ctx(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit)
{
    ngx_http_lfv_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_lfv_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->audit = audit;
    ctx->status = NGX_DECLINED;

    ngx_http_set_ctx(r, ctx, ngx_http_lfv_module);

    return ctx;
}


static ngx_http_lfv_audit_t *
ngx_http_lfv_create_audit(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_lfv_audit_t  *audit;

    audit = ngx_pcalloc(r->pool, sizeof(ngx_http_lfv_audit_t));
    if (audit == NULL) {
        return NULL;
    }

    audit->min_units = NGX_HTTP_LFV_UNITS_UNSET;
    audit->max_units = NGX_HTTP_LFV_UNITS_UNSET;

    /* the cleanup finds the record again after an internal redirect */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_lfv_audit_cleanup;
    cln->data = audit;

    return audit;
}


/*
 * The audit record of the request, also after an internal redirect has
 * cleared the module's context: found through the pool cleanup, as the
 * realip module finds its address, and only for the main request (a
 * subrequest shares the main request's pool).
 */

ngx_http_lfv_audit_t *
ngx_http_lfv_get_audit(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_lfv_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx) {
        return ctx->audit;
    }

    if (r != r->main || !(r->internal || r->filter_finalize)) {
        return NULL;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_lfv_audit_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


static void
ngx_http_lfv_audit_cleanup(void *data)
{
    ngx_http_lfv_audit_t  *audit = data;

    /* a start that ended without AWS's answer gives its reservation back */

    if (audit->lease) {
        ngx_http_lfv_lease_release(audit->lease_zone, audit->lease);
        audit->lease = NULL;
    }
}


/* the team, from lfv_team: a header of a trusted layer, a certificate */

static ngx_int_t
ngx_http_lfv_team(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit)
{
    ngx_http_lfv_loc_conf_t     *llcf;
    ngx_http_lfv_main_conf_t    *lmcf;
    ngx_http_lfv_policy_conf_t  *pcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    if (llcf->team
        && ngx_http_complex_value(r, llcf->team, &audit->team) != NGX_OK)
    {
        return NGX_ERROR;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);
    pcf = &lmcf->policy;

    /* an empty or unknown team gets the default policy, if there is one */

    if (audit->team.len <= NGX_HTTP_LFV_TEAM_MAX) {
        audit->policy = ngx_http_lfv_policy_find(pcf, &audit->team);

        if (audit->policy == NULL) {
            audit->policy = pcf->default_policy;
        }
    }

    /*
     * The key of the team's buckets and counters: its name when it has
     * a policy of its own.  Everything else (the default policy, no
     * policy at all) shares "-", so that varying the name does not dodge
     * the default's limits, nor fill the zone.
     */

    if (audit->policy && audit->policy != pcf->default_policy) {
        audit->key = audit->team;

    } else {
        ngx_str_set(&audit->key, "-");
    }

    return NGX_OK;
}


static ngx_http_lfv_reason_e
ngx_http_lfv_check_policy(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit)
{
    u_char                      *p;
    ngx_http_lfv_reason_e        reason;
    ngx_http_lfv_policy_conf_t  *pcf;
    ngx_http_lfv_main_conf_t    *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);
    pcf = &lmcf->policy;

    if (pcf->policies.nelts == 0) {
        return NGX_HTTP_LFV_OK;
    }

    if (audit->policy == NULL) {
        p = ngx_pnalloc(r->pool, sizeof("no policy allows team \"\"") - 1
                                 + NGX_HTTP_LFV_TEAM_MAX);
        if (p == NULL) {
            return NGX_HTTP_LFV_INTERNAL;
        }

        audit->message.data = p;
        audit->message.len = ngx_snprintf(p, sizeof("no policy allows team "
                                                  "\"\"") - 1
                                           + NGX_HTTP_LFV_TEAM_MAX,
                                        "no policy allows team \"%V\"",
                                        &audit->team)
                           - p;

        return NGX_HTTP_LFV_TEAM;
    }

    reason = ngx_http_lfv_policy_check_project(r, audit->policy,
                                               &audit->project);

    if (reason == NGX_HTTP_LFV_PROJECT_DENIED) {
        p = ngx_pnalloc(r->pool, NGX_HTTP_LFV_PROJECT_MAX
                                 + NGX_HTTP_LFV_TEAM_MAX + 64);
        if (p == NULL) {
            return NGX_HTTP_LFV_INTERNAL;
        }

        audit->message.data = p;
        audit->message.len = ngx_sprintf(p, "team \"%V\" may not %s models "
                                       "of project \"%V\"",
                                       &audit->team,
                                       ngx_http_lfv_op_verbs[audit->operation],
                                       &audit->project)
                           - p;
    }

    /* a lease names the model it stops: "latest" could move under it */

    if (reason == NGX_HTTP_LFV_OK
        && audit->operation == NGX_HTTP_LFV_OP_START
        && ngx_http_lfv_policy_guarded(audit->policy)
        && audit->version.len == sizeof("latest") - 1
        && ngx_strncmp(audit->version.data, "latest", audit->version.len) == 0)
    {
        return NGX_HTTP_LFV_LATEST_LEASED;
    }

    return reason;
}


static ngx_http_lfv_reason_e
ngx_http_lfv_check_request(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx)
{
    ngx_uint_t                i, tokens, method;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    ngx_http_lfv_audit_t     *audit;
    ngx_http_lfv_target_t     target;
    ngx_http_lfv_reason_e     reason;
    ngx_http_lfv_loc_conf_t  *llcf;

    audit = ctx->audit;
    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    reason = ngx_http_lfv_parse_target(r->unparsed_uri.data,
                                       r->unparsed_uri.len, &target);

    audit->operation = target.operation;
    audit->project = target.project;
    audit->version = target.version;

    if (reason == NGX_HTTP_LFV_OK
        && !(llcf->operations & (1 << target.operation)))
    {
        reason = NGX_HTTP_LFV_ROUTE;
    }

    if (reason == NGX_HTTP_LFV_ROUTE) {
        audit->operation = NGX_HTTP_LFV_OP_NONE;
        audit->message = llcf->route_message;
    }

    if (reason != NGX_HTTP_LFV_OK) {
        return reason;
    }

    ctx->query = target.query;

    /* the path that proxy_pass sends is the one that is signed */

    if (r->uri.len != target.path.len
        || ngx_strncmp(r->uri.data, target.path.data, r->uri.len) != 0)
    {
        return NGX_HTTP_LFV_ROUTE;
    }

    method = (target.operation == NGX_HTTP_LFV_OP_START
              || target.operation == NGX_HTTP_LFV_OP_STOP)
             ? NGX_HTTP_POST : NGX_HTTP_GET;

    if (r->method != method) {
        audit->message = ngx_http_lfv_op_methods[target.operation];
        return NGX_HTTP_LFV_METHOD;
    }

    /* a read has no body */

    if (method == NGX_HTTP_GET
        && (r->headers_in.content_length_n > 0 || r->headers_in.chunked))
    {
        return NGX_HTTP_LFV_BODY_NOT_ALLOWED;
    }

    tokens = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        /* nginx has lower-cased every name already */

        if (h[i].key.len == sizeof("content-type") - 1
            && ngx_memcmp(h[i].lowcase_key, "content-type",
                          sizeof("content-type") - 1)
               == 0)
        {
            reason = ngx_http_lfv_check_content_type(h[i].value.data,
                                                     h[i].value.len);
            if (reason != NGX_HTTP_LFV_OK) {
                return reason;
            }

            continue;
        }

        if (h[i].key.len == sizeof("x-amzn-client-token") - 1
            && ngx_memcmp(h[i].lowcase_key, "x-amzn-client-token",
                          sizeof("x-amzn-client-token") - 1)
               == 0)
        {
            if (tokens++) {
                return NGX_HTTP_LFV_CLIENT_TOKEN;
            }

            reason = ngx_http_lfv_check_client_token(h[i].value.data,
                                                     h[i].value.len);
            if (reason != NGX_HTTP_LFV_OK) {
                return reason;
            }

            audit->client_token = h[i].value;
        }
    }

    /* only StartModel and StopModel take a client token */

    if (method == NGX_HTTP_GET) {
        ngx_str_null(&audit->client_token);
    }

    return NGX_HTTP_LFV_OK;
}


static void
ngx_http_lfv_body_handler(ngx_http_request_t *r)
{
    ngx_http_lfv_ctx_t     *ctx;
    ngx_http_lfv_reason_e   reason;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    ctx->body_reading = 0;

    reason = ngx_http_lfv_check_body(r, ctx);

    if (reason != NGX_HTTP_LFV_OK) {
        ngx_http_lfv_resume(r, ctx, reason);
        return;
    }

    ctx->wait_start = ngx_current_msec;

    ngx_http_lfv_continue(r, ctx);
}


static ngx_http_lfv_reason_e
ngx_http_lfv_check_body(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx)
{
    u_char                 *p;
    ngx_http_lfv_audit_t   *audit;
    ngx_http_lfv_reason_e   reason;

    audit = ctx->audit;

    switch (audit->operation) {

    case NGX_HTTP_LFV_OP_START:
        break;

    case NGX_HTTP_LFV_OP_STOP:
        return ngx_http_lfv_parse_empty_body(ctx->body.data, ctx->body.len);

    default:
        return ctx->body.len ? NGX_HTTP_LFV_BODY_NOT_ALLOWED : NGX_HTTP_LFV_OK;
    }

    reason = ngx_http_lfv_parse_body(ctx->body.data, ctx->body.len,
                                     &audit->min_units, &audit->max_units);

    if (reason != NGX_HTTP_LFV_OK || audit->policy == NULL) {
        return reason;
    }

    reason = ngx_http_lfv_policy_check_units(audit->policy, audit->min_units,
                                             audit->max_units);

    if (reason != NGX_HTTP_LFV_OK) {

        /* the message names the cap */

        p = ngx_pnalloc(r->pool, NGX_HTTP_LFV_TEAM_MAX + 128);
        if (p == NULL) {
            return NGX_HTTP_LFV_INTERNAL;
        }

        audit->message.data = p;
        audit->message.len =
            ngx_sprintf(p, "%s %i is over the cap of %i for team \"%V\"",
                        (reason == NGX_HTTP_LFV_MIN_UNITS_CAP
                         || audit->max_units <= 0)
                        ? "MinInferenceUnits" : "MaxInferenceUnits",
                        reason == NGX_HTTP_LFV_MIN_UNITS_CAP
                        ? audit->min_units
                        : (ngx_int_t) ngx_http_lfv_units(audit),
                        reason == NGX_HTTP_LFV_MIN_UNITS_CAP
                        ? audit->policy->max_min_units
                        : audit->policy->max_max_units,
                        &audit->team)
            - p;
    }

    return reason;
}


ngx_uint_t
ngx_http_lfv_units(ngx_http_lfv_audit_t *audit)
{
    /* what a start consumes: MaxInferenceUnits, else MinInferenceUnits */

    if (audit->max_units > 0) {
        return audit->max_units;
    }

    return (audit->min_units > 0) ? (ngx_uint_t) audit->min_units : 0;
}


/*
 * Signs with the current credentials.  Before the first ones exist a
 * request waits a bounded time (lfv_credentials_wait); a request is
 * never passed on unsigned.
 */

static void
ngx_http_lfv_continue(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_msec_t                  delay, waited;
    ngx_http_lfv_creds_t       *creds;
    ngx_http_lfv_audit_t       *audit;
    ngx_http_lfv_reason_e       reason;
    ngx_http_lfv_loc_conf_t    *llcf;
    ngx_http_lfv_main_conf_t   *lmcf;
    ngx_http_lfv_creds_conf_t  *ccf;
    ngx_http_lfv_lease_want_t   want;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);
    audit = ctx->audit;

    /* a team with a role of its own is signed by it, or not at all */

    ccf = (audit->policy && audit->policy->role) ? audit->policy->role
                                                 : &lmcf->creds;

    ngx_http_lfv_credentials_unwait(&ctx->waiter);

    rc = ngx_http_lfv_credentials_get(ccf, &creds, &ctx->retry_after);

    if (rc == NGX_AGAIN) {
        waited = ngx_current_msec - ctx->wait_start;

        if (waited < ccf->wait) {
            if (ngx_http_lfv_wait(r, ctx, ccf) != NGX_OK) {
                ngx_http_lfv_resume(r, ctx, NGX_HTTP_LFV_INTERNAL);
                return;
            }

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "lfv: waiting for credentials");

            ngx_http_lfv_delay(r, ccf->wait - waited);
            return;
        }

        /* Retry-After: the fetch under way ends within its timeouts */

        ctx->retry_after = 1;
    }

    if (rc != NGX_OK) {
        ctx->retry_after = ngx_max(ctx->retry_after, 1);

        ngx_http_lfv_resume(r, ctx, (ccf == &lmcf->creds)
                                    ? NGX_HTTP_LFV_NO_CREDENTIALS
                                    : NGX_HTTP_LFV_NO_ROLE_CREDENTIALS);
        return;
    }

    /*
     * Only starts cost: a stop is never held back by a rate or a budget,
     * and reads are not charged to the start rate.
     */

    if (!ctx->limited && audit->policy && lmcf->policy.zone
        && audit->operation == NGX_HTTP_LFV_OP_START)
    {
        /* the rate and the budget are charged once, then maybe a delay */

        ctx->limited = 1;

        llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

        want.host = llcf->endpoint;
        want.region = llcf->region;
        want.project = audit->project;
        want.version = audit->version;
        want.store = ngx_http_lfv_store_decides(&lmcf->store, audit->policy);
        want.pending = NULL;

        reason = ngx_http_lfv_limit(lmcf->policy.zone, audit->policy,
                                    &audit->key, ngx_http_lfv_units(audit),
                                    &want, &delay, &ctx->retry_after,
                                    r->connection->log);

        if (want.pending) {
            audit->lease = want.pending;
            audit->lease_zone = lmcf->policy.zone;
        }

        /* a refusal of the locked step is counted there */

        if (reason == NGX_HTTP_LFV_RATE || reason == NGX_HTTP_LFV_BUDGET
            || reason == NGX_HTTP_LFV_RUNNING_UNITS
            || reason == NGX_HTTP_LFV_LEASE_ROOM)
        {
            audit->counted = reason;
        }

        if (reason != NGX_HTTP_LFV_OK) {
            ngx_http_lfv_resume(r, ctx, reason);
            return;
        }

        if (want.store) {

            /* the store decides; its answer comes back here */

            audit->counted = NGX_HTTP_LFV_FORWARDED;

            if (ngx_http_lfv_store_decide(r, ctx, &want) != NGX_OK) {
                ngx_http_lfv_resume(r, ctx, NGX_HTTP_LFV_INTERNAL);
            }

            return;
        }

        if (delay == 0) {
            audit->counted = NGX_HTTP_LFV_FORWARDED;

        } else {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "lfv: delaying for %M ms", delay);

            ngx_http_lfv_delay(r, delay);
            return;
        }
    }

    if (ctx->store && ngx_http_lfv_store_answered(ctx, &reason, &delay)) {

        /* a refusal of the store gives the running units back at once */

        if (reason != NGX_HTTP_LFV_OK) {
            if (audit->lease) {
                ngx_http_lfv_lease_release(audit->lease_zone, audit->lease);
                audit->lease = NULL;
            }

            ngx_http_lfv_resume(r, ctx, reason);
            return;
        }

        if (delay) {
            ngx_http_lfv_delay(r, delay);
            return;
        }
    }

    ngx_http_lfv_resume(r, ctx, ngx_http_lfv_sign_request(r, ctx, creds));
}


/* the store's answer, or another wait's end: the decision goes on */

void
ngx_http_lfv_handler_resume(ngx_http_request_t *r)
{
    ngx_http_lfv_continue(r, ngx_http_get_module_ctx(r, ngx_http_lfv_module));
}


/* in the worker's queue, woken when the credentials record changes */

static ngx_int_t
ngx_http_lfv_wait(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_pool_cleanup_t  *cln;

    if (!ctx->waiter_cleanup) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_lfv_wait_cleanup;
        cln->data = &ctx->waiter;

        ctx->waiter_cleanup = 1;
    }

    ctx->waiter.event = r->connection->write;
    ngx_http_lfv_credentials_wait(ccf, &ctx->waiter);

    return NGX_OK;
}


/* a request that ends while it waits leaves the queue */

static void
ngx_http_lfv_wait_cleanup(void *data)
{
    ngx_http_lfv_credentials_unwait(data);
}


/* as limit_req delays: a timer on the write event */

static void
ngx_http_lfv_delay(ngx_http_request_t *r, ngx_msec_t delay)
{
    ngx_event_t  *wev;

    wev = r->connection->write;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_lfv_wait_handler;

    wev->delayed = 1;
    ngx_add_timer(wev, delay);
}


static void
ngx_http_lfv_wait_handler(ngx_http_request_t *r)
{
    ngx_event_t         *wev;
    ngx_http_lfv_ctx_t  *ctx;

    wev = r->connection->write;

    if (wev->delayed) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    ngx_http_lfv_continue(r, ctx);
}


/* back to the phases: on to proxy_pass, or to the rejection */

static void
ngx_http_lfv_resume(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_reason_e reason)
{
    ngx_int_t  rc;

    r->preserve_body = 1;

    if (reason == NGX_HTTP_LFV_OK) {
        ctx->status = NGX_DECLINED;

    } else {
        rc = ngx_http_lfv_reject(r, ctx, reason);

        if (rc == NGX_DONE) {
            return;
        }

        ctx->status = rc;
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


static ngx_http_lfv_reason_e
ngx_http_lfv_sign_request(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_creds_t *creds)
{
    ngx_http_lfv_audit_t  *audit;

    if (ngx_http_lfv_sign(r, ctx, creds, &ctx->body) != NGX_OK) {
        return NGX_HTTP_LFV_INTERNAL;
    }

    audit = ctx->audit;

    /* the credentials may change before the access log is written */

    audit->access_key_id.data = ngx_pstrdup(r->pool, &creds->access_key_id);
    if (audit->access_key_id.data == NULL) {
        return NGX_HTTP_LFV_INTERNAL;
    }

    audit->access_key_id.len = creds->access_key_id.len;
    audit->source = creds->source;

    audit->reason = NGX_HTTP_LFV_FORWARDED;

    ngx_http_lfv_account(r, audit, NGX_HTTP_LFV_FORWARDED);

    return NGX_HTTP_LFV_OK;
}


static ngx_int_t
ngx_http_lfv_reject(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_reason_e reason)
{
    ngx_int_t  rc;

    ngx_http_lfv_decide(r, ctx->audit, reason);

    rc = ngx_http_lfv_error(r, ctx, reason, ctx->retry_after);

    if (rc > NGX_OK) {

        /* a status for nginx: error_page or its own page answers */

        return rc;
    }

    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


/* a rejection is logged, recorded and counted once */

void
ngx_http_lfv_decide(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit,
    ngx_http_lfv_reason_e reason)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "lfv: request rejected: %V",
                  &ngx_http_lfv_reason(reason)->name);

    if (!ngx_http_lfv_decided(audit)) {
        audit->reason = reason;
        ngx_http_lfv_account(r, audit, reason);
    }
}


/* per-team counters for the status page */

static void
ngx_http_lfv_account(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit,
    ngx_http_lfv_reason_e reason)
{
    ngx_http_lfv_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);

    /* ngx_http_lfv_limit() may have counted it already */

    if (lmcf->policy.zone == NULL || audit->counted == reason) {
        return;
    }

    ngx_http_lfv_limit_account(lmcf->policy.zone, &audit->key,
                               audit->operation, reason,
                               ngx_http_lfv_units(audit),
                               audit->counted == NGX_HTTP_LFV_FORWARDED);

    audit->counted = reason;
}
