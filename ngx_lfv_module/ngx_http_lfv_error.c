
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_handler.h"
#include "ngx_http_lfv_error.h"


#define NGX_HTTP_LFV_REQUEST_ID_LEN  36


static ngx_buf_t *ngx_http_lfv_error_prepare(ngx_http_request_t *r,
    ngx_http_lfv_reason_t *rs, ngx_str_t *message, time_t retry_after);
static ngx_http_lfv_reason_t *ngx_http_lfv_nginx_error(ngx_http_request_t *r,
    ngx_http_lfv_audit_t *audit, ngx_uint_t status, ngx_str_t **message);
static ngx_int_t ngx_http_lfv_error_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_lfv_error_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_str_t *ngx_http_lfv_envelope_code(ngx_http_lfv_reason_t *rs);
static ngx_int_t ngx_http_lfv_error_page(ngx_http_request_t *r,
    ngx_uint_t status);
static ngx_table_elt_t *ngx_http_lfv_add_header(ngx_http_request_t *r,
    char *name, u_char *value, size_t len);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


#define ngx_http_lfv_rule(status, code, name, message)                       \
    { status, ngx_string(code), ngx_string(name), ngx_string(message) }


/* the envelope codes of lfv_error_format envelope, by AWS error code */

typedef struct {
    ngx_str_t                   code;
    ngx_str_t                   envelope;
} ngx_http_lfv_envelope_code_t;


static ngx_http_lfv_envelope_code_t  ngx_http_lfv_envelope_codes[] = {
    { ngx_string("ValidationException"), ngx_string("VALIDATION_ERROR") },
    { ngx_string("UnknownOperationException"), ngx_string("NOT_FOUND") },
    { ngx_string("AccessDeniedException"), ngx_string("ACCESS_DENIED") },
    { ngx_string("ServiceQuotaExceededException"),
      ngx_string("QUOTA_EXCEEDED") },
    { ngx_string("ThrottlingException"), ngx_string("THROTTLED") },
    { ngx_string("ConflictException"), ngx_string("CONFLICT") },
    { ngx_string("ResourceNotFoundException"), ngx_string("NOT_FOUND") },
    { ngx_string("InternalServerException"), ngx_string("INTERNAL_ERROR") },
    { ngx_null_string, ngx_null_string }
};


/* indexed by ngx_http_lfv_reason_e */

