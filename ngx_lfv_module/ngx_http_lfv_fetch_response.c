
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_fetch_response.h"


static ngx_int_t ngx_http_lfv_parse_status_line(u_char **pp, u_char *last,
    ngx_uint_t *status);
static ngx_int_t ngx_http_lfv_parse_content_length(u_char *p, u_char *last,
    size_t *length);


#define ngx_http_lfv_digit(c)  ((c) >= '0' && (c) <= '9')

/* RFC 9110 tchar */
#define ngx_http_lfv_token_char(c)                                           \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                \
     || ngx_http_lfv_digit(c)                                                \
     || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&'   \
     || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.'  \
     || (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')

/* field-value and reason-phrase bytes besides SP and HTAB: no CTLs */
#define ngx_http_lfv_text_char(c)                                            \
    ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))


ngx_int_t
ngx_http_lfv_parse_http_response(u_char *p, size_t len,
    ngx_http_lfv_http_response_t *resp, char **err)
{
    u_char      *last, *name, *value, *end;
    size_t       n, length;
    ngx_uint_t   has_length;

    resp->status = 0;
    ngx_str_null(&resp->body);
    ngx_str_null(&resp->request_id);
    ngx_str_null(&resp->error_type);

    if (len == 0) {
        *err = "empty response";
        return NGX_ERROR;
    }

    last = p + len;

    if (ngx_http_lfv_parse_status_line(&p, last, &resp->status) != NGX_OK) {
        resp->status = 0;
        *err = "invalid status line";
        return NGX_ERROR;
    }

    has_length = 0;
    length = 0;

    for ( ;; ) {

        /* an empty line ends the header, CRLF or a bare LF */

        if (p < last && *p == '\n') {
            p++;
            break;
        }

        if (last - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            p += 2;
            break;
        }

        if (p == last || (*p == '\r' && p + 1 == last)) {
            goto incomplete;
        }

        /* field-name ":" OWS field-value OWS, no obs-fold */

        name = p;

        while (p < last && ngx_http_lfv_token_char(*p)) {
            p++;
        }

        if (p == last) {
            goto incomplete;
        }

        if (p == name || *p != ':') {
            goto invalid;
        }

        n = p - name;

        for (p++; p < last && (*p == ' ' || *p == '\t'); p++) {
            /* void */
        }

        value = p;

        while (p < last && *p != '\r' && *p != '\n') {
            if (!ngx_http_lfv_text_char(*p)) {
                goto invalid;
            }

            p++;
        }

        end = p;

        if (p == last || (*p == '\r' && p + 1 == last)) {
            goto incomplete;
        }

        if (*p == '\r') {
            if (p[1] != '\n') {
                goto invalid;
            }

            p++;
        }

        p++;

        while (end > value && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        if (n == sizeof("Transfer-Encoding") - 1
            && ngx_strncasecmp(name, (u_char *) "Transfer-Encoding", n) == 0)
        {
            *err = "chunked responses are not supported";
            goto failed;
        }

        /* what AWS names an answer and an error by, for the audit */

        if (n == sizeof("x-amzn-RequestId") - 1
            && ngx_strncasecmp(name, (u_char *) "x-amzn-RequestId", n) == 0)
        {
            resp->request_id.data = value;
            resp->request_id.len = end - value;
        }

        if (n == sizeof("x-amzn-ErrorType") - 1
            && ngx_strncasecmp(name, (u_char *) "x-amzn-ErrorType", n) == 0)
        {
            resp->error_type.data = value;
            resp->error_type.len = end - value;
        }

        if (n == sizeof("Content-Length") - 1
            && ngx_strncasecmp(name, (u_char *) "Content-Length", n) == 0)
        {
            if (ngx_http_lfv_parse_content_length(value, end, &n) != NGX_OK) {
                *err = "invalid Content-Length";
                goto failed;
            }

            if (has_length && n != length) {
                *err = "conflicting Content-Length";
                goto failed;
            }

            has_length = 1;
            length = n;
        }
    }

    if (has_length) {
        if ((size_t) (last - p) < length) {
            *err = "truncated response body";
            goto failed;
        }

        last = p + length;
    }

    resp->body.data = p;
    resp->body.len = last - p;

    return NGX_OK;

incomplete:

    *err = "incomplete response header";
    goto failed;

invalid:

    *err = "invalid header line";

failed:

    resp->status = 0;

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_lfv_parse_status_line(u_char **pp, u_char *last, ngx_uint_t *status)
{
    u_char     *p;
    ngx_int_t   n;

    /* "HTTP/1.0" or "HTTP/1.1" SP 3DIGIT [ SP reason-phrase ] CRLF */

    p = *pp;

    if (last - p < (ssize_t) sizeof("HTTP/1.x 200") - 1
        || ngx_strncmp(p, "HTTP/1.", sizeof("HTTP/1.") - 1) != 0
        || (p[7] != '0' && p[7] != '1')
        || p[8] != ' ')
    {
        return NGX_ERROR;
    }

    n = ngx_atoi(p + 9, 3);

    if (n < 100 || n > 599) {
        return NGX_ERROR;
    }

    p += sizeof("HTTP/1.x 200") - 1;

    /* the space before an empty reason is tolerated missing */

    if (p < last && *p == ' ') {
        p++;

        while (p < last && *p != '\r' && *p != '\n') {
            if (!ngx_http_lfv_text_char(*p)) {
                return NGX_ERROR;
            }

            p++;
        }
    }

    if (p < last && *p == '\r') {
        p++;

        if (p == last || *p != '\n') {
            return NGX_ERROR;
        }
    }

    if (p == last || *p != '\n') {
        return NGX_ERROR;
    }

    *status = n;
    *pp = p + 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_parse_content_length(u_char *p, u_char *last, size_t *length)
{
    size_t  n;

    /* 1*DIGIT; a list ("5, 5") is refused as nginx does */

    if (p == last) {
        return NGX_ERROR;
    }

    for (n = 0; p < last; p++) {

        if (!ngx_http_lfv_digit(*p)) {
            return NGX_ERROR;
        }

        if (n > ((size_t) NGX_MAX_SIZE_T_VALUE - 9) / 10) {
            return NGX_ERROR;
        }

        n = n * 10 + (*p - '0');
    }

    *length = n;

    return NGX_OK;
}
