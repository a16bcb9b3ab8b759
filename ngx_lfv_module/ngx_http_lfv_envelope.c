
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_envelope.h"
#include "ngx_http_lfv_error.h"
#include "ngx_http_lfv_json.h"


/* ListModels' 100 models are some 50 KB */
#define NGX_HTTP_LFV_ENVELOPE_MAX  ((size_t) 1024 * 1024)


/*
 * AWS's answer to a forwarded request, in the envelope:
 *   StartModel, StopModel: {"Status": "..."} becomes {"success": true,
 *     "data": {"id", "created_at", "status"}};
 *   DescribeModel, ListModels: {"success": true, "data": <AWS's object>};
 *   an error of AWS: {"success": false, "error": {"code", "message"}},
 *     the code from x-amzn-ErrorType, the message AWS's, the status kept.
 * As the image filter does, the header waits until the whole body is
 * read, so that the new Content-Length is known.
 */

typedef struct {
    ngx_str_t                   request_id;
    ngx_str_t                   error_type;     /* AWS's, on an error */
    ngx_uint_t                  error;
    ngx_uint_t                  too_large;
    u_char                     *start;
    u_char                     *last;
    u_char                     *end;
} ngx_http_lfv_envelope_t;


static ngx_int_t ngx_http_lfv_envelope_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_lfv_envelope_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_lfv_envelope_send(ngx_http_request_t *r,
    ngx_http_lfv_envelope_t *env);
static ngx_buf_t *ngx_http_lfv_envelope_success(ngx_http_request_t *r,
    ngx_http_lfv_envelope_t *env);