static ngx_http_lfv_reason_t  ngx_http_lfv_reasons[] = {

    ngx_http_lfv_rule(NGX_HTTP_OK, "", "", ""),

    ngx_http_lfv_rule(NGX_HTTP_NOT_ALLOWED, "ValidationException", "method",
        "only POST is allowed on the StartModel route"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException", "query",
        "the request target must not have a query string"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "query_parameter",
        "the query may only have nextToken and maxResults, each once, "
        "as name=value"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "max_results", "maxResults must be an integer from 1 to 100"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "next_token",
        "nextToken must be 1 to 2048 characters of letters, digits, "
        "\"/\", \"+\" and \"=\", percent-encoded as the SDKs send them"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "percent_encoding",
        "the request target must not contain percent-encoding"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "dot_segment", "the request target must not contain dot-segments"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "double_slash", "the request target must not contain \"//\""),
    ngx_http_lfv_rule(NGX_HTTP_NOT_FOUND, "UnknownOperationException",
        "route",
        "only POST /2020-11-20/projects/{projectName}/models/"
        "{modelVersion}/start is served here"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "project_name",
        "projectName must be 1 to 255 characters of letters, digits, "
        "\"_\" and \"-\", starting with a letter or digit"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "model_version",
        "modelVersion must be \"latest\" or a positive integer without "
        "leading zeros, at most 10 characters"),

    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "content_type", "Content-Type must be application/json"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "client_token",
        "X-Amzn-Client-Token must be given once, 1 to 64 characters of "
        "letters, digits and \"-\""),

    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "body_not_allowed", "this operation takes no request body"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "body_empty", "the request body must be a JSON object"),
    ngx_http_lfv_rule(NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
        "ValidationException", "body_too_large",
        "the request body is larger than lfv_body_max_size"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "body_syntax", "the request body is not valid JSON"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "body_not_object", "the request body must be a JSON object"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "body_trailing", "the request body has data after the JSON object"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "member_escaped", "member names must not contain escapes"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "member_unknown",
        "the body may only have MinInferenceUnits and MaxInferenceUnits"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "member_duplicate", "a body member is given twice"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "not_integer",
        "inference units must be integers without fraction or exponent"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "leading_zero", "inference units must not have leading zeros"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "int32_range", "inference units must fit a 32-bit signed integer"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "min_units_required", "MinInferenceUnits is required"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "min_units", "MinInferenceUnits must be at least 1"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "max_units", "MaxInferenceUnits must be at least 1"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "max_below_min",
        "MaxInferenceUnits must not be below MinInferenceUnits"),

    ngx_http_lfv_rule(NGX_HTTP_FORBIDDEN, "AccessDeniedException", "team",
        "no policy allows this team"),
    ngx_http_lfv_rule(NGX_HTTP_FORBIDDEN, "AccessDeniedException",
        "project_denied", "the team may not start models of this project"),
    ngx_http_lfv_rule(402, "ServiceQuotaExceededException",
        "min_units_cap", "MinInferenceUnits is over the team's cap"),
    ngx_http_lfv_rule(402, "ServiceQuotaExceededException",
        "max_units_cap", "MaxInferenceUnits is over the team's cap"),
    ngx_http_lfv_rule(NGX_HTTP_TOO_MANY_REQUESTS, "ThrottlingException",
        "rate", "the team's start rate is exceeded"),
    ngx_http_lfv_rule(NGX_HTTP_TOO_MANY_REQUESTS, "ThrottlingException",
        "budget", "the team's inference unit budget is exhausted"),

    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException",
        "latest_leased",
        "the team's starts are leased: modelVersion must name a version, "
        "not \"latest\""),
    ngx_http_lfv_rule(402, "ServiceQuotaExceededException",
        "running_units",
        "the start would take the team's running inference units over "
        "its cap"),
    ngx_http_lfv_rule(NGX_HTTP_SERVICE_UNAVAILABLE,
        "InternalServerException", "lease_zone_full",
        "the proxy has no room to record the lease of this start"),
    ngx_http_lfv_rule(NGX_HTTP_SERVICE_UNAVAILABLE,
        "InternalServerException", "store_unavailable",
        "the proxy cannot decide the start: the store of the team limits "
        "does not answer"),

    ngx_http_lfv_rule(NGX_HTTP_SERVICE_UNAVAILABLE,
        "InternalServerException", "credentials_unavailable",
        "the proxy has no usable AWS credentials"),
    ngx_http_lfv_rule(NGX_HTTP_SERVICE_UNAVAILABLE,
        "InternalServerException", "role_credentials_unavailable",
        "the proxy has no usable credentials of the team's role"),
    ngx_http_lfv_rule(NGX_HTTP_INTERNAL_SERVER_ERROR,
        "InternalServerException", "internal", "the proxy failed"),

    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException", "http",
        "the request was refused"),

    ngx_http_lfv_rule(NGX_HTTP_OK, "", "forwarded", ""),
};


/* the errors nginx makes itself in an lfv location, in the same shape */

