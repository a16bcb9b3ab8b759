
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_envelope.h"


#define NGX_HTTP_LFV_ENVELOPE_MAX  4096


/*
 * The upstream's {"Status": "..."} becomes {"success": true, "data":
 * {"id", "created_at", "status"}}.  As the image filter does, the
 * header waits until the whole (small) body is read, so that the new
 * Content-Length is known.
 */

typedef struct {
    ngx_str_t                   request_id;
    u_char                     *last;
    u_char                      body[NGX_HTTP_LFV_ENVELOPE_MAX];
} ngx_http_lfv_envelope_t;


static ngx_int_t ngx_http_lfv_envelope_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_lfv_envelope_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_lfv_envelope_send(ngx_http_request_t *r,
    ngx_http_lfv_envelope_t *env);
static void ngx_http_lfv_envelope_status(u_char *p, u_char *last,
    ngx_str_t *status);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_lfv_envelope_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_lfv_envelope_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_lfv_envelope_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_envelope_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                i;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    ngx_http_lfv_ctx_t       *ctx;
    ngx_http_lfv_loc_conf_t  *llcf;
    ngx_http_lfv_envelope_t  *env;

    if (r != r->main
        || r->headers_out.status < NGX_HTTP_OK
        || r->headers_out.status >= NGX_HTTP_SPECIAL_RESPONSE)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);
    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    if (ctx == NULL || ctx->audit == NULL
        || !ngx_http_lfv_forwarded(ctx->audit) || ctx->envelope
        || llcf->error_format != NGX_HTTP_LFV_FORMAT_ENVELOPE)
    {
        return ngx_http_next_header_filter(r);
    }

    env = ngx_pcalloc(r->pool, sizeof(ngx_http_lfv_envelope_t));
    if (env == NULL) {
        return NGX_ERROR;
    }

    env->last = env->body;
    ctx->envelope = env;

    part = &r->headers_out.headers.part;
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

        if (h[i].hash
            && h[i].key.len == sizeof("x-amzn-RequestId") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "x-amzn-RequestId",
                               h[i].key.len)
               == 0)
        {
            env->request_id = h[i].value;
        }
    }

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);

    r->filter_need_in_memory = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_envelope_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                    size;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_lfv_ctx_t       *ctx;
    ngx_http_lfv_envelope_t  *env;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx == NULL || ctx->envelope == NULL || ctx->envelope_sent) {
        return ngx_http_next_body_filter(r, in);
    }

    env = ctx->envelope;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        size = ngx_min((size_t) (b->last - b->pos),
                       (size_t) (env->body + NGX_HTTP_LFV_ENVELOPE_MAX
                                 - env->last));

        if (size) {
            env->last = ngx_cpymem(env->last, b->pos, size);
        }

        /* anything past the limit is not a StartModel answer: dropped */

        b->pos = b->last;

        if (b->last_buf) {
            ctx->envelope_sent = 1;
            return ngx_http_lfv_envelope_send(r, env);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_envelope_send(ngx_http_request_t *r, ngx_http_lfv_envelope_t *env)
{
    size_t        len;
    ngx_tm_t      tm;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     status;
    ngx_chain_t   out;

    ngx_http_lfv_envelope_status(env->body, env->last, &status);

    len = sizeof("{\"success\":true,\"data\":{\"id\":\"\",\"created_at\":"
                 "\"1970-01-01T00:00:00Z\",\"status\":\"\"}}") - 1
          + env->request_id.len + ngx_escape_json(NULL, env->request_id.data,
                                                  env->request_id.len)
          + status.len;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    ngx_gmtime(ngx_time(), &tm);

    b->last = ngx_cpymem(b->last, "{\"success\":true,\"data\":{\"id\":\"",
                         sizeof("{\"success\":true,\"data\":{\"id\":\"") - 1);
    b->last = (u_char *) ngx_escape_json(b->last, env->request_id.data,
                                         env->request_id.len);
    b->last = ngx_sprintf(b->last, "\",\"created_at\":"
                          "\"%4d-%02d-%02dT%02d:%02d:%02dZ\","
                          "\"status\":\"%V\"}}",
                          tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                          tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                          &status);

    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.content_length_n = b->last - b->pos;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/* the value of "Status": one of a few upper-case words, or empty */

static void
ngx_http_lfv_envelope_status(u_char *p, u_char *last, ngx_str_t *status)
{
    u_char  *s;

    ngx_str_null(status);

    s = ngx_strlcasestrn(p, last, (u_char *) "\"Status\"", 8 - 1);
    if (s == NULL) {
        return;
    }

    for (p = s + 8; p < last && (*p == ' ' || *p == ':' || *p == '\t'
                                 || *p == '\r' || *p == '\n'); p++)
    {
        /* void */
    }

    if (p == last || *p++ != '"') {
        return;
    }

    for (s = p; p < last && ((*p >= 'A' && *p <= 'Z') || *p == '_'); p++) {
        /* void */
    }

    if (p < last && *p == '"') {
        status->data = s;
        status->len = p - s;
    }
}
