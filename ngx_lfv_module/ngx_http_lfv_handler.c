
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


#define NGX_HTTP_LFV_WAIT_STEP  50


static ngx_http_lfv_ctx_t *ngx_http_lfv_create_ctx(ngx_http_request_t *r);
static ngx_int_t ngx_http_lfv_team(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx);
static ngx_http_lfv_reason_e ngx_http_lfv_check_request(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx);
static ngx_http_lfv_reason_e ngx_http_lfv_check_policy(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx);
static void ngx_http_lfv_body_handler(ngx_http_request_t *r);
static ngx_http_lfv_reason_e ngx_http_lfv_check_body(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx);
static void ngx_http_lfv_continue(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx);
static void ngx_http_lfv_delay(ngx_http_request_t *r, ngx_msec_t delay);
static void ngx_http_lfv_wait_handler(ngx_http_request_t *r);
static void ngx_http_lfv_resume(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_reason_e reason);
static ngx_http_lfv_reason_e ngx_http_lfv_sign_request(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_creds_t *creds);
static ngx_int_t ngx_http_lfv_read_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_lfv_reject(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_reason_e reason);
static void ngx_http_lfv_account(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_lfv_reason_e reason);
static void ngx_http_lfv_cleanup(void *data);


/*
 * PRECONTENT phase: after access checks, before proxy_pass.  The body
 * is read here, as the mirror module does, so that it can be hashed.
 */

ngx_int_t
ngx_http_lfv_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_lfv_ctx_t       *ctx;
    ngx_http_lfv_reason_e     reason;
    ngx_http_lfv_loc_conf_t  *llcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    if (!llcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_lfv_get_ctx(r);

    if (ctx) {

        if (ctx->status == NGX_DONE || ngx_http_lfv_forwarded(ctx)) {
            return ctx->status;
        }

        if (ctx->status != NGX_DECLINED) {

            /* a rejection handed to nginx so that error_page applies */

            rc = ctx->status;
            ctx->status = NGX_DECLINED;
            return rc;
        }

        /* back after an internal redirect: never pass it on unsigned */

        return ngx_http_lfv_reject(r, ctx, ctx->reason);
    }

    ctx = ngx_http_lfv_create_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_lfv_team(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    reason = ngx_http_lfv_check_request(r, ctx);

    if (reason == NGX_HTTP_LFV_OK) {
        reason = ngx_http_lfv_check_policy(r, ctx);
    }

    if (reason != NGX_HTTP_LFV_OK) {
        return ngx_http_lfv_reject(r, ctx, reason);
    }

    if (r->headers_in.content_length_n > (off_t) llcf->body_max_size) {
        return ngx_http_lfv_reject(r, ctx, NGX_HTTP_LFV_BODY_TOO_LARGE);
    }

    ctx->status = NGX_DONE;

    rc = ngx_http_read_client_request_body(r, ngx_http_lfv_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


static ngx_http_lfv_ctx_t *
ngx_http_lfv_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_lfv_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_lfv_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->min_units = NGX_HTTP_LFV_UNITS_UNSET;
    ctx->max_units = NGX_HTTP_LFV_UNITS_UNSET;
    ctx->status = NGX_DECLINED;

    /* the cleanup finds the context again after an internal redirect */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_lfv_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_lfv_module);

    return ctx;
}


ngx_http_lfv_ctx_t *
ngx_http_lfv_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_lfv_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_lfv_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_lfv_module);
            return ctx;
        }
    }

    return NULL;
}


static void
ngx_http_lfv_cleanup(void *data)
{
    /* nothing to free: the handler only marks the context */
}


/* the team, from lfv_team: a header of a trusted layer, a certificate */

static ngx_int_t
ngx_http_lfv_team(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx)
{
    ngx_http_lfv_loc_conf_t     *llcf;
    ngx_http_lfv_main_conf_t    *lmcf;
    ngx_http_lfv_policy_conf_t  *pcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    if (llcf->team
        && ngx_http_complex_value(r, llcf->team, &ctx->team) != NGX_OK)
    {
        return NGX_ERROR;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);
    pcf = &lmcf->policy;

    /* an empty or unknown team gets the default policy, if there is one */

    if (ctx->team.len <= NGX_HTTP_LFV_TEAM_MAX) {
        ctx->policy = ngx_http_lfv_policy_find(pcf, &ctx->team);

        if (ctx->policy == NULL) {
            ctx->policy = pcf->default_policy;
        }
    }

    /*
     * The key of the team's buckets and counters: its name when it has
     * a policy of its own.  Everything else (the default policy, no
     * policy at all) shares "-", so that varying the name does not dodge
     * the default's limits, nor fill the zone.
     */

    if (ctx->policy && ctx->policy != pcf->default_policy) {
        ctx->key = ctx->team;

    } else {
        ngx_str_set(&ctx->key, "-");
    }

    return NGX_OK;
}


