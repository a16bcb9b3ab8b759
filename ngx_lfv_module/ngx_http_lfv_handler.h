
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_HANDLER_H_INCLUDED_
#define _NGX_HTTP_LFV_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The request's way through the module: the PRECONTENT phase handler
 * (validation, policy, body, credentials, limits, signing) and the log
 * phase handler that gives the access log the client's headers back.
 */

ngx_int_t ngx_http_lfv_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_lfv_log_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LFV_HANDLER_H_INCLUDED_ */
