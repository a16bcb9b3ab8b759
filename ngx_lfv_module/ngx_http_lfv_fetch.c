
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_lfv_fetch.h"


static void ngx_http_lfv_fetch_resolved(ngx_resolver_ctx_t *ctx);
static void ngx_http_lfv_fetch_connect(ngx_http_lfv_fetch_t *f);
static void ngx_http_lfv_fetch_connected(ngx_event_t *wev);
static ngx_int_t ngx_http_lfv_fetch_test_connect(ngx_http_lfv_fetch_t *f,
    ngx_connection_t *c);
static void ngx_http_lfv_fetch_ssl_start(ngx_http_lfv_fetch_t *f);
static void ngx_http_lfv_fetch_ssl_handshaked(ngx_connection_t *c);
static void ngx_http_lfv_fetch_write_handler(ngx_event_t *wev);
static void ngx_http_lfv_fetch_read_handler(ngx_event_t *rev);
static void ngx_http_lfv_fetch_dummy_handler(ngx_event_t *ev);
static void ngx_http_lfv_fetch_done(ngx_http_lfv_fetch_t *f, ngx_int_t rc,
    char *err);


void
ngx_http_lfv_fetch(ngx_http_lfv_fetch_t *f)
{
    ngx_resolver_ctx_t  *ctx;

    f->rc = NGX_ERROR;
    f->err = NULL;
    f->response = NULL;
    f->resolving = NULL;

    ngx_memzero(&f->peer, sizeof(ngx_peer_connection_t));

    if (f->addr) {
        ngx_http_lfv_fetch_connect(f);
        return;
    }

    /* a name: nginx's resolver, as the OCSP client does */

    ctx = ngx_resolve_start(f->resolver, NULL);
    if (ctx == NULL) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "no memory");
        return;
    }

    if (ctx == NGX_NO_RESOLVER) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "no resolver defined");
        return;
    }

    ctx->name = f->host;
    ctx->handler = ngx_http_lfv_fetch_resolved;
    ctx->data = f;
    ctx->timeout = f->resolver_timeout;

    f->resolving = ctx;

    if (ngx_resolve_name(ctx) != NGX_OK) {
        f->resolving = NULL;
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "resolving failed");
    }
}


static void
ngx_http_lfv_fetch_resolved(ngx_resolver_ctx_t *ctx)
{
    ngx_http_lfv_fetch_t *f = ctx->data;

    u_char     *p;
    size_t      len;
    ngx_uint_t  i;

    f->resolving = NULL;

    if (ctx->state) {
        p = ngx_snprintf(f->error, NGX_HTTP_LFV_FETCH_ERROR_MAX - 1,
                         "%V could not be resolved (%i: %s)",
                         &ctx->name, ctx->state,
                         ngx_resolver_strerror(ctx->state));
        *p = '\0';

        ngx_resolve_name_done(ctx);
        ngx_http_lfv_fetch_done(f, NGX_ERROR, (char *) f->error);
        return;
    }

    /* a different address each time: a dead one is not retried forever */

    i = ngx_random() % ctx->naddrs;

    len = ngx_min(ctx->addrs[i].socklen, sizeof(ngx_sockaddr_t));
    ngx_memcpy(&f->sockaddr, ctx->addrs[i].sockaddr, len);
    ngx_inet_set_port(&f->sockaddr.sockaddr, f->port);

    f->resolved.sockaddr = &f->sockaddr.sockaddr;
    f->resolved.socklen = len;
    f->resolved.name.data = f->addr_text;
    f->resolved.name.len = ngx_sock_ntop(&f->sockaddr.sockaddr, len,
                                         f->addr_text, NGX_SOCKADDR_STRLEN,
                                         1);

    ngx_resolve_name_done(ctx);

    f->addr = &f->resolved;

    ngx_http_lfv_fetch_connect(f);
}


