
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_REFRESH_H_INCLUDED_
#define _NGX_HTTP_LFV_REFRESH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_credentials.h"


/* a worker's refresher of fetched credentials; worker 0 keeps the time */
ngx_int_t ngx_http_lfv_refresh_init_worker(ngx_cycle_t *cycle,
    ngx_http_lfv_creds_conf_t *ccf);

/* a fetch now, unless one is in flight in some worker */
void ngx_http_lfv_refresh_kick(ngx_http_lfv_creds_conf_t *ccf);


#endif /* _NGX_HTTP_LFV_REFRESH_H_INCLUDED_ */
