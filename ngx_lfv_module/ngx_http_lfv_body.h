
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_BODY_H_INCLUDED_
#define _NGX_HTTP_LFV_BODY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"


/*
 * The request body, read into one buffer of lfv_body_max_size by a
 * request body filter: the cap holds while it is read, chunked or not,
 * and the body never goes to a temporary file.
 */

ngx_int_t ngx_http_lfv_body_init(ngx_conf_t *cf);
ngx_int_t ngx_http_lfv_body_read(ngx_http_request_t *r,
    ngx_http_lfv_ctx_t *ctx, ngx_http_client_body_handler_pt handler);


#endif /* _NGX_HTTP_LFV_BODY_H_INCLUDED_ */