static ngx_buf_t *ngx_http_lfv_envelope_error(ngx_http_request_t *r,
    ngx_http_lfv_envelope_t *env, char *message);
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
    size_t                    n;
    ngx_uint_t                i;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    ngx_http_lfv_ctx_t       *ctx;
    ngx_http_lfv_loc_conf_t  *llcf;
    ngx_http_lfv_envelope_t  *env;

    if (r != r->main || r->headers_out.status < NGX_HTTP_OK) {
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

    /* a 2xx, or an error that AWS itself answered (not nginx's 502) */

    if (r->headers_out.status >= NGX_HTTP_SPECIAL_RESPONSE
        && (r->headers_out.status < NGX_HTTP_BAD_REQUEST
            || r->upstream == NULL
            || r->upstream->headers_in.status_n != r->headers_out.status))
    {
        return ngx_http_next_header_filter(r);
    }

    env = ngx_pcalloc(r->pool, sizeof(ngx_http_lfv_envelope_t));
    if (env == NULL) {
        return NGX_ERROR;
    }

    env->error = (r->headers_out.status >= NGX_HTTP_BAD_REQUEST);
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

        if (h[i].hash
            && h[i].key.len == sizeof("x-amzn-ErrorType") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "x-amzn-ErrorType",
                               h[i].key.len)
               == 0)
        {
            /* "Code:http://internal..." as AWS may add: the code */

            env->error_type = h[i].value;

            for (n = 0; n < env->error_type.len; n++) {
                if (env->error_type.data[n] == ':') {
                    env->error_type.len = n;
                    break;
                }
            }
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
    u_char                   *p;
    size_t                    size, need, room;
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
        size = b->last - b->pos;

        if (size > (size_t) (env->end - env->last) && !env->too_large) {

            /* room doubles, up to the limit */

            need = (env->last - env->start) + size;

            if (need > NGX_HTTP_LFV_ENVELOPE_MAX) {
                env->too_large = 1;

            } else {
                room = ngx_max(2 * (size_t) (env->end - env->start), need);
                room = ngx_max(room, 4096);
                room = ngx_min(room, NGX_HTTP_LFV_ENVELOPE_MAX);

                p = ngx_pnalloc(r->pool, room);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                if (env->start) {
                    env->last = ngx_cpymem(p, env->start,
                                           env->last - env->start);

                } else {
                    env->last = p;
                }

                env->start = p;
                env->end = p + room;
            }
        }

        if (size && !env->too_large) {
            env->last = ngx_cpymem(env->last, b->pos, size);
        }

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
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    static u_char  empty[1];

    if (env->start == NULL) {

        /* no body at all: an empty one, for the readers below */

        env->start = empty;
        env->last = empty;
    }

    if (env->too_large) {
        r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
        b = ngx_http_lfv_envelope_error(r, env, "the answer of AWS is too "
                                        "large for the envelope");

    } else if (env->error) {
        b = ngx_http_lfv_envelope_error(r, env, NULL);

    } else {
        b = ngx_http_lfv_envelope_success(r, env);
    }

    if (b == NULL) {
        return NGX_ERROR;
    }

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


static ngx_buf_t *
ngx_http_lfv_envelope_success(ngx_http_request_t *r,
    ngx_http_lfv_envelope_t *env)
{
    size_t                 len;
    ngx_tm_t               tm;
    ngx_buf_t             *b;
    ngx_str_t              status, none;
    ngx_http_lfv_audit_t  *audit;

    audit = ngx_http_lfv_get_audit(r);

    if (audit->operation == NGX_HTTP_LFV_OP_DESCRIBE
        || audit->operation == NGX_HTTP_LFV_OP_LIST)
    {
        /* AWS's members under "data", once they are known to be JSON */

        ngx_str_null(&none);

        if (ngx_http_lfv_json_object(env->start, env->last - env->start,
                                     &none, &status)
            != NGX_OK)
        {
            r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
            return ngx_http_lfv_envelope_error(r, env, "the answer of AWS "
                                               "is not a JSON object");
        }

        b = ngx_create_temp_buf(r->pool, sizeof("{\"success\":true,"
                                                "\"data\":}") - 1
                                         + (env->last - env->start));
        if (b == NULL) {
            return NULL;
        }

        b->last = ngx_cpymem(b->last, "{\"success\":true,\"data\":",
                             sizeof("{\"success\":true,\"data\":") - 1);
        b->last = ngx_cpymem(b->last, env->start, env->last - env->start);
        *b->last++ = '}';

        return b;
    }

    ngx_http_lfv_envelope_status(env->start, env->last, &status);

    len = sizeof("{\"success\":true,\"data\":{\"id\":\"\",\"created_at\":"
                 "\"1970-01-01T00:00:00Z\",\"status\":\"\","
                 "\"lease_ends\":\"1970-01-01T00:00:00Z\"}}") - 1
          + env->request_id.len + ngx_escape_json(NULL, env->request_id.data,
                                                  env->request_id.len)
          + status.len;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    ngx_gmtime(ngx_time(), &tm);

    b->last = ngx_cpymem(b->last, "{\"success\":true,\"data\":{\"id\":\"",
                         sizeof("{\"success\":true,\"data\":{\"id\":\"") - 1);
    b->last = (u_char *) ngx_escape_json(b->last, env->request_id.data,
                                         env->request_id.len);
    b->last = ngx_sprintf(b->last, "\",\"created_at\":"
                          "\"%4d-%02d-%02dT%02d:%02d:%02dZ\","
                          "\"status\":\"%V\"",
                          tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                          tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                          &status);

    /* the cost guard's lease of the start: when the model is stopped */

    if (audit->lease_ends) {
        ngx_gmtime(audit->lease_ends, &tm);

        b->last = ngx_sprintf(b->last, ",\"lease_ends\":"
                              "\"%4d-%02d-%02dT%02d:%02d:%02dZ\"",
                              tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                              tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
    }

    b->last = ngx_cpymem(b->last, "}}", 2);

    return b;
}


/*
 * AWS's error, or ours about its answer (message given): the message
 * of AWS is taken as it was written, a JSON string checked by the
 * strict reader, so it goes into the envelope as it is.
 */

static ngx_buf_t *
ngx_http_lfv_envelope_error(ngx_http_request_t *r,
    ngx_http_lfv_envelope_t *env, char *message)
{
    size_t      len;
    ngx_buf_t  *b;
    ngx_str_t  *code, text;

    static ngx_str_t  names[] = {
        ngx_string("message"), ngx_string("Message"), ngx_null_string
    };
    static ngx_str_t  upstream = ngx_string("UPSTREAM_ERROR");
    static ngx_str_t  internal = ngx_string("INTERNAL_ERROR");

    if (message) {
        code = &internal;
        text.data = (u_char *) message;
        text.len = ngx_strlen(message);

    } else {
        code = ngx_http_lfv_envelope_code_of(&env->error_type);

        if (code == NULL) {
            code = &upstream;
        }

        if (ngx_http_lfv_json_object(env->start, env->last - env->start,
                                     names, &text)
            != NGX_OK)
        {
            ngx_str_null(&text);
        }
    }

    len = sizeof("{\"success\":false,\"error\":{\"code\":\"\","
                 "\"message\":\"\"}}") - 1
          + code->len + text.len;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "{\"success\":false,\"error\":"
                          "{\"code\":\"%V\",\"message\":\"%V\"}}",
                          code, &text);

    return b;
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
