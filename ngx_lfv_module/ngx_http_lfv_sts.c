
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_lfv_sts.h"


static ngx_int_t ngx_http_lfv_sts_loopback(ngx_addr_t *addr);
static size_t ngx_http_lfv_sts_form_len(u_char *src, size_t len);
static u_char *ngx_http_lfv_sts_form(u_char *dst, u_char *src, size_t len);


#define ngx_http_lfv_sts_unreserved(c)                                       \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                \
     || ((c) >= '0' && (c) <= '9')                                           \
     || (c) == '-' || (c) == '_' || (c) == '.' || (c) == '~')


char *
ngx_http_lfv_sts_init_conf(ngx_conf_t *cf, ngx_http_lfv_sts_conf_t *scf,
    ngx_str_t *url, ngx_str_t *ca, ngx_resolver_t *resolver,
    ngx_msec_t resolver_timeout)
{
    u_char      *p;
    ngx_url_t    u;
    ngx_uint_t   tls;
    ngx_addr_t  *addr;

    if (url->len == 0) {
        url->len = sizeof("https://sts..amazonaws.com") - 1
                   + scf->region.len;
        url->data = ngx_pnalloc(cf->pool, url->len);
        if (url->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(url->data, "https://sts.%V.amazonaws.com", &scf->region);
    }

    scf->url = *url;

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
                           "STS endpoint \"%V\" must be an https:// URL", url);
        return NGX_CONF_ERROR;
    }

    u.uri_part = 1;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in STS endpoint \"%V\"", u.err, url);
        }

        return NGX_CONF_ERROR;
    }

    scf->port = u.port;
    scf->path = u.uri;

    if (scf->path.len == 0) {
        ngx_str_set(&scf->path, "/");
    }

    /* the name to resolve and to verify: an IPv6 address without [] */

    scf->name = u.host;

    if (scf->name.len > 2 && scf->name.data[0] == '[') {
        scf->name.data++;
        scf->name.len -= 2;
    }

    addr = ngx_pcalloc(cf->pool, sizeof(ngx_addr_t));
    if (addr == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_parse_addr(cf->pool, addr, scf->name.data, scf->name.len)
        == NGX_OK)
    {
        ngx_inet_set_port(addr->sockaddr, scf->port);

        addr->name.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN);
        if (addr->name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        addr->name.len = ngx_sock_ntop(addr->sockaddr, addr->socklen,
                                       addr->name.data, NGX_SOCKADDR_STRLEN,
                                       1);
        scf->addr = addr;

    } else if (resolver == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "STS endpoint \"%V\" needs a \"resolver\" in the "
                           "http block to resolve \"%V\"", url, &scf->name);
        return NGX_CONF_ERROR;
    }

    /* secrets go over plain HTTP only to this host itself, for tests */

    if (!tls && (scf->addr == NULL
                 || ngx_http_lfv_sts_loopback(scf->addr) != NGX_OK))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "STS endpoint \"%V\" must be an https:// URL; "
                           "http:// is only for a loopback address", url);
        return NGX_CONF_ERROR;
    }

    scf->resolver = resolver;
    scf->resolver_timeout = resolver_timeout;

    /* the Host header: the name as written, with a port unless default */

    scf->host.data = ngx_pnalloc(cf->pool, u.host.len + 1 + NGX_INT_T_LEN);
    if (scf->host.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(scf->host.data, u.host.data, u.host.len);

    if (u.port != u.default_port) {
        p = ngx_sprintf(p, ":%d", (int) u.port);
    }

    scf->host.len = p - scf->host.data;

    if (!tls) {
        return NGX_CONF_OK;
    }

    scf->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (scf->ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_fetch_ssl_init(cf, scf->ssl, ca) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_lfv_sts_loopback(ngx_addr_t *addr)
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
ngx_http_lfv_sts_fetch_init(ngx_http_lfv_sts_conf_t *scf,
    ngx_http_lfv_fetch_t *f)
{
    f->addr = scf->addr;
    f->host = scf->name;
    f->port = scf->port;
    f->resolver = scf->resolver;
    f->resolver_timeout = scf->resolver_timeout;
    f->ssl = scf->ssl;
}


ngx_buf_t *
ngx_http_lfv_sts_web_identity(ngx_pool_t *pool, ngx_http_lfv_sts_conf_t *scf,
    ngx_http_lfv_sts_role_t *role, u_char *token, size_t token_len)
{
    size_t      len, body;
    ngx_buf_t  *b;

    static u_char  action[] = "Action=AssumeRoleWithWebIdentity"
                              "&Version=2011-06-15&RoleArn=";

    body = sizeof(action) - 1
           + ngx_http_lfv_sts_form_len(role->arn.data, role->arn.len)
           + sizeof("&RoleSessionName=") - 1
           + ngx_http_lfv_sts_form_len(role->session_name.data,
                                      role->session_name.len)
           + sizeof("&WebIdentityToken=") - 1
           + ngx_http_lfv_sts_form_len(token, token_len);

    len = sizeof("POST  HTTP/1.0" CRLF) - 1 + scf->path.len
          + sizeof("Host: " CRLF) - 1 + scf->host.len
          + sizeof("Content-Type: application/x-www-form-urlencoded; "
                   "charset=utf-8" CRLF) - 1
          + sizeof("Accept: text/xml" CRLF) - 1
          + sizeof("Content-Length: " CRLF CRLF) - 1 + NGX_SIZE_T_LEN
          + body;

    b = ngx_create_temp_buf(pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "POST %V HTTP/1.0" CRLF "Host: %V" CRLF
                          "Content-Type: application/x-www-form-urlencoded; "
                          "charset=utf-8" CRLF
                          "Accept: text/xml" CRLF
                          "Content-Length: %uz" CRLF CRLF,
                          &scf->path, &scf->host, body);

    b->last = ngx_cpymem(b->last, action, sizeof(action) - 1);
    b->last = ngx_http_lfv_sts_form(b->last, role->arn.data, role->arn.len);
    b->last = ngx_cpymem(b->last, "&RoleSessionName=",
                         sizeof("&RoleSessionName=") - 1);
    b->last = ngx_http_lfv_sts_form(b->last, role->session_name.data,
                                     role->session_name.len);
    b->last = ngx_cpymem(b->last, "&WebIdentityToken=",
                         sizeof("&WebIdentityToken=") - 1);
    b->last = ngx_http_lfv_sts_form(b->last, token, token_len);

    return b;
}


ngx_buf_t *
ngx_http_lfv_sts_assume_role(ngx_pool_t *pool, ngx_http_lfv_sts_conf_t *scf,
    ngx_http_lfv_sigv4_crypto_t *crypto, ngx_http_lfv_sts_signer_t *signer,
    ngx_http_lfv_sts_role_t *role)
{
    u_char                        *p, *scratch, *body;
    size_t                         len, size;
    ngx_tm_t                       tm;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_http_lfv_sigv4_key_t       key;
    ngx_http_lfv_sigv4_request_t   sr;
    u_char                         date[NGX_HTTP_LFV_AMZ_DATE_LEN];
    u_char                         signature[NGX_HTTP_LFV_SHA256_HEX_LEN];

    static ngx_str_t  service = ngx_string("sts");
    static ngx_str_t  method = ngx_string("POST");
    static ngx_str_t  form = ngx_string("application/x-www-form-urlencoded; "
                                        "charset=utf-8");

    /* the form body */

    len = sizeof("Action=AssumeRole&Version=2011-06-15&RoleArn="
                 "&RoleSessionName=&DurationSeconds=&SourceIdentity="
                 "&Tags.member.1.Key=lfv-team&Tags.member.1.Value=") - 1
          + ngx_http_lfv_sts_form_len(role->arn.data, role->arn.len)
          + ngx_http_lfv_sts_form_len(role->session_name.data,
                                      role->session_name.len)
          + NGX_TIME_T_LEN
          + ngx_http_lfv_sts_form_len(role->source_identity.data,
                                      role->source_identity.len)
          + ngx_http_lfv_sts_form_len(role->tag.data, role->tag.len);

    body = ngx_pnalloc(pool, len);
    if (body == NULL) {
        return NULL;
    }

    p = ngx_cpymem(body, "Action=AssumeRole&Version=2011-06-15&RoleArn=",
                   sizeof("Action=AssumeRole&Version=2011-06-15&RoleArn=")
                   - 1);
    p = ngx_http_lfv_sts_form(p, role->arn.data, role->arn.len);
    p = ngx_cpymem(p, "&RoleSessionName=", sizeof("&RoleSessionName=") - 1);
    p = ngx_http_lfv_sts_form(p, role->session_name.data,
                              role->session_name.len);
    p = ngx_sprintf(p, "&DurationSeconds=%T&SourceIdentity=", role->duration);
    p = ngx_http_lfv_sts_form(p, role->source_identity.data,
                              role->source_identity.len);
    p = ngx_cpymem(p, "&Tags.member.1.Key=lfv-team&Tags.member.1.Value=",
                   sizeof("&Tags.member.1.Key=lfv-team&Tags.member.1.Value=")
                   - 1);
    p = ngx_http_lfv_sts_form(p, role->tag.data, role->tag.len);

    len = p - body;

    /* signed as AWS's SDKs sign the Query protocol */

    ngx_gmtime(ngx_time(), &tm);

    (void) ngx_sprintf(date, "%4d%02d%02dT%02d%02d%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    ngx_memzero(&sr, sizeof(ngx_http_lfv_sigv4_request_t));

    sr.method = method;
    sr.uri = scf->path;
    sr.header[NGX_HTTP_LFV_H_CONTENT_TYPE] = form;
    sr.header[NGX_HTTP_LFV_H_HOST] = scf->host;
    sr.header[NGX_HTTP_LFV_H_AMZ_DATE].data = date;
    sr.header[NGX_HTTP_LFV_H_AMZ_DATE].len = NGX_HTTP_LFV_AMZ_DATE_LEN;
    sr.header[NGX_HTTP_LFV_H_SECURITY_TOKEN] = *signer->session_token;
    sr.region = scf->region;
    sr.service = service;
    sr.access_key_id = *signer->access_key_id;

    if (ngx_http_lfv_sigv4_sha256_hex(crypto, body, len, sr.payload_hash)
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

    rc = ngx_http_lfv_sigv4_derive_key(crypto, signer->secret_access_key,
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

    size = sizeof("POST  HTTP/1.0" CRLF) - 1 + scf->path.len
           + sizeof("Host: " CRLF) - 1 + scf->host.len
           + sizeof("Content-Type: " CRLF) - 1 + form.len
           + sizeof("X-Amz-Date: " CRLF) - 1 + NGX_HTTP_LFV_AMZ_DATE_LEN
           + sizeof("X-Amz-Security-Token: " CRLF) - 1
           + signer->session_token->len
           + sizeof("Authorization: " CRLF) - 1
           + ngx_http_lfv_sigv4_authorization_len(&sr)
           + sizeof("Accept: text/xml" CRLF) - 1
           + sizeof("Content-Length: " CRLF CRLF) - 1 + NGX_SIZE_T_LEN
           + len;

    b = ngx_create_temp_buf(pool, size);
    if (b == NULL) {
        ngx_explicit_memzero(signature, NGX_HTTP_LFV_SHA256_HEX_LEN);
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "POST %V HTTP/1.0" CRLF "Host: %V" CRLF
                          "Content-Type: %V" CRLF "X-Amz-Date: %*s" CRLF,
                          &scf->path, &scf->host, &form,
                          (size_t) NGX_HTTP_LFV_AMZ_DATE_LEN, date);

    if (signer->session_token->len) {
        b->last = ngx_sprintf(b->last, "X-Amz-Security-Token: %V" CRLF,
                              signer->session_token);
    }

    b->last = ngx_cpymem(b->last, "Authorization: ",
                         sizeof("Authorization: ") - 1);
    b->last = ngx_http_lfv_sigv4_authorization(&sr, signature, b->last);

    ngx_explicit_memzero(signature, NGX_HTTP_LFV_SHA256_HEX_LEN);

    b->last = ngx_sprintf(b->last, CRLF "Accept: text/xml" CRLF
                          "Content-Length: %uz" CRLF CRLF, len);
    b->last = ngx_cpymem(b->last, body, len);

    return b;
}


ngx_int_t
ngx_http_lfv_sts_answer(ngx_http_lfv_http_response_t *resp,
    ngx_http_lfv_sts_action_e action, ngx_http_lfv_sts_doc_t *doc,
    u_char *error, size_t size)
{
    u_char                    *p, *last;
    char                      *err;
    ngx_http_lfv_sts_error_t   e;

    last = error + size - 1;

    if (resp->status == 200) {
        if (ngx_http_lfv_parse_sts_credentials(resp->body.data, resp->body.len,
                                               action, doc, &err)
            == NGX_OK)
        {
            return NGX_OK;
        }

        p = ngx_slprintf(error, last, "invalid STS answer: %s", err);
        *p = '\0';
        return NGX_ERROR;
    }

    /* STS's own words: its code and message, never a secret */

    if (ngx_http_lfv_parse_sts_error(resp->body.data, resp->body.len, &e,
                                     &err)
        != NGX_OK)
    {
        p = ngx_slprintf(error, last, "STS answered %ui, not an STS error "
                         "document (%s)", resp->status, err);
        *p = '\0';
        return NGX_ERROR;
    }

    p = ngx_slprintf(error, last, "STS answered %ui %*s: %*s", resp->status,
                     e.code_len, e.code, e.message_len, e.message);
    *p = '\0';

    return NGX_ERROR;
}


ngx_int_t
ngx_http_lfv_sts_check_name(ngx_str_t *name)
{
    u_char  *p, c;

    if (name->len < 2 || name->len > NGX_HTTP_LFV_SESSION_MAX) {
        return NGX_DECLINED;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        c = *p;

        if (!(ngx_http_lfv_sts_unreserved(c) && c != '~')
            && c != '+' && c != '=' && c != ',' && c != '@')
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* an IAM role's ARN: arn:PARTITION:iam::ACCOUNT:role/NAME */

ngx_int_t
ngx_http_lfv_sts_check_role_arn(ngx_str_t *arn)
{
    u_char  *p;

    if (arn->len < sizeof("arn:aws:iam::123456789012:role/x") - 1
        || arn->len > NGX_HTTP_LFV_ROLE_ARN_MAX
        || ngx_strncmp(arn->data, "arn:", 4) != 0
        || ngx_strlcasestrn(arn->data, arn->data + arn->len,
                            (u_char *) ":role/", 6 - 1)
           == NULL)
    {
        return NGX_DECLINED;
    }

    for (p = arn->data; p < arn->data + arn->len; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static size_t
ngx_http_lfv_sts_form_len(u_char *src, size_t len)
{
    size_t   n;
    u_char  *p;

    for (n = 0, p = src; p < src + len; p++) {
        n += ngx_http_lfv_sts_unreserved(*p) ? 1 : 3;
    }

    return n;
}


/* a form value: unreserved characters as they are, the others %XX */

static u_char *
ngx_http_lfv_sts_form(u_char *dst, u_char *src, size_t len)
{
    u_char  *p;

    static const u_char  hex[] = "0123456789ABCDEF";

    for (p = src; p < src + len; p++) {
        if (ngx_http_lfv_sts_unreserved(*p)) {
            *dst++ = *p;
            continue;
        }

        *dst++ = '%';
        *dst++ = hex[*p >> 4];
        *dst++ = hex[*p & 0xf];
    }

    return dst;
}
