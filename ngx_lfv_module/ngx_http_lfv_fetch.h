
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


#define NGX_HTTP_LFV_FETCH_MAX        16384
#define NGX_HTTP_LFV_FETCH_ERROR_MAX  128


typedef struct ngx_http_lfv_fetch_s  ngx_http_lfv_fetch_t;

typedef void (*ngx_http_lfv_fetch_handler_pt)(ngx_http_lfv_fetch_t *f);


/*
 * One HTTP exchange on the event loop, the module's only HTTP client:
 * resolve the name with nginx's resolver (when no address is given),
 * connect, TLS with SNI and the certificate verified for the name (when
 * ssl is set), write the request, read until the peer closes, parse.
 * The caller owns the pool; the handler runs once, with rc NGX_OK and
 * the parsed response, or NGX_ERROR and err saying why (never a
 * secret: the request is not logged).
 */

struct ngx_http_lfv_fetch_s {
    ngx_addr_t                     *addr;       /* NULL: resolve host */
    ngx_str_t                       host;       /* resolved and verified */
    in_port_t                       port;       /* of a resolved host */
    ngx_resolver_t                 *resolver;
    ngx_msec_t                      resolver_timeout;
    ngx_ssl_t                      *ssl;        /* NULL: plain HTTP */

    ngx_buf_t                      *request;
    ngx_msec_t                      timeout;    /* of each step */

    ngx_pool_t                     *pool;
    ngx_log_t                      *log;

    ngx_http_lfv_fetch_handler_pt   handler;
    void                           *data;

    ngx_resolver_ctx_t             *resolving;
    ngx_addr_t                      resolved;
    ngx_sockaddr_t                  sockaddr;
    ngx_peer_connection_t           peer;
    ngx_buf_t                      *response;

    ngx_int_t                       rc;
    char                           *err;
    ngx_http_lfv_http_response_t    resp;
    u_char                          error[NGX_HTTP_LFV_FETCH_ERROR_MAX];
    u_char                          addr_text[NGX_SOCKADDR_STRLEN];
};


void ngx_http_lfv_fetch(ngx_http_lfv_fetch_t *f);
void ngx_http_lfv_fetch_abort(ngx_http_lfv_fetch_t *f);

/* the client context of HTTPS fetches: TLS 1.2 and 1.3, this CA file */
ngx_int_t ngx_http_lfv_fetch_ssl_init(ngx_conf_t *cf, ngx_ssl_t *ssl,
    ngx_str_t *ca);


#endif /* _NGX_HTTP_LFV_FETCH_H_INCLUDED_ */
