
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_ERROR_H_INCLUDED_
#define _NGX_HTTP_LFV_ERROR_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"


typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   code;           /* x-amzn-ErrorType */
    ngx_str_t                   name;           /* $lfv_reason */
    ngx_str_t                   message;
} ngx_http_lfv_reason_t;


ngx_http_lfv_reason_t *ngx_http_lfv_reason(ngx_http_lfv_reason_e reason);
ngx_int_t ngx_http_lfv_error(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_reason_e reason, time_t retry_after);
ngx_int_t ngx_http_lfv_error_init(ngx_conf_t *cf);
ngx_int_t ngx_http_lfv_utf8(ngx_pool_t *pool, ngx_str_t *s);
ngx_str_t *ngx_http_lfv_envelope_code_of(ngx_str_t *code);


#endif /* _NGX_HTTP_LFV_ERROR_H_INCLUDED_ */
