
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_creds_parse.h"
#include "ngx_http_lfv_json.h"


/* the credentials object itself is level 1 */
#define NGX_HTTP_LFV_JSON_DEPTH        8

/* longer than any known member name: longer names are unknown ones */
#define NGX_HTTP_LFV_NAME_MAX          32

/* Expiration with a 9-digit fraction and an offset is 35 bytes */
#define NGX_HTTP_LFV_FIELD_MAX         64

#define NGX_HTTP_LFV_CREDS_AKID        0
#define NGX_HTTP_LFV_CREDS_SECRET      1
#define NGX_HTTP_LFV_CREDS_TOKEN       2
#define NGX_HTTP_LFV_CREDS_EXPIRATION  3
#define NGX_HTTP_LFV_CREDS_CODE        4
#define NGX_HTTP_LFV_CREDS_UNKNOWN     5


typedef struct {
    u_char                     *pos;
    u_char                     *last;
    char                       *err;
} ngx_http_lfv_json_t;


typedef struct {
    ngx_str_t                   name;
    char                       *duplicate;
    char                       *not_string;
    char                       *too_long;
    char                       *invalid;
} ngx_http_lfv_creds_member_t;


static ngx_int_t ngx_http_lfv_parse_status_line(u_char **pp, u_char *last,
    ngx_uint_t *status);
static ngx_int_t ngx_http_lfv_parse_content_length(u_char *p, u_char *last,
    size_t *length);
static ngx_int_t ngx_http_lfv_json_member(ngx_http_lfv_json_t *j,
    ngx_http_lfv_creds_doc_t *doc, ngx_uint_t *seen);
static ngx_int_t ngx_http_lfv_json_check(u_char *p, size_t len,
    ngx_uint_t member);
static ngx_int_t ngx_http_lfv_json_string(ngx_http_lfv_json_t *j,
    u_char *dst, size_t size, size_t *len);
static ngx_int_t ngx_http_lfv_json_skip_value(ngx_http_lfv_json_t *j,
    ngx_uint_t depth);
static ngx_int_t ngx_http_lfv_json_skip_number(ngx_http_lfv_json_t *j);
static ngx_int_t ngx_http_lfv_json_literal(ngx_http_lfv_json_t *j,
    char *literal, size_t len);
static ngx_int_t ngx_http_lfv_parse_digits(u_char *p, ngx_uint_t n);


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


static ngx_int_t  ngx_http_lfv_month_days[] = {
    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};


static ngx_http_lfv_creds_member_t  ngx_http_lfv_creds_members[] = {

    { ngx_string("AccessKeyId"),
      "duplicate AccessKeyId",
      "AccessKeyId is not a string",
      "AccessKeyId too long",
      "invalid AccessKeyId" },

    { ngx_string("SecretAccessKey"),
      "duplicate SecretAccessKey",
      "SecretAccessKey is not a string",
      "SecretAccessKey too long",
      "invalid SecretAccessKey" },

    { ngx_string("Token"),
      "duplicate Token",
      "Token is not a string",
      "Token too long",
      "invalid Token" },

    { ngx_string("Expiration"),
      "duplicate Expiration",
      "Expiration is not a string",
      "invalid Expiration",
      "invalid Expiration" },

    { ngx_string("Code"),
      "duplicate Code",
      "Code is not a string",
      "Code is not \"Success\"",
      "Code is not \"Success\"" }
};


