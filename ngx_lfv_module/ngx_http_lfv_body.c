
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_handler.h"
#include "ngx_http_lfv_body.h"


static ngx_int_t ngx_http_lfv_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;


ngx_int_t
ngx_http_lfv_body_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_lfv_request_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_body_read(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_client_body_handler_pt handler)
{
    ctx->body_reading = 1;

    return ngx_http_read_client_request_body(r, handler);
}


/*
 * A body that comes whole in one buffer (the usual small one, read with
 * the headers) is used where it is.  Otherwise what the length or chunked
 * filter decoded is copied into one buffer of at most the cap, and their
 * buffers freed at once; at the end, that buffer goes on to the save
 * filter.  A body over the cap is refused as soon as it is.
 */

static ngx_int_t
ngx_http_lfv_request_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                    size;
    ngx_buf_t                *b;
    ngx_uint_t                last;
    ngx_chain_t              *cl, *out;
    ngx_http_lfv_ctx_t       *ctx;
    ngx_http_lfv_loc_conf_t  *llcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx == NULL || !ctx->body_reading) {
        return ngx_http_next_request_body_filter(r, in);
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    b = ctx->body_buf;

    if (b == NULL && in && in->next == NULL && in->buf->last_buf
        && !in->buf->in_file
        && (size_t) (in->buf->last - in->buf->pos) <= llcf->body_max_size)
    {
        ctx->body_reading = 0;
        ctx->body.data = in->buf->pos;
        ctx->body.len = in->buf->last - in->buf->pos;

        return ngx_http_next_request_body_filter(r, in);
    }

    if (b == NULL) {

        /*
         * A Content-Length is at most the cap (checked before); with
         * chunked, nginx counts the decoded length in content_length_n
         */

        size = (r->headers_in.chunked || r->headers_in.content_length_n < 0)
               ? llcf->body_max_size
               : (size_t) r->headers_in.content_length_n;

        b = ngx_create_temp_buf(r->pool, ngx_max(size, 1));
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->body_buf = b;
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        size = cl->buf->last - cl->buf->pos;

        if (size > (size_t) (b->end - b->last)) {
            ngx_http_lfv_decide(r, ctx->audit, NGX_HTTP_LFV_BODY_TOO_LARGE);
            ctx->body_reading = 0;
            return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        }

        if (size) {
            b->last = ngx_cpymem(b->last, cl->buf->pos, size);
            cl->buf->pos = cl->buf->last;
        }

        if (cl->buf->last_buf) {
            last = 1;
        }
    }

    if (!last) {
        return ngx_http_next_request_body_filter(r, NULL);
    }

    ctx->body_reading = 0;
    ctx->body.data = b->pos;
    ctx->body.len = b->last - b->pos;

    b->last_buf = 1;

    out = ngx_alloc_chain_link(r->pool);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    out->buf = b;
    out->next = NULL;

    return ngx_http_next_request_body_filter(r, out);
}
