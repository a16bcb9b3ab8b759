
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_ENVELOPE_H_INCLUDED_
#define _NGX_HTTP_LFV_ENVELOPE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* lfv_error_format envelope: a successful start in the seed's shape */

ngx_int_t ngx_http_lfv_envelope_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LFV_ENVELOPE_H_INCLUDED_ */
