
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_ROLES_H_INCLUDED_
#define _NGX_HTTP_LFV_ROLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"


/*
 * The role of each team with "lfv_policy ... role=": credentials of its
 * own, from STS's AssumeRole signed by the base credentials, in a record
 * of its own shared by all workers and refreshed like the base ones
 */
char *ngx_http_lfv_roles_init_conf(ngx_conf_t *cf,
    ngx_http_lfv_main_conf_t *lmcf);
ngx_int_t ngx_http_lfv_roles_init_worker(ngx_cycle_t *cycle,
    ngx_http_lfv_main_conf_t *lmcf);


#endif /* _NGX_HTTP_LFV_ROLES_H_INCLUDED_ */
