
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_lfv_endpoint.h"


static ngx_int_t ngx_http_lfv_endpoint_loopback(ngx_addr_t *addr);


char *
ngx_http_lfv_endpoint_init(ngx_conf_t *cf, ngx_http_lfv_endpoint_t *ep,
    ngx_str_t *url, char *what, ngx_str_t *ca, ngx_resolver_t *resolver,
    ngx_msec_t resolver_timeout)
{
    u_char      *p;
    ngx_url_t    u;
    ngx_uint_t   tls;
    ngx_addr_t  *addr;

    ep->url = *url;

    ngx_memzero(&u, sizeof(ngx_url_t));

    if (url->len > 8 && ngx_strncasecmp(url->data, (u_char *) "https://", 8)
                        == 0)
    {
        tls = 1;
        u.url.data = url->data + 8;
        u.url.len = url->len - 8;
        u.default_port = 443;

    } else if (url->len > 7
               && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
    {
        tls = 0;
        u.url.data = url->data + 7;
        u.url.len = url->len - 7;
        u.default_port = 80;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%V\" must be an https:// URL", what, url);
        return NGX_CONF_ERROR;
    }

    u.uri_part = 1;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in %s \"%V\"", u.err, what, url);
        }

        return NGX_CONF_ERROR;
    }

    ep->port = u.port;
    ep->path = u.uri;

    if (ep->path.len == 0) {
        ngx_str_set(&ep->path, "/");
    }

    /* the name to resolve and to verify: an IPv6 address without [] */

    ep->name = u.host;

    if (ep->name.len > 2 && ep->name.data[0] == '[') {
        ep->name.data++;
        ep->name.len -= 2;
    }

    addr = ngx_pcalloc(cf->pool, sizeof(ngx_addr_t));
    if (addr == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_parse_addr(cf->pool, addr, ep->name.data, ep->name.len)
        == NGX_OK)
    {
        ngx_inet_set_port(addr->sockaddr, ep->port);

        addr->name.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN);
        if (addr->name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        addr->name.len = ngx_sock_ntop(addr->sockaddr, addr->socklen,
                                       addr->name.data, NGX_SOCKADDR_STRLEN,
                                       1);
        ep->addr = addr;

    } else if (resolver == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%V\" needs a \"resolver\" in the "
                           "http block to resolve \"%V\"", what, url,
                           &ep->name);
        return NGX_CONF_ERROR;
    }

    /* secrets go over plain HTTP only to this host itself, for tests */

    if (!tls && (ep->addr == NULL
                 || ngx_http_lfv_endpoint_loopback(ep->addr) != NGX_OK))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%V\" must be an https:// URL; "
                           "http:// is only for a loopback address", what,
                           url);
        return NGX_CONF_ERROR;
    }

    ep->resolver = resolver;
    ep->resolver_timeout = resolver_timeout;

    /* the Host header: the name as written, with a port unless default */

    ep->host.data = ngx_pnalloc(cf->pool, u.host.len + 1 + NGX_INT_T_LEN);
    if (ep->host.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(ep->host.data, u.host.data, u.host.len);

    if (u.port != u.default_port) {
        p = ngx_sprintf(p, ":%d", (int) u.port);
    }

    ep->host.len = p - ep->host.data;

    if (!tls) {
        return NGX_CONF_OK;
    }

    ep->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ep->ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_fetch_ssl_init(cf, ep->ssl, ca) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_lfv_endpoint_loopback(ngx_addr_t *addr)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (addr->sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) addr->sockaddr;
        return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ? NGX_OK : NGX_DECLINED;
#endif

    case AF_INET:
        sin = (struct sockaddr_in *) addr->sockaddr;
        return (((u_char *) &sin->sin_addr.s_addr)[0] == 127)
               ? NGX_OK : NGX_DECLINED;

    default:
        return NGX_DECLINED;
    }
}


void
ngx_http_lfv_endpoint_fetch_init(ngx_http_lfv_endpoint_t *ep,
    ngx_http_lfv_fetch_t *f)
{
    f->addr = ep->addr;
    f->host = ep->name;
    f->port = ep->port;
    f->resolver = ep->resolver;
    f->resolver_timeout = ep->resolver_timeout;
    f->ssl = ep->ssl;
}


