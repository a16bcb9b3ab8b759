
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_HANDLER_H_INCLUDED_
#define _NGX_HTTP_LFV_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"


/*
 * The request's way through the module: the PRECONTENT phase handler
 * (validation, policy, body, credentials, limits, signing).
 */

ngx_int_t ngx_http_lfv_handler(ngx_http_request_t *r);
ngx_http_lfv_ctx_t *ngx_http_lfv_create_ctx(ngx_http_request_t *r,
    ngx_http_lfv_audit_t *audit);
void ngx_http_lfv_decide(ngx_http_request_t *r, ngx_http_lfv_audit_t *audit,
    ngx_http_lfv_reason_e reason);
void ngx_http_lfv_handler_resume(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LFV_HANDLER_H_INCLUDED_ */
