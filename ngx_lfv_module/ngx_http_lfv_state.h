
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_STATE_H_INCLUDED_
#define _NGX_HTTP_LFV_STATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_state_doc.h"


/* the largest state file read: some 100,000 leases */
#define NGX_HTTP_LFV_STATE_FILE_MAX  ((off_t) 64 * 1024 * 1024)


/*
 * lfv_policy_zone ... state=path: the leases, the running units, the
 * budgets and the rate buckets a restart or a binary upgrade must not
 * lose.  Loaded when the zone is created (by the master, before any
 * worker); a file that is not valid is kept aside, never overwritten,
 * and the zone starts empty.
 */
void ngx_http_lfv_state_load(ngx_shm_zone_t *zone);

/*
 * Written when it changed, by worker 0 (and at its exit): to a
 * temporary file renamed into place, mode 0600; a failure keeps the
 * previous file, and is logged and counted for the status page.
 */
void ngx_http_lfv_state_save(ngx_shm_zone_t *zone, ngx_log_t *log);


#endif /* _NGX_HTTP_LFV_STATE_H_INCLUDED_ */