ngx_buf_t *
ngx_http_lfv_endpoint_signed(ngx_pool_t *pool,
    ngx_http_lfv_sigv4_crypto_t *crypto, ngx_http_lfv_endpoint_call_t *call)
{
    u_char                        *scratch;
    size_t                         size;
    ngx_tm_t                       tm;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_http_lfv_sigv4_key_t       key;
    ngx_http_lfv_sigv4_request_t   sr;
    u_char                         date[NGX_HTTP_LFV_AMZ_DATE_LEN];
    u_char                         signature[NGX_HTTP_LFV_SHA256_HEX_LEN];

    ngx_gmtime(ngx_time(), &tm);

    (void) ngx_sprintf(date, "%4d%02d%02dT%02d%02d%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    ngx_memzero(&sr, sizeof(ngx_http_lfv_sigv4_request_t));

    sr.method = call->method;
    sr.uri = call->uri;
    sr.header[NGX_HTTP_LFV_H_CONTENT_TYPE] = call->content_type;
    sr.header[NGX_HTTP_LFV_H_HOST] = call->host;
    sr.header[NGX_HTTP_LFV_H_AMZ_DATE].data = date;
    sr.header[NGX_HTTP_LFV_H_AMZ_DATE].len = NGX_HTTP_LFV_AMZ_DATE_LEN;
    sr.header[NGX_HTTP_LFV_H_SECURITY_TOKEN] = *call->session_token;
    sr.header[NGX_HTTP_LFV_H_TARGET] = call->target;
    sr.header[NGX_HTTP_LFV_H_CLIENT_TOKEN] = call->client_token;
    sr.region = call->region;
    sr.service = call->service;
    sr.access_key_id = *call->access_key_id;

    if (ngx_http_lfv_sigv4_sha256_hex(crypto, call->body.data, call->body.len,
                                      sr.payload_hash)
        != NGX_OK)
    {
        return NULL;
    }

    size = ngx_http_lfv_sigv4_canonical_len(&sr) + 256;

    scratch = ngx_pnalloc(pool, size);
    if (scratch == NULL) {
        return NULL;
    }

    ngx_memzero(&key, sizeof(ngx_http_lfv_sigv4_key_t));

    rc = ngx_http_lfv_sigv4_derive_key(crypto, call->secret_access_key,
                                       date, &sr.region, &sr.service, &key);

    if (rc == NGX_OK) {
        rc = ngx_http_lfv_sigv4_signature(crypto, &sr, &key, scratch, size,
                                          signature);
    }

    ngx_http_lfv_sigv4_key_free(&key);
    ngx_explicit_memzero(&key, sizeof(ngx_http_lfv_sigv4_key_t));

    /* the canonical request held the session token */

    ngx_explicit_memzero(scratch, size);

    if (rc != NGX_OK) {
        return NULL;
    }

    size = call->method.len + sizeof("  HTTP/1.0" CRLF) - 1 + call->uri.len
           + sizeof("Host: " CRLF) - 1 + call->host.len
           + sizeof("Content-Type: " CRLF) - 1 + call->content_type.len
           + sizeof("X-Amz-Date: " CRLF) - 1 + NGX_HTTP_LFV_AMZ_DATE_LEN
           + sizeof("X-Amz-Security-Token: " CRLF) - 1
           + call->session_token->len
           + sizeof("X-Amz-Target: " CRLF) - 1 + call->target.len
           + sizeof("X-Amzn-Client-Token: " CRLF) - 1
           + call->client_token.len
           + sizeof("Authorization: " CRLF) - 1
           + ngx_http_lfv_sigv4_authorization_len(&sr)
           + sizeof("Accept: " CRLF) - 1 + call->accept.len
           + sizeof("Content-Length: " CRLF CRLF) - 1 + NGX_SIZE_T_LEN
           + call->body.len;

    b = ngx_create_temp_buf(pool, size);
    if (b == NULL) {
        ngx_explicit_memzero(signature, NGX_HTTP_LFV_SHA256_HEX_LEN);
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "%V %V HTTP/1.0" CRLF "Host: %V" CRLF,
                          &call->method, &call->uri, &call->host);

    if (call->content_type.len) {
        b->last = ngx_sprintf(b->last, "Content-Type: %V" CRLF,
                              &call->content_type);
    }

    b->last = ngx_sprintf(b->last, "X-Amz-Date: %*s" CRLF,
                          (size_t) NGX_HTTP_LFV_AMZ_DATE_LEN, date);

    if (call->session_token->len) {
        b->last = ngx_sprintf(b->last, "X-Amz-Security-Token: %V" CRLF,
                              call->session_token);
    }

    if (call->target.len) {
        b->last = ngx_sprintf(b->last, "X-Amz-Target: %V" CRLF,
                              &call->target);
    }

    if (call->client_token.len) {
        b->last = ngx_sprintf(b->last, "X-Amzn-Client-Token: %V" CRLF,
                              &call->client_token);
    }

    b->last = ngx_cpymem(b->last, "Authorization: ",
                         sizeof("Authorization: ") - 1);
    b->last = ngx_http_lfv_sigv4_authorization(&sr, signature, b->last);

    ngx_explicit_memzero(signature, NGX_HTTP_LFV_SHA256_HEX_LEN);

    b->last = ngx_sprintf(b->last, CRLF "Accept: %V" CRLF
                          "Content-Length: %uz" CRLF CRLF,
                          &call->accept, call->body.len);
    if (call->body.len) {
        b->last = ngx_cpymem(b->last, call->body.data, call->body.len);
    }

    return b;
}
