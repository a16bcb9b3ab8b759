
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_json.h"


static ngx_int_t ngx_http_lfv_json_skip_number(ngx_http_lfv_json_t *j);
static ngx_int_t ngx_http_lfv_json_find(u_char *p, size_t len,
    ngx_str_t *name, ngx_str_t *value, ngx_uint_t any);


#define NGX_HTTP_LFV_JSON_SATURATE  2147483648LL


static u_char *ngx_http_lfv_json_digits(u_char *p, u_char *last);


u_char *
ngx_http_lfv_json_space(u_char *p, u_char *last)
{
    while (p < last
           && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/*
 * -? [0-9]+ (. [0-9]+)? ([eE] [+-]? [0-9]+)?, scanned greedily; a
 * leading zero is the caller's to refuse.  Returns where the scan
 * stopped, malformed or not.
 */

u_char *
ngx_http_lfv_json_number(u_char *p, u_char *last,
    ngx_http_lfv_json_number_t *n)
{
    u_char  *q;

    ngx_memzero(n, sizeof(ngx_http_lfv_json_number_t));

    if (p < last && *p == '-') {
        n->negative = 1;
        p++;
    }

    n->digits = p;

    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {

        /* keep counting past the limit: such a value is refused anyway */

        if (n->value <= NGX_HTTP_LFV_JSON_SATURATE) {
            n->value = n->value * 10 + (*p - '0');
        }
    }

    n->ndigits = p - n->digits;

    if (n->ndigits == 0) {
        n->malformed = 1;
        return p;
    }

    if (p < last && *p == '.') {
        n->fraction = 1;

        q = ngx_http_lfv_json_digits(p + 1, last);

        if (q == p + 1) {
            n->malformed = 1;
            return q;
        }

        p = q;
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        n->exponent = 1;
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        q = ngx_http_lfv_json_digits(p, last);

        if (q == p) {
            n->malformed = 1;
            return q;
        }

        p = q;
    }

    return p;
}


static u_char *
ngx_http_lfv_json_digits(u_char *p, u_char *last)
{
    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    return p;
}


ngx_int_t
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

        if (ch >= 0x80 && !j->any_text) {
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

                if ((c < 0x20 || c > 0x7e) && !j->any_text) {
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


ngx_int_t
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


ngx_int_t
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
ngx_http_lfv_json_object(u_char *p, size_t len, ngx_str_t *name,
    ngx_str_t *value)
{
    return ngx_http_lfv_json_find(p, len, name, value, 0);
}


ngx_int_t
ngx_http_lfv_json_value(u_char *p, size_t len, ngx_str_t *name,
    ngx_str_t *value)
{
    return ngx_http_lfv_json_find(p, len, name, value, 1);
}


/* "any": a member of any type, as written; else a string's content */

static ngx_int_t
ngx_http_lfv_json_find(u_char *p, size_t len, ngx_str_t *name,
    ngx_str_t *value, ngx_uint_t any)
{
    u_char               *start;
    size_t                n;
    ngx_uint_t            i;
    ngx_http_lfv_json_t   j;

    j.pos = ngx_http_lfv_json_space(p, p + len);
    j.last = p + len;
    j.err = NULL;

    /* AWS's text: any Unicode, raw or escaped; it is only passed on */

    j.any_text = 1;

    ngx_str_null(value);

    if (j.pos == j.last || *j.pos != '{') {
        return NGX_ERROR;
    }

    j.pos = ngx_http_lfv_json_space(j.pos + 1, j.last);

    if (j.pos < j.last && *j.pos == '}') {
        j.pos++;
        goto done;
    }

    for ( ;; ) {

        if (j.pos == j.last || *j.pos != '"') {
            return NGX_ERROR;
        }

        start = j.pos + 1;

        if (ngx_http_lfv_json_string(&j, NULL, 0, &n) != NGX_OK) {
            return NGX_ERROR;
        }

        /* the member's name as written, escapes and all */

        n = j.pos - 1 - start;

        j.pos = ngx_http_lfv_json_space(j.pos, j.last);

        if (j.pos == j.last || *j.pos != ':') {
            return NGX_ERROR;
        }

        j.pos = ngx_http_lfv_json_space(j.pos + 1, j.last);

        for (i = 0; name[i].len; i++) {
            if (name[i].len == n && ngx_strncmp(name[i].data, start, n) == 0
                && j.pos < j.last && (any || *j.pos == '"')
                && value->data == NULL)
            {
                value->data = any ? j.pos : j.pos + 1;
            }
        }

        start = j.pos;

        if (ngx_http_lfv_json_skip_value(&j, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        if (value->data == start + 1 && !any) {
            value->len = j.pos - 1 - value->data;

        } else if (value->data == start && any) {
            value->len = j.pos - start;
        }

        j.pos = ngx_http_lfv_json_space(j.pos, j.last);

        if (j.pos == j.last) {
            return NGX_ERROR;
        }

        if (*j.pos == '}') {
            j.pos++;
            break;
        }

        if (*j.pos != ',') {
            return NGX_ERROR;
        }

        j.pos = ngx_http_lfv_json_space(j.pos + 1, j.last);
    }

done:

    j.pos = ngx_http_lfv_json_space(j.pos, j.last);

    return (j.pos == j.last) ? NGX_OK : NGX_ERROR;
}
