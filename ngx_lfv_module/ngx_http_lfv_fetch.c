
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_lfv_fetch.h"


static void ngx_http_lfv_fetch_write_handler(ngx_event_t *wev);
static void ngx_http_lfv_fetch_read_handler(ngx_event_t *rev);
static void ngx_http_lfv_fetch_dummy_handler(ngx_event_t *ev);
static void ngx_http_lfv_fetch_done(ngx_http_lfv_fetch_t *f, ngx_int_t rc,
    char *err);


void
ngx_http_lfv_fetch(ngx_http_lfv_fetch_t *f)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    f->rc = NGX_ERROR;
    f->err = NULL;
    f->response = NULL;

    ngx_memzero(&f->peer, sizeof(ngx_peer_connection_t));

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

    c->read->handler = ngx_http_lfv_fetch_read_handler;
    c->write->handler = ngx_http_lfv_fetch_write_handler;

    ngx_add_timer(c->read, f->timeout);
    ngx_add_timer(c->write, f->timeout);

    if (rc == NGX_OK) {
        ngx_http_lfv_fetch_write_handler(c->write);
    }
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
        ngx_http_lfv_fetch_done(f, NGX_ERROR, "timed out connecting");
        return;
    }

    size = f->request->last - f->request->pos;

    n = ngx_send(c, f->request->pos, size);

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

        n = ngx_recv(c, f->response->last,
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
    if (f->peer.connection) {
        ngx_close_connection(f->peer.connection);
        f->peer.connection = NULL;
    }
}
