
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_request.h"
#include "ngx_http_lfv_json.h"


#define NGX_HTTP_LFV_INT32_MAX  2147483647


static ngx_http_lfv_reason_e ngx_http_lfv_parse_units(u_char **pp,
    u_char *last, ngx_int_t *units, ngx_http_lfv_reason_e below);
static ngx_uint_t ngx_http_lfv_value_end(u_char *p, u_char *last);
static ngx_int_t ngx_http_lfv_check_project(ngx_str_t *name);
static ngx_http_lfv_reason_e ngx_http_lfv_parse_list_query(
    ngx_http_lfv_target_t *target);


#define ngx_http_lfv_name_char(c)                                            \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                \
     || ((c) >= '0' && (c) <= '9'))


static ngx_str_t  ngx_http_lfv_prefix = ngx_string("/2020-11-20/projects/");
static ngx_str_t  ngx_http_lfv_models = ngx_string("/models/");
static ngx_str_t  ngx_http_lfv_start = ngx_string("/start");
static ngx_str_t  ngx_http_lfv_stop = ngx_string("/stop");
static ngx_str_t  ngx_http_lfv_min = ngx_string("MinInferenceUnits");
static ngx_str_t  ngx_http_lfv_max = ngx_string("MaxInferenceUnits");


ngx_http_lfv_reason_e
ngx_http_lfv_parse_target(u_char *p, size_t len, ngx_http_lfv_target_t *target)
{
    u_char     *last, *s, *q;
    ngx_int_t   project;

    last = p + len;

    ngx_memzero(target, sizeof(ngx_http_lfv_target_t));

    /*
     * the raw path is signed as it is sent, so anything that nginx
     * or AWS could normalise differently is refused before parsing;
     * the query (ListModels' only) is checked below
     */

    for (q = p; q < last && *q != '?'; q++) {

        switch (*q) {

        case '%':
            return NGX_HTTP_LFV_PERCENT;

        case '/':
            if (q + 1 < last && q[1] == '/') {
                return NGX_HTTP_LFV_DOUBLE_SLASH;
            }

            /* a segment "." or "..": followed by "/", "?" or the end */

            if (q + 1 < last && q[1] == '.'
                && (q + 2 == last || q[2] == '/' || q[2] == '?'
                    || (q[2] == '.'
                        && (q + 3 == last || q[3] == '/' || q[3] == '?'))))
            {
                return NGX_HTTP_LFV_DOT_SEGMENT;
            }

            break;

        default:
            break;
        }
    }

    target->path.data = p;
    target->path.len = q - p;

    if (q < last) {
        target->query.data = q + 1;
        target->query.len = last - q - 1;
    }

    last = q;

    if ((size_t) (last - p) < ngx_http_lfv_prefix.len
        || ngx_strncmp(p, ngx_http_lfv_prefix.data, ngx_http_lfv_prefix.len)
           != 0)
    {
        return NGX_HTTP_LFV_ROUTE;
    }

    p += ngx_http_lfv_prefix.len;

    /*
     * The route's shape names the operation before its project and
     * version are judged, so that their refusal is counted and logged
     * under it; a bad project name with no route is refused as such
     */

    s = p;

    while (p < last && *p != '/') {
        p++;
    }

    target->project.data = s;
    target->project.len = p - s;

    project = ngx_http_lfv_check_project(&target->project);

    if (project != NGX_OK) {

        /* a name of any length and bytes: not for the logs */

        ngx_str_null(&target->project);
    }

    if ((size_t) (last - p) == ngx_http_lfv_models.len - 1
        && ngx_strncmp(p, ngx_http_lfv_models.data, ngx_http_lfv_models.len - 1)
           == 0)
    {
        /* ".../models": ListModels */

        target->operation = NGX_HTTP_LFV_OP_LIST;

        if (project != NGX_OK) {
            return NGX_HTTP_LFV_PROJECT;
        }

        return ngx_http_lfv_parse_list_query(target);
    }

    if ((size_t) (last - p) < ngx_http_lfv_models.len
        || ngx_strncmp(p, ngx_http_lfv_models.data, ngx_http_lfv_models.len)
           != 0)
    {
        return (project == NGX_OK) ? NGX_HTTP_LFV_ROUTE : NGX_HTTP_LFV_PROJECT;
    }

    p += ngx_http_lfv_models.len;

    s = p;

    while (p < last && *p != '/') {
        p++;
    }

    target->version.data = s;
    target->version.len = p - s;

    if (p == last) {
        target->operation = NGX_HTTP_LFV_OP_DESCRIBE;

    } else if ((size_t) (last - p) == ngx_http_lfv_start.len
               && ngx_strncmp(p, ngx_http_lfv_start.data,
                              ngx_http_lfv_start.len)
                  == 0)
    {
        target->operation = NGX_HTTP_LFV_OP_START;

    } else if ((size_t) (last - p) == ngx_http_lfv_stop.len
               && ngx_strncmp(p, ngx_http_lfv_stop.data,
                              ngx_http_lfv_stop.len)
                  == 0)
    {
        target->operation = NGX_HTTP_LFV_OP_STOP;

    } else {
        return (project == NGX_OK) ? NGX_HTTP_LFV_ROUTE : NGX_HTTP_LFV_PROJECT;
    }

    if (project != NGX_OK) {
        return NGX_HTTP_LFV_PROJECT;
    }

    /* modelVersion: ([1-9][0-9]*|latest), 1..10 */

    s = target->version.data;

    if (target->version.len == 6 && ngx_strncmp(s, "latest", 6) == 0) {
        /* valid */

    } else {
        if (target->version.len == 0
            || target->version.len > NGX_HTTP_LFV_VERSION_MAX
            || *s < '1' || *s > '9')
        {
            return NGX_HTTP_LFV_VERSION;
        }

        for (q = s + 1; q < s + target->version.len; q++) {
            if (*q < '0' || *q > '9') {
                return NGX_HTTP_LFV_VERSION;
            }
        }
    }

    /* a "?", even with nothing after it, is a query */

    if (target->path.len != len) {
        return NGX_HTTP_LFV_QUERY;
    }

    return NGX_HTTP_LFV_OK;
}


