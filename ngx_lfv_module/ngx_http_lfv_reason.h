
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_REASON_H_INCLUDED_
#define _NGX_HTTP_LFV_REASON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Why a request was decided the way it was: each reason names one rule
 * and maps to an HTTP status, an AWS error code and a message
 * (ngx_http_lfv_error.c); $lfv_reason logs its name.
 */

typedef enum {
    NGX_HTTP_LFV_OK = 0,

    /* the request target */
    NGX_HTTP_LFV_METHOD,
    NGX_HTTP_LFV_QUERY,
    NGX_HTTP_LFV_QUERY_PARAMETER,
    NGX_HTTP_LFV_MAX_RESULTS,
    NGX_HTTP_LFV_NEXT_TOKEN,
    NGX_HTTP_LFV_PERCENT,
    NGX_HTTP_LFV_DOT_SEGMENT,
    NGX_HTTP_LFV_DOUBLE_SLASH,
    NGX_HTTP_LFV_ROUTE,
    NGX_HTTP_LFV_PROJECT,
    NGX_HTTP_LFV_VERSION,

    /* the headers */
    NGX_HTTP_LFV_CONTENT_TYPE,
    NGX_HTTP_LFV_CLIENT_TOKEN,

    /* the body */
    NGX_HTTP_LFV_BODY_NOT_ALLOWED,
    NGX_HTTP_LFV_BODY_EMPTY,
    NGX_HTTP_LFV_BODY_TOO_LARGE,
    NGX_HTTP_LFV_BODY_SYNTAX,
    NGX_HTTP_LFV_BODY_NOT_OBJECT,
    NGX_HTTP_LFV_BODY_TRAILING,
    NGX_HTTP_LFV_MEMBER_ESCAPED,
    NGX_HTTP_LFV_MEMBER_UNKNOWN,
    NGX_HTTP_LFV_MEMBER_DUPLICATE,
    NGX_HTTP_LFV_NOT_INTEGER,
    NGX_HTTP_LFV_LEADING_ZERO,
    NGX_HTTP_LFV_INT32_RANGE,
    NGX_HTTP_LFV_MIN_REQUIRED,
    NGX_HTTP_LFV_MIN_UNITS,
    NGX_HTTP_LFV_MAX_UNITS,
    NGX_HTTP_LFV_MAX_BELOW_MIN,

    /* team policy */
    NGX_HTTP_LFV_TEAM,
    NGX_HTTP_LFV_PROJECT_DENIED,
    NGX_HTTP_LFV_MIN_UNITS_CAP,
    NGX_HTTP_LFV_MAX_UNITS_CAP,
    NGX_HTTP_LFV_RATE,
    NGX_HTTP_LFV_BUDGET,

    /* the cost guard */
    NGX_HTTP_LFV_LATEST_LEASED,
    NGX_HTTP_LFV_RUNNING_UNITS,
    NGX_HTTP_LFV_LEASE_ROOM,
    NGX_HTTP_LFV_STORE_UNAVAILABLE,

    /* signing */
    NGX_HTTP_LFV_NO_CREDENTIALS,
    NGX_HTTP_LFV_NO_ROLE_CREDENTIALS,
    NGX_HTTP_LFV_INTERNAL,

    /* nginx refused the request itself ($status says how) */
    NGX_HTTP_LFV_HTTP,

    NGX_HTTP_LFV_FORWARDED,

    NGX_HTTP_LFV_REASON_LAST
} ngx_http_lfv_reason_e;


#endif /* _NGX_HTTP_LFV_REASON_H_INCLUDED_ */
