
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_REFRESH_H_INCLUDED_
#define _NGX_HTTP_LFV_REFRESH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_credentials.h"


/* starts the one refresher of fetched credentials, in worker 0 */

ngx_int_t ngx_http_lfv_refresh_init_worker(ngx_cycle_t *cycle,
    ngx_http_lfv_creds_conf_t *ccf);


#endif /* _NGX_HTTP_LFV_REFRESH_H_INCLUDED_ */
