
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_JSON_H_INCLUDED_
#define _NGX_HTTP_LFV_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The JSON lexing that the request body and the credentials document
 * share (RFC 8259): whitespace and numbers.  Pure functions on buffers.
 */

typedef struct {
    u_char                     *digits;         /* of the integer part */
    size_t                      ndigits;
    int64_t                     value;          /* saturates past 2^31 */
    unsigned                    negative:1;
    unsigned                    fraction:1;
    unsigned                    exponent:1;
    unsigned                    malformed:1;    /* "-", "1.", "1e+" */
} ngx_http_lfv_json_number_t;


u_char *ngx_http_lfv_json_space(u_char *p, u_char *last);
u_char *ngx_http_lfv_json_number(u_char *p, u_char *last,
    ngx_http_lfv_json_number_t *n);


#endif /* _NGX_HTTP_LFV_JSON_H_INCLUDED_ */
