
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_FETCH_H_INCLUDED_
#define _NGX_HTTP_LFV_FETCH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_lfv_fetch_response.h"


#define NGX_HTTP_LFV_FETCH_MAX  16384


typedef struct ngx_http_lfv_fetch_s  ngx_http_lfv_fetch_t;

typedef void (*ngx_http_lfv_fetch_handler_pt)(ngx_http_lfv_fetch_t *f);


/*
 * One HTTP exchange with a metadata service on the event loop: connect,
 * write the request, read until the peer closes, parse.  The caller
 * owns the pool; the handler runs once, with rc NGX_OK and the parsed
 * response, or NGX_ERROR and err saying why.
 */

struct ngx_http_lfv_fetch_s {
    ngx_addr_t                     *addr;
    ngx_buf_t                      *request;
    ngx_msec_t                      timeout;

    ngx_pool_t                     *pool;
    ngx_log_t                      *log;

    ngx_http_lfv_fetch_handler_pt   handler;
    void                           *data;

    ngx_peer_connection_t           peer;
    ngx_buf_t                      *response;

    ngx_int_t                       rc;
    char                           *err;
    ngx_http_lfv_http_response_t    resp;
};


void ngx_http_lfv_fetch(ngx_http_lfv_fetch_t *f);
void ngx_http_lfv_fetch_abort(ngx_http_lfv_fetch_t *f);


#endif /* _NGX_HTTP_LFV_FETCH_H_INCLUDED_ */
