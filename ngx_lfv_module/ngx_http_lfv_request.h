
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_REQUEST_H_INCLUDED_
#define _NGX_HTTP_LFV_REQUEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_reason.h"


#define NGX_HTTP_LFV_PROJECT_MAX       255
#define NGX_HTTP_LFV_VERSION_MAX       10
#define NGX_HTTP_LFV_CLIENT_TOKEN_MAX  64
#define NGX_HTTP_LFV_UNITS_UNSET       (-1)
#define NGX_HTTP_LFV_NEXT_TOKEN_MAX    2048
#define NGX_HTTP_LFV_MAX_RESULTS_MAX   100


/* the operations of the hosting cycle; lfv_operations is a bit mask */

typedef enum {
    NGX_HTTP_LFV_OP_NONE = 0,
    NGX_HTTP_LFV_OP_START,
    NGX_HTTP_LFV_OP_STOP,
    NGX_HTTP_LFV_OP_DESCRIBE,
    NGX_HTTP_LFV_OP_LIST,
    NGX_HTTP_LFV_OP_LAST
} ngx_http_lfv_op_e;


/* what the request target names; strings point into the input */

typedef struct {
    ngx_http_lfv_op_e           operation;
    ngx_str_t                   project;
    ngx_str_t                   version;        /* empty for ListModels */
    ngx_str_t                   path;           /* before "?" */
    ngx_str_t                   query;          /* after "?", as sent */
    ngx_int_t                   max_results;    /* 0: none */
    ngx_uint_t                  next_token;     /* given */
} ngx_http_lfv_target_t;


/*
 * Pure parsers of untrusted input: buffers in, results out, no pools,
 * so that tests and fuzzers call them directly.  Each returns
 * NGX_HTTP_LFV_OK or the reason of the first rule broken.
 */

/*
 * The operation from the raw request target (the route as AWS defines
 * it), its path parameters, and ListModels' query: nextToken and
 * maxResults only, each at most once, values checked decoded.  The
 * operation is set whenever the route's shape is one, even when its
 * project, version or query is then refused.
 */
ngx_http_lfv_reason_e ngx_http_lfv_parse_target(u_char *p, size_t len,
    ngx_http_lfv_target_t *target);

/* StopModel's body: none, or a JSON object without members */
ngx_http_lfv_reason_e ngx_http_lfv_parse_empty_body(u_char *p, size_t len);
ngx_http_lfv_reason_e ngx_http_lfv_parse_body(u_char *p, size_t len,
    ngx_int_t *min_units, ngx_int_t *max_units);
ngx_http_lfv_reason_e ngx_http_lfv_check_client_token(u_char *p, size_t len);
ngx_http_lfv_reason_e ngx_http_lfv_check_content_type(u_char *p, size_t len);


#endif /* _NGX_HTTP_LFV_REQUEST_H_INCLUDED_ */