static ngx_http_lfv_reason_e
ngx_http_lfv_check_policy(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx)
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

    if (ctx->policy == NULL) {
        p = ngx_pnalloc(r->pool, sizeof("no policy allows team \"\"") - 1
                                 + NGX_HTTP_LFV_TEAM_MAX);
        if (p == NULL) {
            return NGX_HTTP_LFV_INTERNAL;
        }

        ctx->message.data = p;
        ctx->message.len = ngx_snprintf(p, sizeof("no policy allows team "
                                                  "\"\"") - 1
                                           + NGX_HTTP_LFV_TEAM_MAX,
                                        "no policy allows team \"%V\"",
                                        &ctx->team)
                           - p;

        return NGX_HTTP_LFV_TEAM;
    }

    reason = ngx_http_lfv_policy_check_project(r, ctx->policy, &ctx->project);

    if (reason == NGX_HTTP_LFV_PROJECT_DENIED) {
        p = ngx_pnalloc(r->pool, NGX_HTTP_LFV_PROJECT_MAX
                                 + NGX_HTTP_LFV_TEAM_MAX + 64);
        if (p == NULL) {
            return NGX_HTTP_LFV_INTERNAL;
        }

        ctx->message.data = p;
        ctx->message.len = ngx_sprintf(p, "team \"%V\" may not start models "
                                       "of project \"%V\"",
                                       &ctx->team, &ctx->project)
                           - p;
    }

    return reason;
}


static ngx_http_lfv_reason_e
ngx_http_lfv_check_request(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx)
{
    ngx_uint_t              i, tokens;
    ngx_list_part_t        *part;
    ngx_table_elt_t        *h;
    ngx_http_lfv_reason_e   reason;

    reason = ngx_http_lfv_parse_target(r->unparsed_uri.data,
                                       r->unparsed_uri.len,
                                       &ctx->project, &ctx->version);
    if (reason != NGX_HTTP_LFV_OK) {
        return reason;
    }

    /* the URI that proxy_pass sends is the one that is signed */

    if (r->uri.len != r->unparsed_uri.len
        || ngx_strncmp(r->uri.data, r->unparsed_uri.data, r->uri.len) != 0)
    {
        return NGX_HTTP_LFV_ROUTE;
    }

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_LFV_METHOD;
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

        if (h[i].key.len == sizeof("Content-Type") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Type",
                               h[i].key.len)
               == 0)
        {
            reason = ngx_http_lfv_check_content_type(h[i].value.data,
                                                     h[i].value.len);
            if (reason != NGX_HTTP_LFV_OK) {
                return reason;
            }

            continue;
        }

        if (h[i].key.len == sizeof("X-Amzn-Client-Token") - 1
            && ngx_strncasecmp(h[i].key.data,
                               (u_char *) "X-Amzn-Client-Token",
                               h[i].key.len)
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

            ctx->client_token = h[i].value;
        }
    }

    return NGX_HTTP_LFV_OK;
}


static void
ngx_http_lfv_body_handler(ngx_http_request_t *r)
{
    ngx_http_lfv_ctx_t     *ctx;
    ngx_http_lfv_reason_e   reason;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

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
    ngx_int_t               rc;
    ngx_http_lfv_reason_e   reason;

    rc = ngx_http_lfv_read_body(r, &ctx->body);

    if (rc == NGX_DECLINED) {
        return NGX_HTTP_LFV_BODY_TOO_LARGE;
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_LFV_INTERNAL;
    }

    reason = ngx_http_lfv_parse_body(ctx->body.data, ctx->body.len,
                                     &ctx->min_units, &ctx->max_units);

    if (reason != NGX_HTTP_LFV_OK || ctx->policy == NULL) {
        return reason;
    }

    reason = ngx_http_lfv_policy_check_units(ctx->policy, ctx->min_units,
                                             ctx->max_units);

    if (reason != NGX_HTTP_LFV_OK) {

        /* the message names the cap */

        p = ngx_pnalloc(r->pool, NGX_HTTP_LFV_TEAM_MAX + 128);
        if (p == NULL) {
            return NGX_HTTP_LFV_INTERNAL;
        }

        ctx->message.data = p;
        ctx->message.len =
            ngx_sprintf(p, "%s %i is over the cap of %i for team \"%V\"",
                        reason == NGX_HTTP_LFV_MIN_UNITS_CAP
                        ? "MinInferenceUnits"
                        : (ctx->max_units > 0
                           ? "MaxInferenceUnits"
                           : "MinInferenceUnits (the upper bound without "
                             "MaxInferenceUnits)"),
                        reason == NGX_HTTP_LFV_MIN_UNITS_CAP
                        ? ctx->min_units : (ngx_int_t) ngx_http_lfv_units(ctx),
                        reason == NGX_HTTP_LFV_MIN_UNITS_CAP
                        ? ctx->policy->max_min_units
                        : ctx->policy->max_max_units,
                        &ctx->team)
            - p;
    }

    return reason;
}


ngx_uint_t
ngx_http_lfv_units(ngx_http_lfv_ctx_t *ctx)
{
    /* what a start consumes: MaxInferenceUnits, else MinInferenceUnits */

    if (ctx->max_units > 0) {
        return ctx->max_units;
    }

    return (ctx->min_units > 0) ? (ngx_uint_t) ctx->min_units : 0;
}