ngx_int_t
ngx_http_lfv_parse_http_response(u_char *p, size_t len,
    ngx_http_lfv_http_response_t *resp, char **err)
{
    u_char      *last, *name, *value, *end;
    size_t       n, length;
    ngx_uint_t   has_length;

    resp->status = 0;
    ngx_str_null(&resp->body);

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

    n = ngx_http_lfv_parse_digits(p + 9, 3);

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


ngx_int_t
ngx_http_lfv_parse_credentials(u_char *p, size_t len,
    ngx_http_lfv_creds_doc_t *doc, char **err)
{
    ngx_uint_t           seen;
    ngx_http_lfv_json_t  j;

    ngx_memzero(doc, sizeof(ngx_http_lfv_creds_doc_t));

    j.pos = p;
    j.last = p + len;
    j.err = "invalid JSON";

    seen = 0;

    j.pos = ngx_http_lfv_json_space(j.pos, j.last);

    if (j.pos == j.last || *j.pos != '{') {
        j.err = "credentials are not a JSON object";
        goto failed;
    }

    j.pos++;

    j.pos = ngx_http_lfv_json_space(j.pos, j.last);

    if (j.pos < j.last && *j.pos == '}') {
        j.pos++;
        goto done;
    }

    for ( ;; ) {

        if (ngx_http_lfv_json_member(&j, doc, &seen) != NGX_OK) {
            goto failed;
        }

        j.pos = ngx_http_lfv_json_space(j.pos, j.last);

        if (j.pos == j.last) {
            j.err = "truncated JSON";
            goto failed;
        }

        if (*j.pos == '}') {
            j.pos++;
            break;
        }

        if (*j.pos != ',') {
            j.err = "invalid JSON";
            goto failed;
        }

        j.pos++;

        j.pos = ngx_http_lfv_json_space(j.pos, j.last);
    }

done:

    j.pos = ngx_http_lfv_json_space(j.pos, j.last);

    if (j.pos != j.last) {
        j.err = "trailing data after JSON";
        goto failed;
    }

    if (!(seen & (1 << NGX_HTTP_LFV_CREDS_AKID))) {
        j.err = "missing AccessKeyId";
        goto failed;
    }

    if (!(seen & (1 << NGX_HTTP_LFV_CREDS_SECRET))) {
        j.err = "missing SecretAccessKey";
        goto failed;
    }

    return NGX_OK;

failed:

    ngx_explicit_memzero(doc, sizeof(ngx_http_lfv_creds_doc_t));

    *err = j.err;

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_lfv_json_member(ngx_http_lfv_json_t *j,
    ngx_http_lfv_creds_doc_t *doc, ngx_uint_t *seen)
{
    u_char                       *dst;
    u_char                        name[NGX_HTTP_LFV_NAME_MAX];
    u_char                        field[NGX_HTTP_LFV_FIELD_MAX];
    size_t                        n, size, *lenp;
    time_t                        t;
    ngx_uint_t                    i;
    ngx_http_lfv_creds_member_t  *m;

    if (j->pos == j->last || *j->pos != '"') {
        j->err = (j->pos == j->last) ? "truncated JSON" : "invalid JSON";
        return NGX_ERROR;
    }

    /* names are compared decoded: "Access\u004beyId" is AccessKeyId */

    if (ngx_http_lfv_json_string(j, name, sizeof(name), &n) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_LFV_CREDS_UNKNOWN; i++) {
        m = &ngx_http_lfv_creds_members[i];

        if (n == m->name.len && ngx_strncmp(name, m->name.data, n) == 0) {
            break;
        }
    }

    j->pos = ngx_http_lfv_json_space(j->pos, j->last);

    if (j->pos == j->last || *j->pos != ':') {
        j->err = (j->pos == j->last) ? "truncated JSON" : "invalid JSON";
        return NGX_ERROR;
    }

    j->pos++;

    j->pos = ngx_http_lfv_json_space(j->pos, j->last);

    if (i == NGX_HTTP_LFV_CREDS_UNKNOWN) {
        return ngx_http_lfv_json_skip_value(j, 1);
    }

    m = &ngx_http_lfv_creds_members[i];

    if (*seen & (1 << i)) {
        j->err = m->duplicate;
        return NGX_ERROR;
    }

    *seen |= 1 << i;

    if (j->pos == j->last) {
        j->err = "truncated JSON";
        return NGX_ERROR;
    }

    if (i == NGX_HTTP_LFV_CREDS_TOKEN && *j->pos == 'n') {

        /* "Token": null, as if absent */

        return ngx_http_lfv_json_literal(j, "null", sizeof("null") - 1);
    }

    if (*j->pos != '"') {
        j->err = m->not_string;
        return NGX_ERROR;
    }

    switch (i) {

    case NGX_HTTP_LFV_CREDS_AKID:
        dst = doc->access_key_id;
        size = NGX_HTTP_LFV_AKID_MAX;
        lenp = &doc->access_key_id_len;
        break;

    case NGX_HTTP_LFV_CREDS_SECRET:
        dst = doc->secret_access_key;
        size = NGX_HTTP_LFV_SECRET_MAX;
        lenp = &doc->secret_access_key_len;
        break;

    case NGX_HTTP_LFV_CREDS_TOKEN:
        dst = doc->session_token;
        size = NGX_HTTP_LFV_TOKEN_MAX;
        lenp = &doc->session_token_len;
        break;

    default: /* NGX_HTTP_LFV_CREDS_EXPIRATION, NGX_HTTP_LFV_CREDS_CODE */
        dst = field;
        size = sizeof(field);
        lenp = NULL;
        break;
    }

    if (ngx_http_lfv_json_string(j, dst, size, &n) != NGX_OK) {
        return NGX_ERROR;
    }

    if (n > size) {
        j->err = m->too_long;
        return NGX_ERROR;
    }

    if (ngx_http_lfv_json_check(dst, n, i) != NGX_OK) {
        j->err = m->invalid;
        return NGX_ERROR;
    }

    if (lenp) {
        *lenp = n;
        return NGX_OK;
    }

    if (i == NGX_HTTP_LFV_CREDS_EXPIRATION) {
        t = ngx_http_lfv_parse_rfc3339(field, n);

        /* 0 stands for "no expiration" in the document */

        if (t == NGX_ERROR || t == 0) {
            j->err = m->invalid;
            return NGX_ERROR;
        }

        doc->expiration = t;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_json_check(u_char *p, size_t len, ngx_uint_t member)
{
    u_char  *last;

    last = p + len;

    switch (member) {

    case NGX_HTTP_LFV_CREDS_AKID:

        /* [A-Z0-9]+ */

        if (len == 0) {
            return NGX_ERROR;
        }

        for ( /* void */ ; p < last; p++) {
            if (!ngx_http_lfv_digit(*p) && !(*p >= 'A' && *p <= 'Z')) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;

    case NGX_HTTP_LFV_CREDS_SECRET:
    case NGX_HTTP_LFV_CREDS_TOKEN:

        /*
         * visible ASCII, no spaces: the token goes into a header
         * that would lose leading and trailing ones
         */

        if (len == 0 && member == NGX_HTTP_LFV_CREDS_SECRET) {
            return NGX_ERROR;
        }

        for ( /* void */ ; p < last; p++) {
            if (*p < 0x21 || *p > 0x7e) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;

    case NGX_HTTP_LFV_CREDS_CODE:

        if (len == sizeof("Success") - 1
            && ngx_strncmp(p, "Success", len) == 0)
        {
            return NGX_OK;
        }

        return NGX_ERROR;

    default: /* NGX_HTTP_LFV_CREDS_EXPIRATION, checked when parsed */
        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_lfv_json_string(ngx_http_lfv_json_t *j, u_char *dst, size_t size,
    size_t *len)
{
    u_char      *p, *last, ch;
    size_t       n;
    ngx_uint_t   i, c, d;

    /*
     * decodes into dst up to size bytes and keeps validating after:
     * *len is the whole decoded length, more than size if it did not fit
     */

    p = j->pos + 1;
    last = j->last;
    n = 0;

    for ( ;; ) {

        if (p == last) {
            j->err = "truncated JSON";
            return NGX_ERROR;
        }

        ch = *p++;

        if (ch == '"') {
            break;
        }

        if (ch < 0x20) {
            j->err = "control character in JSON string";
            return NGX_ERROR;
        }

        if (ch >= 0x80) {
            j->err = "non-ASCII character in JSON string";
            return NGX_ERROR;
        }

        if (ch == '\\') {

            if (p == last) {
                j->err = "truncated JSON";
                return NGX_ERROR;
            }

            switch (*p++) {

            case '"':
                ch = '"';
                break;

            case '\\':
                ch = '\\';
                break;

            case '/':
                ch = '/';
                break;

            case 'b':
                ch = '\b';
                break;

            case 'f':
                ch = '\f';
                break;

            case 'n':
                ch = '\n';
                break;

            case 'r':
                ch = '\r';
                break;

            case 't':
                ch = '\t';
                break;

            case 'u':

                if (last - p < 4) {
                    j->err = "truncated JSON";
                    return NGX_ERROR;
                }

                c = 0;

                for (i = 0; i < 4; i++) {
                    d = p[i];

                    if (d >= '0' && d <= '9') {
                        d -= '0';

                    } else if ((d | 0x20) >= 'a' && (d | 0x20) <= 'f') {
                        d = (d | 0x20) - 'a' + 10;

                    } else {
                        j->err = "invalid escape in JSON string";
                        return NGX_ERROR;
                    }

                    c = c * 16 + d;
                }

                p += 4;

                if (c < 0x20 || c > 0x7e) {
                    j->err = "unsupported \\u escape in JSON string";
                    return NGX_ERROR;
                }

                ch = (u_char) c;
                break;

            default:
                j->err = "invalid escape in JSON string";
                return NGX_ERROR;
            }
        }

        if (n < size) {
            dst[n] = ch;
        }

        n++;
    }

    j->pos = p;
    *len = n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_json_skip_value(ngx_http_lfv_json_t *j, ngx_uint_t depth)
{
    u_char  close;
    size_t  n;

    /* depth: the level of the object or array that holds the value */

    if (j->pos == j->last) {
        j->err = "truncated JSON";
        return NGX_ERROR;
    }

    switch (*j->pos) {

    case '"':
        return ngx_http_lfv_json_string(j, NULL, 0, &n);

    case 't':
        return ngx_http_lfv_json_literal(j, "true", sizeof("true") - 1);

    case 'f':
        return ngx_http_lfv_json_literal(j, "false", sizeof("false") - 1);

    case 'n':
        return ngx_http_lfv_json_literal(j, "null", sizeof("null") - 1);

    case '{':
    case '[':
        break;

    default:
        return ngx_http_lfv_json_skip_number(j);
    }

    if (depth >= NGX_HTTP_LFV_JSON_DEPTH) {
        j->err = "JSON nested too deeply";
        return NGX_ERROR;
    }

    close = (*j->pos == '{') ? '}' : ']';

    j->pos++;

    j->pos = ngx_http_lfv_json_space(j->pos, j->last);

    if (j->pos < j->last && *j->pos == close) {
        j->pos++;
        return NGX_OK;
    }

    for ( ;; ) {

        if (close == '}') {

            if (j->pos == j->last || *j->pos != '"') {
                j->err = (j->pos == j->last) ? "truncated JSON"
                                             : "invalid JSON";
                return NGX_ERROR;
            }

            if (ngx_http_lfv_json_string(j, NULL, 0, &n) != NGX_OK) {
                return NGX_ERROR;
            }

            j->pos = ngx_http_lfv_json_space(j->pos, j->last);

            if (j->pos == j->last || *j->pos != ':') {
                j->err = (j->pos == j->last) ? "truncated JSON"
                                             : "invalid JSON";
                return NGX_ERROR;
            }

            j->pos++;

            j->pos = ngx_http_lfv_json_space(j->pos, j->last);
        }

        if (ngx_http_lfv_json_skip_value(j, depth + 1) != NGX_OK) {
            return NGX_ERROR;
        }

        j->pos = ngx_http_lfv_json_space(j->pos, j->last);

        if (j->pos == j->last) {
            j->err = "truncated JSON";
            return NGX_ERROR;
        }

        if (*j->pos == close) {
            j->pos++;
            return NGX_OK;
        }

        if (*j->pos != ',') {
            j->err = "invalid JSON";
            return NGX_ERROR;
        }

        j->pos++;

        j->pos = ngx_http_lfv_json_space(j->pos, j->last);
    }
}


static ngx_int_t
ngx_http_lfv_json_skip_number(ngx_http_lfv_json_t *j)
{
    u_char                      *p;
    ngx_http_lfv_json_number_t   n;

    p = ngx_http_lfv_json_number(j->pos, j->last, &n);

    if (n.malformed || (n.digits[0] == '0' && n.ndigits > 1)) {
        j->err = (p == j->last && n.malformed) ? "truncated JSON"
                                               : "invalid JSON";
        return NGX_ERROR;
    }

    j->pos = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_json_literal(ngx_http_lfv_json_t *j, char *literal, size_t len)
{
    if ((size_t) (j->last - j->pos) < len
        || ngx_strncmp(j->pos, literal, len) != 0)
    {
        j->err = "invalid JSON";
        return NGX_ERROR;
    }

    j->pos += len;

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_check_header_value(u_char *p, size_t len)
{
    u_char  *last;

    for (last = p + len; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


time_t
ngx_http_lfv_parse_rfc3339(u_char *p, size_t len)
{
    u_char     *last, *start;
    int64_t     t, days, era, yoe, doy;
    ngx_int_t   year, month, day, hour, min, sec, off, oh, om, mdays;

    /* YYYY-MM-DD "T" HH:MM:SS [ "." 1*9DIGIT ] ( "Z" / ("+" / "-") HH:MM ) */

    if (len < sizeof("YYYY-MM-DDTHH:MM:SSZ") - 1) {
        return NGX_ERROR;
    }

    last = p + len;

    if (p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't')
        || p[13] != ':' || p[16] != ':')
    {
        return NGX_ERROR;
    }

    year = ngx_http_lfv_parse_digits(p, 4);
    month = ngx_http_lfv_parse_digits(p + 5, 2);
    day = ngx_http_lfv_parse_digits(p + 8, 2);
    hour = ngx_http_lfv_parse_digits(p + 11, 2);
    min = ngx_http_lfv_parse_digits(p + 14, 2);
    sec = ngx_http_lfv_parse_digits(p + 17, 2);

    if (year < 1970 || month < 1 || month > 12 || day < 1
        || hour < 0 || hour > 23 || min < 0 || min > 59
        || sec < 0 || sec > 60)
    {
        return NGX_ERROR;
    }

    mdays = ngx_http_lfv_month_days[month - 1];

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        mdays = 29;
    }

    if (day > mdays) {
        return NGX_ERROR;
    }

    p += sizeof("YYYY-MM-DDTHH:MM:SS") - 1;

    if (*p == '.') {

        /* the fraction is ignored */

        for (start = ++p; p < last && ngx_http_lfv_digit(*p); p++) {
            /* void */
        }

        if (p == start || p - start > 9) {
            return NGX_ERROR;
        }
    }

    if (p == last) {
        return NGX_ERROR;
    }

    if (*p == 'Z' || *p == 'z') {
        off = 0;
        p++;

    } else if (*p == '+' || *p == '-') {

        if (last - p < (ssize_t) sizeof("+HH:MM") - 1 || p[3] != ':') {
            return NGX_ERROR;
        }

        oh = ngx_http_lfv_parse_digits(p + 1, 2);
        om = ngx_http_lfv_parse_digits(p + 4, 2);

        if (oh < 0 || oh > 23 || om < 0 || om > 59) {
            return NGX_ERROR;
        }

        off = (oh * 60 + om) * 60;

        if (*p == '-') {
            off = -off;
        }

        p += sizeof("+HH:MM") - 1;

    } else {
        return NGX_ERROR;
    }

    if (p != last) {
        return NGX_ERROR;
    }

    /* days from civil, March-based years of 400-year eras; year >= 1970 */

    if (month <= 2) {
        year--;
    }

    era = year / 400;
    yoe = year - era * 400;
    doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;

    /* a leap second counts as the first second of the next minute */

    t = days * 86400 + hour * 3600 + min * 60 + sec - off;

    if (t < 0 || t > (int64_t) NGX_MAX_TIME_T_VALUE) {
        return NGX_ERROR;
    }

    return (time_t) t;
}


static ngx_int_t
ngx_http_lfv_parse_digits(u_char *p, ngx_uint_t n)
{
    ngx_int_t  value;

    /* exactly n decimal digits, or -1 */

    for (value = 0; n; n--, p++) {

        if (!ngx_http_lfv_digit(*p)) {
            return -1;
        }

        value = value * 10 + (*p - '0');
    }

    return value;
}
