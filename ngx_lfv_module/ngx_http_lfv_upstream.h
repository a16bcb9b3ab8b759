
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_LFV_UPSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * What goes to AWS: the variables through which lfv_proxy_params gives
 * the signed request to the proxy module, and the log-phase check that
 * a signed request did not leave without its signature.
 */

ngx_int_t ngx_http_lfv_upstream_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_lfv_upstream_check_conf(ngx_conf_t *cf);
ngx_int_t ngx_http_lfv_upstream_log_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LFV_UPSTREAM_H_INCLUDED_ */
