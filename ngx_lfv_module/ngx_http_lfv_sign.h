
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_SIGN_H_INCLUDED_
#define _NGX_HTTP_LFV_SIGN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"


ngx_int_t ngx_http_lfv_sign(ngx_http_request_t *r, ngx_http_lfv_ctx_t *ctx,
    ngx_http_lfv_creds_t *creds, ngx_str_t *body);
void ngx_http_lfv_sign_cleanup(ngx_http_lfv_main_conf_t *lmcf);


#endif /* _NGX_HTTP_LFV_SIGN_H_INCLUDED_ */