/*
 * Signs with the current credentials.  Before the first ones exist a
 * request waits a bounded time (lfv_credentials_wait); a request is
 * never passed on unsigned.
 */

static void
ngx_http_lfv_continue(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx)
{
    time_t                      left;
    ngx_int_t                   rc;
    ngx_msec_t                  delay;
    ngx_http_lfv_creds_t       *creds;
    ngx_http_lfv_reason_e       reason;
    ngx_http_lfv_main_conf_t   *lmcf;
    ngx_http_lfv_creds_conf_t  *ccf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);
    ccf = &lmcf->creds;

    rc = ngx_http_lfv_credentials_get(ccf, &creds);

    if (rc == NGX_AGAIN
        && (ngx_msec_int_t) (ngx_current_msec - ctx->wait_start)
           < (ngx_msec_int_t) ccf->wait)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "lfv: waiting for the first credentials");

        ngx_http_lfv_delay(r, NGX_HTTP_LFV_WAIT_STEP);
        return;
    }

    if (rc != NGX_OK) {

        /* Retry-After: when the refresher tries next */

        left = 1;

        if (ccf->sh && ccf->sh->next_refresh) {
            left = ccf->sh->next_refresh - ngx_http_lfv_wall_clock();
            left = ngx_max(left, 1);
        }

        ctx->retry_after = left;

        ngx_http_lfv_resume(r, ctx, NGX_HTTP_LFV_NO_CREDENTIALS);
        return;
    }

    if (!ctx->limited && ctx->policy && lmcf->policy.zone) {

        /* the rate and the budget are charged once, then maybe a delay */

        ctx->limited = 1;

        reason = ngx_http_lfv_limit(lmcf->policy.zone, ctx->policy,
                                    &ctx->key, ngx_http_lfv_units(ctx),
                                    &delay, &ctx->retry_after,
                                    r->connection->log);

        if (reason != NGX_HTTP_LFV_OK) {
            ngx_http_lfv_resume(r, ctx, reason);
            return;
        }

        if (delay) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "lfv: delaying for %M ms", delay);

            ngx_http_lfv_delay(r, delay);
            return;
        }
    }

    ngx_http_lfv_resume(r, ctx, ngx_http_lfv_sign_request(r, ctx, creds));
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
    if (ngx_http_lfv_sign(r, ctx, creds, &ctx->body) != NGX_OK) {
        return NGX_HTTP_LFV_INTERNAL;
    }

    /* the credentials may change before the access log is written */

    ctx->access_key_id.data = ngx_pstrdup(r->pool, &creds->access_key_id);
    if (ctx->access_key_id.data == NULL) {
        return NGX_HTTP_LFV_INTERNAL;
    }

    ctx->access_key_id.len = creds->access_key_id.len;
    ctx->source = creds->source;

    ctx->reason = NGX_HTTP_LFV_FORWARDED;

    ngx_http_lfv_account(r, ctx, NGX_HTTP_LFV_FORWARDED);

    return NGX_HTTP_LFV_OK;
}


/* the body as one buffer: it is small (lfv_body_max_size) and hashed */

static ngx_int_t
ngx_http_lfv_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char                   *p;
    off_t                     len;
    ssize_t                   n;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_lfv_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > (off_t) llcf->body_max_size) {
        return NGX_DECLINED;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;
    body->len = len;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {

            /* the chunked filter ends with an empty buffer, pos NULL */

            if (b->last != b->pos) {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }

            continue;
        }

        /* a body smaller than the cap lands in a file only when
         * client_body_buffer_size is smaller still */

        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            return NGX_ERROR;
        }

        p += n;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_reject(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_reason_e reason)
{
    ngx_int_t  rc;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "lfv: request rejected: %V",
                  &ngx_http_lfv_reason(reason)->name);

    if (!ngx_http_lfv_decided(ctx)) {
        ngx_http_lfv_account(r, ctx, reason);
    }

    rc = ngx_http_lfv_error(r, reason, ctx->message.len ? &ctx->message : NULL,
                            ctx->retry_after);

    if (rc > NGX_OK) {

        /* a status for nginx: error_page or its own page answers */

        return rc;
    }

    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


/* per-team counters for the status page */

static void
ngx_http_lfv_account(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_reason_e reason)
{
    ngx_http_lfv_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);

    if (lmcf->policy.zone == NULL) {
        return;
    }

    ngx_http_lfv_limit_account(lmcf->policy.zone, &ctx->key, reason,
                               ngx_http_lfv_units(ctx));
}


ngx_int_t
ngx_http_lfv_log_handler(ngx_http_request_t *r)
{
    ngx_http_lfv_ctx_t  *ctx;

    ctx = ngx_http_lfv_get_ctx(r);

    if (ctx) {
        ngx_http_lfv_sign_restore_headers(r, ctx);
    }

    return NGX_OK;
}
