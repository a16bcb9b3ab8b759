
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_lfv_sts.h"


static size_t ngx_http_lfv_sts_form_len(u_char *src, size_t len);
static u_char *ngx_http_lfv_sts_form(u_char *dst, u_char *src, size_t len);


#define ngx_http_lfv_sts_unreserved(c)                                       \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                \
     || ((c) >= '0' && (c) <= '9')                                           \
     || (c) == '-' || (c) == '_' || (c) == '.' || (c) == '~')


char *
ngx_http_lfv_sts_init_conf(ngx_conf_t *cf, ngx_http_lfv_endpoint_t *scf,
    ngx_str_t *url, ngx_str_t *ca, ngx_resolver_t *resolver,
    ngx_msec_t resolver_timeout)
{
    if (url->len == 0) {
        url->len = sizeof("https://sts..amazonaws.com") - 1
                   + scf->region.len;
        url->data = ngx_pnalloc(cf->pool, url->len);
        if (url->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(url->data, "https://sts.%V.amazonaws.com", &scf->region);
    }

    return ngx_http_lfv_endpoint_init(cf, scf, url, "STS endpoint", ca,
                                      resolver, resolver_timeout);
}


ngx_buf_t *
ngx_http_lfv_sts_web_identity(ngx_pool_t *pool, ngx_http_lfv_endpoint_t *scf,
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
ngx_http_lfv_sts_assume_role(ngx_pool_t *pool, ngx_http_lfv_endpoint_t *scf,
    ngx_http_lfv_sigv4_crypto_t *crypto, ngx_http_lfv_sts_signer_t *signer,
    ngx_http_lfv_sts_role_t *role)
{
    u_char                        *p, *body;
    size_t                         len;
    ngx_http_lfv_endpoint_call_t   call;

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

    ngx_memzero(&call, sizeof(ngx_http_lfv_endpoint_call_t));

    ngx_str_set(&call.method, "POST");
    call.uri = scf->path;
    call.host = scf->host;
    call.region = scf->region;
    ngx_str_set(&call.service, "sts");
    ngx_str_set(&call.content_type, "application/x-www-form-urlencoded; "
                                    "charset=utf-8");
    ngx_str_set(&call.accept, "text/xml");
    call.body.data = body;
    call.body.len = len;
    call.access_key_id = signer->access_key_id;
    call.secret_access_key = signer->secret_access_key;
    call.session_token = signer->session_token;

    return ngx_http_lfv_endpoint_signed(pool, crypto, &call);
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
