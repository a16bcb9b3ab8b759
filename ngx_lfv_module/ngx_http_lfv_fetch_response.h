
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_FETCH_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_LFV_FETCH_RESPONSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Pure parser of what a metadata service answers (untrusted input):
 * buffers in, results out, no pools and no event-loop code, so tests
 * and fuzzers call it without nginx's event code (the client that
 * reads the response is ngx_http_lfv_fetch.c).
 */

typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   body;           /* points into the input */
    ngx_str_t                   request_id;     /* x-amzn-RequestId */
    ngx_str_t                   error_type;     /* x-amzn-ErrorType */
} ngx_http_lfv_http_response_t;


/*
 * A whole HTTP/1.x response as read until the peer closed: status line,
 * headers, body.  The body ends at Content-Length when one is given
 * (NGX_ERROR if fewer bytes came); chunked transfer coding is refused.
 * NGX_OK or NGX_ERROR; *err names the problem for the log (static).
 */
ngx_int_t ngx_http_lfv_parse_http_response(u_char *p, size_t len,
    ngx_http_lfv_http_response_t *resp, char **err);


#endif /* _NGX_HTTP_LFV_FETCH_RESPONSE_H_INCLUDED_ */