static void
ngx_http_lfv_fetch_connect(ngx_http_lfv_fetch_t *f)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    f->peer.sockaddr = f->addr->sockaddr;
    f->peer.socklen = f->addr->socklen;
    f->peer.name = &f->addr->name;
    f->peer.get = ngx_event_get_peer;
    f->peer.log = f->log;
    f->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&f->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "connect() failed");
        return;
    }

    c = f->peer.connection;

    c->data = f;
    c->pool = f->pool;

    c->read->handler = ngx_http_lfv_fetch_dummy_handler;
    c->write->handler = ngx_http_lfv_fetch_connected;

    ngx_add_timer(c->write, f->timeout);

    if (rc == NGX_OK) {
        ngx_http_lfv_fetch_connected(c->write);
    }
}


static void
ngx_http_lfv_fetch_connected(ngx_event_t *wev)
{
    ngx_connection_t      *c;
    ngx_http_lfv_fetch_t  *f;

    c = wev->data;
    f = c->data;

    if (wev->timedout) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "timed out connecting");
        return;
    }

    if (ngx_http_lfv_fetch_test_connect(f, c) != NGX_OK) {
        return;
    }

    if (f->ssl) {
        ngx_http_lfv_fetch_ssl_start(f);
        return;
    }

    c->read->handler = ngx_http_lfv_fetch_read_handler;
    c->write->handler = ngx_http_lfv_fetch_write_handler;

    ngx_add_timer(c->read, f->timeout);

    ngx_http_lfv_fetch_write_handler(wev);
}


/* a connect() that did not succeed, told as such */

static ngx_int_t
ngx_http_lfv_fetch_test_connect(ngx_http_lfv_fetch_t *f, ngx_connection_t *c)
{
    int        err;
    u_char    *p, *last;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err == 0) {
        return NGX_OK;
    }

    last = f->error + NGX_HTTP_LFV_FETCH_ERROR_MAX - 2;

    p = ngx_slprintf(f->error, last, "connect() to %V failed (%d: ",
                     &f->addr->name, err);
    p = ngx_strerror(err, p, last - p);
    *p++ = ')';
    *p = '\0';

    ngx_http_lfv_fetch_done(f, NGX_ERROR, (char *) f->error);

    return NGX_ERROR;
}


/*
 * The certificate is verified against the CA file for the name itself
 * (an IP address for an address), inside the handshake; its result is
 * read once the handshake is done, as proxy_ssl_verify does.
 */

static void
ngx_http_lfv_fetch_ssl_start(ngx_http_lfv_fetch_t *f)
{
    u_char              *name;
    ngx_int_t            rc;
    ngx_connection_t    *c;
    X509_VERIFY_PARAM   *param;

    c = f->peer.connection;

    if (ngx_ssl_create_connection(f->ssl, c, NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "TLS setup failed");
        return;
    }

    name = ngx_pnalloc(f->pool, f->host.len + 1);
    if (name == NULL) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "no memory");
        return;
    }

    (void) ngx_cpystrn(name, f->host.data, f->host.len + 1);

    param = SSL_get0_param(c->ssl->connection);

    if (ngx_inet_addr(name, f->host.len) != INADDR_NONE
#if (NGX_HAVE_INET6)
        || ngx_strlchr(name, name + f->host.len, ':')
#endif
        )
    {
        rc = X509_VERIFY_PARAM_set1_ip_asc(param, (char *) name);

    } else {
        rc = (SSL_set_tlsext_host_name(c->ssl->connection, (char *) name)
              && X509_VERIFY_PARAM_set1_host(param, (char *) name, 0));
    }

    if (rc != 1) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "TLS setup failed");
        return;
    }

    /* the handshake waits for reads and writes: both are bounded */

    ngx_add_timer(c->read, f->timeout);

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_lfv_fetch_ssl_handshaked;
        return;
    }

    ngx_http_lfv_fetch_ssl_handshaked(c);
}


