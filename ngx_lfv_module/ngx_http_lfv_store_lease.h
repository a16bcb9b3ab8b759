
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_STORE_LEASE_H_INCLUDED_
#define _NGX_HTTP_LFV_STORE_LEASE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_store_doc.h"
#include "ngx_http_lfv_lease.h"


/*
 * The store's leases swept by worker 0 of every proxy (the items:
 * ngx_http_lfv_store_doc.h)
 */

/* a start's lease waits for AWS's answer this many claim times */
#define NGX_HTTP_LFV_STORE_LEASE_PENDING  5

/* this process's name in claims */
ngx_str_t *ngx_http_lfv_store_owner(void);

/* worker 0's look for leases that are due, in every proxy */
void ngx_http_lfv_store_lease_sweep(ngx_http_lfv_sweeper_t *sw);

/* what came of a claimed call, written in the item */
void ngx_http_lfv_store_lease_swept(ngx_http_lfv_sweeper_t *sw,
    ngx_http_lfv_sweep_lease_t *lease, ngx_http_lfv_swept_e swept,
    ngx_uint_t *overdue);


#endif /* _NGX_HTTP_LFV_STORE_LEASE_H_INCLUDED_ */
