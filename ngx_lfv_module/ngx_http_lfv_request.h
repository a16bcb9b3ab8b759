
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_REQUEST_H_INCLUDED_
#define _NGX_HTTP_LFV_REQUEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_reason.h"


#define NGX_HTTP_LFV_PROJECT_MAX       255
#define NGX_HTTP_LFV_VERSION_MAX       10
#define NGX_HTTP_LFV_CLIENT_TOKEN_MAX  64
#define NGX_HTTP_LFV_UNITS_UNSET       (-1)


/*
 * Pure parsers of untrusted input: buffers in, results out, no pools,
 * so that tests and fuzzers call them directly.  Each returns
 * NGX_HTTP_LFV_OK or the reason of the first rule broken.
 */

ngx_http_lfv_reason_e ngx_http_lfv_parse_target(u_char *p, size_t len,
    ngx_str_t *project, ngx_str_t *version);
ngx_http_lfv_reason_e ngx_http_lfv_parse_body(u_char *p, size_t len,
    ngx_int_t *min_units, ngx_int_t *max_units);
ngx_http_lfv_reason_e ngx_http_lfv_check_client_token(u_char *p, size_t len);
ngx_http_lfv_reason_e ngx_http_lfv_check_content_type(u_char *p, size_t len);


#endif /* _NGX_HTTP_LFV_REQUEST_H_INCLUDED_ */