static void
ngx_http_lfv_fetch_ssl_handshaked(ngx_connection_t *c)
{
    u_char                *p;
    long                   rc;
    X509                  *cert;
    ngx_http_lfv_fetch_t  *f;

    f = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR,
                                c->write->timedout || c->read->timedout
                                ? "timed out in the TLS handshake"
                                : "TLS handshake failed");
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        p = ngx_snprintf(f->error, NGX_HTTP_LFV_FETCH_ERROR_MAX - 1,
                         "certificate of %V not trusted (%l: %s)",
                         &f->host, rc, X509_verify_cert_error_string(rc));
        *p = '\0';

        ngx_http_lfv_fetch_done(f, NGX_ERROR, (char *) f->error);
        return;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);

    if (cert == NULL) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "no certificate");
        return;
    }

    X509_free(cert);

    c->read->handler = ngx_http_lfv_fetch_read_handler;
    c->write->handler = ngx_http_lfv_fetch_write_handler;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_add_timer(c->read, f->timeout);

    if (!c->write->timer_set) {
        ngx_add_timer(c->write, f->timeout);
    }

    ngx_http_lfv_fetch_write_handler(c->write);
}


static void
ngx_http_lfv_fetch_write_handler(ngx_event_t *wev)
{
    ssize_t                n, size;
    ngx_connection_t      *c;
    ngx_http_lfv_fetch_t  *f;

    c = wev->data;
    f = c->data;

    if (wev->timedout) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "timed out sending");
        return;
    }

    size = f->request->last - f->request->pos;

    n = c->send(c, f->request->pos, size);

    if (n == NGX_ERROR) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "send() failed");
        return;
    }

    if (n > 0) {
        f->request->pos += n;

        if (n == size) {
            wev->handler = ngx_http_lfv_fetch_dummy_handler;

            if (wev->timer_set) {
                ngx_del_timer(wev);
            }

            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_lfv_fetch_done(f, NGX_ERROR, "write event failed");
            }

            return;
        }
    }

    if (!wev->timer_set) {
        ngx_add_timer(wev, f->timeout);
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "write event failed");
    }
}


static void
ngx_http_lfv_fetch_read_handler(ngx_event_t *rev)
{
    ssize_t                n;
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_lfv_fetch_t  *f;

    c = rev->data;
    f = c->data;

    if (rev->timedout) {
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "timed out reading");
        return;
    }

    if (f->response == NULL) {

        /* one byte more: a response of exactly the limit is complete */

        f->response = ngx_create_temp_buf(f->pool, NGX_HTTP_LFV_FETCH_MAX + 1);
        if (f->response == NULL) {
            ngx_http_lfv_fetch_done(f, NGX_ERROR, "no memory");
            return;
        }
    }

    for ( ;; ) {

        if (f->response->last == f->response->end) {
            ngx_http_lfv_fetch_done(f, NGX_ERROR, "response too large");
            return;
        }

        n = c->recv(c, f->response->last,
                    f->response->end - f->response->last);

        if (n > 0) {
            f->response->last += n;
            continue;
        }

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_lfv_fetch_done(f, NGX_ERROR, "read event failed");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_lfv_fetch_done(f, NGX_ERROR, "connection reset");
            return;
        }

        break;
    }

    /* the peer closed the connection: the response is complete */

    rc = ngx_http_lfv_parse_http_response(f->response->pos,
                                          f->response->last
                                          - f->response->pos,
                                          &f->resp, &f->err);

    ngx_http_lfv_fetch_done(f, rc, f->err);
}


static void
ngx_http_lfv_fetch_dummy_handler(ngx_event_t *ev)
{
}


static void
ngx_http_lfv_fetch_done(ngx_http_lfv_fetch_t *f, ngx_int_t rc, char *err)
{
    ngx_http_lfv_fetch_abort(f);

    f->rc = rc;
    f->err = err;

    f->handler(f);
}


void
ngx_http_lfv_fetch_abort(ngx_http_lfv_fetch_t *f)
{
    ngx_connection_t  *c;

    if (f->resolving) {
        ngx_resolve_name_done(f->resolving);
        f->resolving = NULL;
    }

    c = f->peer.connection;

    if (c == NULL) {
        return;
    }

    f->peer.connection = NULL;

    if (c->ssl) {

        /* the answer is read, or given up: no close_notify to wait for */

        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }

    ngx_close_connection(c);
}


ngx_int_t
ngx_http_lfv_fetch_ssl_init(ngx_conf_t *cf, ngx_ssl_t *ssl, ngx_str_t *ca)
{
    ngx_pool_cleanup_t  *cln;

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    if (ngx_ssl_trusted_certificate(cf, ssl, ca, 8) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