static ngx_http_lfv_reason_t  ngx_http_lfv_nginx_errors[] = {

    ngx_http_lfv_rule(NGX_HTTP_BAD_REQUEST, "ValidationException", "http",
        "the request could not be parsed"),
    ngx_http_lfv_rule(NGX_HTTP_FORBIDDEN, "AccessDeniedException", "http",
        "access denied"),
    ngx_http_lfv_rule(NGX_HTTP_REQUEST_TIME_OUT, "ValidationException",
        "http", "the request was not received in time"),
    ngx_http_lfv_rule(NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
        "ValidationException", "http", "the request body is too large"),
    ngx_http_lfv_rule(NGX_HTTP_REQUEST_URI_TOO_LARGE, "ValidationException",
        "http", "the request target is too long"),
    ngx_http_lfv_rule(NGX_HTTP_TOO_MANY_REQUESTS, "ThrottlingException",
        "http", "too many requests"),
    ngx_http_lfv_rule(NGX_HTTP_INTERNAL_SERVER_ERROR,
        "InternalServerException", "http", "the proxy failed"),
    ngx_http_lfv_rule(NGX_HTTP_BAD_GATEWAY, "InternalServerException",
        "http", "the proxy could not get an answer from Lookout for Vision"),
    ngx_http_lfv_rule(NGX_HTTP_SERVICE_UNAVAILABLE,
        "InternalServerException", "http", "the proxy is unavailable"),
    ngx_http_lfv_rule(NGX_HTTP_GATEWAY_TIME_OUT, "InternalServerException",
        "http", "Lookout for Vision did not answer in time"),
    ngx_http_lfv_rule(0, "", "", "")
};


ngx_http_lfv_reason_t *
ngx_http_lfv_reason(ngx_http_lfv_reason_e reason)
{
    if (reason >= NGX_HTTP_LFV_REASON_LAST) {
        reason = NGX_HTTP_LFV_INTERNAL;
    }

    return &ngx_http_lfv_reasons[reason];
}


/*
 * Answers locally in the shape the AWS SDKs parse.  The body of the
 * request, when unread, is discarded: nothing goes upstream.
 */

ngx_int_t
ngx_http_lfv_error(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_reason_e reason, time_t retry_after)
{
    ngx_int_t               rc;
    ngx_buf_t              *b;
    ngx_str_t              *message;
    ngx_chain_t             out;
    ngx_http_lfv_reason_t  *rs;

    rs = ngx_http_lfv_reason(reason);

    message = ctx->audit->message.len ? &ctx->audit->message : &rs->message;

    /* as nginx's own refusals: no "100 Continue" for a body not wanted */

    r->expect_tested = 1;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_lfv_error_page(r, rs->status)) {
        return rs->status;
    }

    ctx->answered = 1;

    r->headers_out.status = rs->status;

    b = ngx_http_lfv_error_prepare(r, rs, message, retry_after);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the headers of an error response and its body, not yet sent */