/* projectName: [a-zA-Z0-9][a-zA-Z0-9_\-]*, 1..255 */

static ngx_int_t
ngx_http_lfv_check_project(ngx_str_t *name)
{
    u_char  *p;

    if (name->len == 0 || name->len > NGX_HTTP_LFV_PROJECT_MAX) {
        return NGX_DECLINED;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        if (!ngx_http_lfv_name_char(*p)
            && !(p != name->data && (*p == '_' || *p == '-')))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * ListModels' query, as the SDKs send it: "name=value" pairs joined by
 * "&".  Values are percent-decoded to check them; a raw "+" is refused,
 * since a form decoder would read it as a space and AWS as a plus.
 */

static ngx_http_lfv_reason_e
ngx_http_lfv_parse_list_query(ngx_http_lfv_target_t *target)
{
    u_char      *p, *last, *name, *value, *end, c;
    size_t       n;
    ngx_int_t    digits, hex;

    if (target->query.data == NULL) {
        return NGX_HTTP_LFV_OK;
    }

    p = target->query.data;
    last = p + target->query.len;

    while (p < last) {

        name = p;

        while (p < last && *p != '=' && *p != '&') {
            p++;
        }

        if (p == last || *p != '=') {
            return NGX_HTTP_LFV_QUERY_PARAMETER;
        }

        n = p - name;
        value = ++p;

        while (p < last && *p != '&') {
            p++;
        }

        end = p;

        if (p < last) {
            if (++p == last) {
                return NGX_HTTP_LFV_QUERY_PARAMETER;    /* a trailing "&" */
            }
        }

        if (n == sizeof("maxResults") - 1
            && ngx_strncmp(name, "maxResults", n) == 0)
        {
            if (target->max_results) {
                return NGX_HTTP_LFV_QUERY_PARAMETER;
            }

            /* 1..100, as a JSON integer would be written */

            digits = (end - value <= 3) ? ngx_atoi(value, end - value)
                                        : NGX_ERROR;

            if (digits < 1 || digits > NGX_HTTP_LFV_MAX_RESULTS_MAX
                || *value == '0')
            {
                return NGX_HTTP_LFV_MAX_RESULTS;
            }

            target->max_results = digits;
            continue;
        }

        if (n == sizeof("nextToken") - 1
            && ngx_strncmp(name, "nextToken", n) == 0)
        {
            if (target->next_token) {
                return NGX_HTTP_LFV_QUERY_PARAMETER;
            }

            /* [a-zA-Z0-9/+=], 1..2048 characters once decoded */

            for (n = 0; value < end; n++) {
                c = *value++;

                if (c == '%') {
                    hex = (end - value < 2) ? NGX_ERROR
                                            : ngx_hextoi(value, 2);

                    if (hex == NGX_ERROR) {
                        return NGX_HTTP_LFV_NEXT_TOKEN;
                    }

                    c = (u_char) hex;
                    value += 2;

                } else if (c == '+') {
                    return NGX_HTTP_LFV_NEXT_TOKEN;
                }

                if (!ngx_http_lfv_name_char(c) && c != '/' && c != '+'
                    && c != '=')
                {
                    return NGX_HTTP_LFV_NEXT_TOKEN;
                }
            }

            if (n == 0 || n > NGX_HTTP_LFV_NEXT_TOKEN_MAX) {
                return NGX_HTTP_LFV_NEXT_TOKEN;
            }

            target->next_token = 1;
            continue;
        }

        return NGX_HTTP_LFV_QUERY_PARAMETER;
    }

    return NGX_HTTP_LFV_OK;
}


ngx_http_lfv_reason_e
ngx_http_lfv_parse_empty_body(u_char *p, size_t len)
{
    u_char  *last;

    last = p + len;

    p = ngx_http_lfv_json_space(p, last);

    if (p == last) {
        return (len == 0) ? NGX_HTTP_LFV_OK : NGX_HTTP_LFV_BODY_NOT_OBJECT;
    }

    if (*p != '{') {
        return NGX_HTTP_LFV_BODY_NOT_OBJECT;
    }

    p = ngx_http_lfv_json_space(p + 1, last);

    if (p == last) {
        return NGX_HTTP_LFV_BODY_SYNTAX;
    }

    if (*p != '}') {
        return (*p == '"') ? NGX_HTTP_LFV_MEMBER_UNKNOWN
                           : NGX_HTTP_LFV_BODY_SYNTAX;
    }

    p = ngx_http_lfv_json_space(p + 1, last);

    return (p == last) ? NGX_HTTP_LFV_OK : NGX_HTTP_LFV_BODY_TRAILING;
}


ngx_http_lfv_reason_e
ngx_http_lfv_parse_body(u_char *p, size_t len, ngx_int_t *min_units,
    ngx_int_t *max_units)
{
    u_char                 *last, *name;
    size_t                  n;
    ngx_int_t              *units;
    ngx_http_lfv_reason_e   rc, below;

    *min_units = NGX_HTTP_LFV_UNITS_UNSET;
    *max_units = NGX_HTTP_LFV_UNITS_UNSET;

    last = p + len;

    p = ngx_http_lfv_json_space(p, last);

    if (p == last) {
        return NGX_HTTP_LFV_BODY_EMPTY;
    }

    if (*p != '{') {
        return NGX_HTTP_LFV_BODY_NOT_OBJECT;
    }

    p = ngx_http_lfv_json_space(p + 1, last);

    if (p < last && *p == '}') {
        p++;
        goto done;
    }

    for ( ;; ) {

        /* "name" : integer */

        if (p == last || *p != '"') {
            return NGX_HTTP_LFV_BODY_SYNTAX;
        }

        name = ++p;

        while (p < last && *p != '"') {
            if (*p == '\\') {
                return NGX_HTTP_LFV_MEMBER_ESCAPED;
            }

            if (*p < 0x20) {
                return NGX_HTTP_LFV_BODY_SYNTAX;
            }

            p++;
        }

        if (p == last) {
            return NGX_HTTP_LFV_BODY_SYNTAX;
        }

        n = p - name;

        if (n == ngx_http_lfv_min.len
            && ngx_strncmp(name, ngx_http_lfv_min.data, n) == 0)
        {
            units = min_units;
            below = NGX_HTTP_LFV_MIN_UNITS;

        } else if (n == ngx_http_lfv_max.len
                   && ngx_strncmp(name, ngx_http_lfv_max.data, n) == 0)
        {
            units = max_units;
            below = NGX_HTTP_LFV_MAX_UNITS;

        } else {
            return NGX_HTTP_LFV_MEMBER_UNKNOWN;
        }

        if (*units != NGX_HTTP_LFV_UNITS_UNSET) {
            return NGX_HTTP_LFV_MEMBER_DUPLICATE;
        }

        p = ngx_http_lfv_json_space(p + 1, last);

        if (p == last || *p != ':') {
            return NGX_HTTP_LFV_BODY_SYNTAX;
        }

        p = ngx_http_lfv_json_space(p + 1, last);

        rc = ngx_http_lfv_parse_units(&p, last, units, below);
        if (rc != NGX_HTTP_LFV_OK) {
            return rc;
        }

        p = ngx_http_lfv_json_space(p, last);

        if (p == last) {
            return NGX_HTTP_LFV_BODY_SYNTAX;
        }

        if (*p == '}') {
            p++;
            break;
        }

        if (*p != ',') {
            return NGX_HTTP_LFV_BODY_SYNTAX;
        }

        p = ngx_http_lfv_json_space(p + 1, last);
    }

done:

    if (ngx_http_lfv_json_space(p, last) != last) {
        return NGX_HTTP_LFV_BODY_TRAILING;
    }

    if (*min_units == NGX_HTTP_LFV_UNITS_UNSET) {
        return NGX_HTTP_LFV_MIN_REQUIRED;
    }

    if (*max_units != NGX_HTTP_LFV_UNITS_UNSET && *max_units < *min_units) {
        return NGX_HTTP_LFV_MAX_BELOW_MIN;
    }

    return NGX_HTTP_LFV_OK;
}


static ngx_http_lfv_reason_e
ngx_http_lfv_parse_units(u_char **pp, u_char *last, ngx_int_t *units,
    ngx_http_lfv_reason_e below)
{
    u_char                      *p;
    ngx_http_lfv_json_number_t   n;

    p = ngx_http_lfv_json_number(*pp, last, &n);

    if (n.ndigits == 0) {

        /* strings, true, false, null, objects, arrays; or not JSON */

        p = n.digits;

        if (!n.negative && p < last
            && (*p == '"' || *p == 't' || *p == 'f' || *p == 'n'
                || *p == '{' || *p == '['))
        {
            return NGX_HTTP_LFV_NOT_INTEGER;
        }

        return NGX_HTTP_LFV_BODY_SYNTAX;
    }

    if (n.malformed) {
        return NGX_HTTP_LFV_BODY_SYNTAX;
    }

    if (n.fraction || n.exponent) {

        /* a number but not an integer, if it is a well-formed one */

        return ngx_http_lfv_value_end(p, last) ? NGX_HTTP_LFV_NOT_INTEGER
                                               : NGX_HTTP_LFV_BODY_SYNTAX;
    }

    if (!ngx_http_lfv_value_end(p, last)) {
        return NGX_HTTP_LFV_BODY_SYNTAX;
    }

    if (n.digits[0] == '0' && n.ndigits > 1) {
        return NGX_HTTP_LFV_LEADING_ZERO;
    }

    if (n.value > NGX_HTTP_LFV_INT32_MAX + (int64_t) n.negative) {
        return NGX_HTTP_LFV_INT32_RANGE;
    }

    if (n.negative || n.value < 1) {
        return below;
    }

    *units = (ngx_int_t) n.value;
    *pp = p;

    return NGX_HTTP_LFV_OK;
}


/* a member's value ends where the next member or the object does */

static ngx_uint_t
ngx_http_lfv_value_end(u_char *p, u_char *last)
{
    p = ngx_http_lfv_json_space(p, last);

    return p < last && (*p == ',' || *p == '}');
}


ngx_http_lfv_reason_e
ngx_http_lfv_check_client_token(u_char *p, size_t len)
{
    u_char  *last;

    if (len == 0 || len > NGX_HTTP_LFV_CLIENT_TOKEN_MAX) {
        return NGX_HTTP_LFV_CLIENT_TOKEN;
    }

    for (last = p + len; p < last; p++) {
        if (!ngx_http_lfv_name_char(*p) && *p != '-') {
            return NGX_HTTP_LFV_CLIENT_TOKEN;
        }
    }

    return NGX_HTTP_LFV_OK;
}


ngx_http_lfv_reason_e
ngx_http_lfv_check_content_type(u_char *p, size_t len)
{
    u_char  *last;

    /* application/json, any case, optionally followed by parameters */

    last = p + len;

    if (len < sizeof("application/json") - 1
        || ngx_strncasecmp(p, (u_char *) "application/json",
                           sizeof("application/json") - 1)
           != 0)
    {
        return NGX_HTTP_LFV_CONTENT_TYPE;
    }

    p = ngx_http_lfv_json_space(p + sizeof("application/json") - 1, last);

    if (p == last || *p == ';') {
        return NGX_HTTP_LFV_OK;
    }

    return NGX_HTTP_LFV_CONTENT_TYPE;
}
