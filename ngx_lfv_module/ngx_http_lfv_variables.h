
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_LFV_VARIABLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the audit variables ($lfv_team ... $lfv_reason), and any other table */

ngx_int_t ngx_http_lfv_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_lfv_variables_add(ngx_conf_t *cf,
    ngx_http_variable_t *vars);


#endif /* _NGX_HTTP_LFV_VARIABLES_H_INCLUDED_ */