static ngx_buf_t *
ngx_http_lfv_error_prepare(ngx_http_request_t *r, ngx_http_lfv_reason_t *rs,
    ngx_str_t *message, time_t retry_after)
{
    u_char                   *p;
    char                     *allow;
    size_t                    len;
    uint32_t                  id[4];
    ngx_buf_t                *b;
    ngx_str_t                 text, *envelope;
    ngx_uint_t                i;
    ngx_http_lfv_audit_t     *audit;
    ngx_http_lfv_loc_conf_t  *llcf;

    /* a team name is the client's bytes: JSON wants valid UTF-8 */

    text = *message;

    if (ngx_http_lfv_utf8(r->pool, &text) != NGX_OK) {
        return NULL;
    }

    /* x-amzn-RequestId: random, in the UUID layout the SDKs print */

    p = ngx_pnalloc(r->pool, NGX_HTTP_LFV_REQUEST_ID_LEN + NGX_INT_T_LEN);
    if (p == NULL) {
        return NULL;
    }

    for (i = 0; i < 4; i++) {
        id[i] = (uint32_t) ngx_random();
    }

    len = ngx_sprintf(p, "%08xD-%04xD-4%03xD-a%03xD-%04xD%08xD",
                      id[0], id[1] >> 16, id[1] & 0xfff, id[2] & 0xfff,
                      id[2] >> 16, id[3])
          - p;

    if (ngx_http_lfv_add_header(r, "x-amzn-RequestId", p, len) == NULL
        || ngx_http_lfv_add_header(r, "x-amzn-ErrorType", rs->code.data,
                                   rs->code.len)
           == NULL)
    {
        return NULL;
    }

    if (retry_after) {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NULL;
        }

        len = ngx_sprintf(p, "%T", retry_after) - p;

        if (ngx_http_lfv_add_header(r, "Retry-After", p, len) == NULL) {
            return NULL;
        }
    }

    if (rs->status == NGX_HTTP_NOT_ALLOWED) {

        /* the method of the operation the route names */

        audit = ngx_http_lfv_get_audit(r);

        allow = (audit && (audit->operation == NGX_HTTP_LFV_OP_DESCRIBE
                           || audit->operation == NGX_HTTP_LFV_OP_LIST))
                ? "GET" : "POST";

        if (ngx_http_lfv_add_header(r, "Allow", (u_char *) allow,
                                    ngx_strlen(allow))
            == NULL)
        {
            return NULL;
        }
    }

    envelope = ngx_http_lfv_envelope_code(rs);

    len = sizeof("{\"success\":false,\"error\":{\"code\":\"\","
                 "\"message\":\"\"}}") - 1
          + envelope->len
          + sizeof(",\"QuotaCode\":\"\",\"ServiceCode\":\"lfv\"") - 1
          + rs->name.len
          + text.len + ngx_escape_json(NULL, text.data, text.len);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    if (llcf->error_format == NGX_HTTP_LFV_FORMAT_ENVELOPE) {
        b->last = ngx_sprintf(b->last, "{\"success\":false,\"error\":"
                              "{\"code\":\"%V\",\"message\":\"", envelope);
    } else {
        b->last = ngx_cpymem(b->last, "{\"message\":\"", 12);
    }

    b->last = (u_char *) ngx_escape_json(b->last, text.data, text.len);
    *b->last++ = '"';

    if (llcf->error_format == NGX_HTTP_LFV_FORMAT_ENVELOPE) {
        *b->last++ = '}';

    } else if (rs->status == NGX_HTTP_TOO_MANY_REQUESTS || rs->status == 402) {

        /* the members the SDKs model for quota errors */

        b->last = ngx_sprintf(b->last, ",\"QuotaCode\":\"%V\","
                              "\"ServiceCode\":\"lfv\"", &rs->name);
    }

    *b->last++ = '}';

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    return b;
}


ngx_int_t
ngx_http_lfv_error_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_lfv_error_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_lfv_error_body_filter;

    return NGX_OK;
}


/*
 * An error page nginx makes itself in an lfv location (a 413 or 400
 * while the body is read, 502 or 504 from proxy_pass) is replaced by
 * one in the AWS shape: the SDKs then report it as such.
 */

