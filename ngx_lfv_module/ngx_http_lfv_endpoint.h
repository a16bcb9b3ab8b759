
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_ENDPOINT_H_INCLUDED_
#define _NGX_HTTP_LFV_ENDPOINT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_lfv_fetch.h"
#include "ngx_http_lfv_sigv4.h"


/*
 * Where one of the module's own calls to AWS goes (STS, the cost
 * guard's StopModel and DescribeModel), and the signed request it sends.
 */

typedef struct {
    ngx_str_t                   region;         /* signed for */
    ngx_str_t                   url;            /* as configured or built */
    ngx_addr_t                 *addr;           /* an address, NULL: name */
    ngx_str_t                   name;           /* resolved and verified */
    in_port_t                   port;
    ngx_str_t                   host;           /* the Host header */
    ngx_str_t                   path;
    ngx_ssl_t                  *ssl;            /* NULL: http:// loopback */
    ngx_resolver_t             *resolver;
    ngx_msec_t                  resolver_timeout;
} ngx_http_lfv_endpoint_t;


/*
 * "url": https://, or http:// to a loopback address (tests); a name
 * needs nginx's "resolver" in the http block, which "resolver" holds
 * (NULL: none).  "what" names the endpoint in errors; "ca" is the file
 * certificates are verified with.
 */
char *ngx_http_lfv_endpoint_init(ngx_conf_t *cf, ngx_http_lfv_endpoint_t *ep,
    ngx_str_t *url, char *what, ngx_str_t *ca, ngx_resolver_t *resolver,
    ngx_msec_t resolver_timeout);

/* where a fetch of the endpoint goes */
void ngx_http_lfv_endpoint_fetch_init(ngx_http_lfv_endpoint_t *ep,
    ngx_http_lfv_fetch_t *f);


/* one signed call: the request line, the signed headers and the body */

typedef struct {
    ngx_str_t                   method;
    ngx_str_t                   uri;
    ngx_str_t                   host;           /* Host, signed */
    ngx_str_t                   region;
    ngx_str_t                   service;
    ngx_str_t                   content_type;   /* empty: none */
    ngx_str_t                   target;         /* X-Amz-Target, or empty */
    ngx_str_t                   client_token;   /* empty: none */
    ngx_str_t                   accept;
    ngx_str_t                   body;

    ngx_str_t                  *access_key_id;
    ngx_str_t                  *secret_access_key;
    ngx_str_t                  *session_token;  /* empty: none */
} ngx_http_lfv_endpoint_call_t;


/*
 * The HTTP/1.0 request of the call, signed with SigV4 at the current
 * time; NULL on an error of memory or of the digest.  The secrets that
 * went into it are wiped from everything but the request.
 */
ngx_buf_t *ngx_http_lfv_endpoint_signed(ngx_pool_t *pool,
    ngx_http_lfv_sigv4_crypto_t *crypto, ngx_http_lfv_endpoint_call_t *call);


#endif /* _NGX_HTTP_LFV_ENDPOINT_H_INCLUDED_ */