static ngx_int_t
ngx_http_lfv_error_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                *message;
    ngx_http_lfv_ctx_t       *ctx;
    ngx_http_lfv_audit_t     *audit;
    ngx_http_lfv_reason_t    *rs;
    ngx_http_lfv_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    if (!llcf->enable || r != r->main
        || r->err_status < NGX_HTTP_BAD_REQUEST
        || r->headers_out.status != r->err_status)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx && ctx->answered) {
        return ngx_http_next_header_filter(r);
    }

    audit = ngx_http_lfv_get_audit(r);

    rs = ngx_http_lfv_nginx_error(r, audit, r->err_status, &message);

    if (ctx == NULL) {
        ctx = ngx_http_lfv_create_ctx(r, audit);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    ctx->answered = 1;

    ctx->error_body = ngx_http_lfv_error_prepare(r, rs, message, 0);
    if (ctx->error_body == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_lfv_error_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t         *cl, out;
    ngx_http_lfv_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx == NULL || ctx->error_body == NULL || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's page is dropped; ours goes once */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_sent) {
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->error_sent = 1;

    out.buf = ctx->error_body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * The rule for an error nginx made: the module's own rejection if it
 * led there (a body over lfv_body_max_size), else one by status.
 */

static ngx_http_lfv_reason_t *
ngx_http_lfv_nginx_error(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit,
    ngx_uint_t status, ngx_str_t **message)
{
    ngx_http_lfv_reason_t  *rs;

    if (audit && ngx_http_lfv_decided(audit)
        && !ngx_http_lfv_forwarded(audit))
    {
        rs = ngx_http_lfv_reason(audit->reason);

        if (rs->status == status) {
            *message = audit->message.len ? &audit->message : &rs->message;
            return rs;
        }
    }

    /* another status: the rule of 500 or 400, with the status kept */

    for ( ;; ) {
        for (rs = ngx_http_lfv_nginx_errors; rs->status; rs++) {
            if (rs->status == status) {
                *message = &rs->message;
                return rs;
            }
        }

        status = (status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
                 ? NGX_HTTP_INTERNAL_SERVER_ERROR : NGX_HTTP_BAD_REQUEST;
    }
}


static ngx_str_t *
ngx_http_lfv_envelope_code(ngx_http_lfv_reason_t *rs)
{
    ngx_str_t  *code;

    static ngx_str_t  unavailable = ngx_string("CREDENTIALS_UNAVAILABLE");
    static ngx_str_t  internal = ngx_string("INTERNAL_ERROR");

    if (rs == &ngx_http_lfv_reasons[NGX_HTTP_LFV_NO_CREDENTIALS]
        || rs == &ngx_http_lfv_reasons[NGX_HTTP_LFV_NO_ROLE_CREDENTIALS])
    {
        return &unavailable;
    }

    code = ngx_http_lfv_envelope_code_of(&rs->code);

    return code ? code : &internal;
}


/* the envelope code of an AWS error code; NULL: none in the table */

ngx_str_t *
ngx_http_lfv_envelope_code_of(ngx_str_t *code)
{
    ngx_http_lfv_envelope_code_t  *e;

    for (e = ngx_http_lfv_envelope_codes; e->code.len; e++) {
        if (e->code.len == code->len
            && ngx_strncmp(e->code.data, code->data, code->len) == 0)
        {
            return &e->envelope;
        }
    }

    return NULL;
}


/* an error_page for the status takes over, as it does for nginx's own */

static ngx_int_t
ngx_http_lfv_error_page(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_uint_t                 i;
    ngx_http_err_page_t       *err_page;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->error_page || clcf->error_pages == NULL || r->uri_changes == 0)
    {
        return 0;
    }

    err_page = clcf->error_pages->elts;

    for (i = 0; i < clcf->error_pages->nelts; i++) {
        if ((ngx_uint_t) err_page[i].status == status) {
            return 1;
        }
    }

    return 0;
}


/*
 * Invalid UTF-8 becomes U+FFFD, so that JSON (an error body, an audit
 * line with escape=json) parses whatever bytes a client sent.
 */

ngx_int_t
ngx_http_lfv_utf8(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p, *last, *q, *dst, *start;
    size_t   bad;

    last = s->data + s->len;
    bad = 0;

    for (p = s->data; p < last; /* void */) {
        q = p;

        if (*p < 0x80) {
            p++;
            continue;
        }

        if (ngx_utf8_decode(&q, last - p) > 0x10ffff) {
            bad++;
            p++;
            continue;
        }

        p = q;
    }

    if (bad == 0) {
        return NGX_OK;
    }

    start = ngx_pnalloc(pool, s->len + 2 * bad);
    if (start == NULL) {
        return NGX_ERROR;
    }

    dst = start;

    for (p = s->data; p < last; /* void */) {
        q = p;

        if (*p < 0x80) {
            *dst++ = *p++;
            continue;
        }

        if (ngx_utf8_decode(&q, last - p) > 0x10ffff) {
            dst = ngx_cpymem(dst, "\xef\xbf\xbd", 3);
            p++;
            continue;
        }

        dst = ngx_cpymem(dst, p, q - p);
        p = q;
    }

    s->data = start;
    s->len = dst - start;

    return NGX_OK;
}


static ngx_table_elt_t *
ngx_http_lfv_add_header(ngx_http_request_t *r, char *name, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return h;
}
