
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_JSON_H_INCLUDED_
#define _NGX_HTTP_LFV_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The JSON lexing that the request body, the credentials document and
 * AWS's answers share (RFC 8259): whitespace, numbers, strings, values.
 * Pure functions on buffers.
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


/* a nested object or array is this many levels at most */
#define NGX_HTTP_LFV_JSON_DEPTH        8


/* a strict reader's position in a JSON text; err names a problem */

typedef struct {
    u_char                     *pos;
    u_char                     *last;
    char                       *err;
    ngx_uint_t                  any_text;       /* non-ASCII let through */
} ngx_http_lfv_json_t;


u_char *ngx_http_lfv_json_space(u_char *p, u_char *last);
u_char *ngx_http_lfv_json_number(u_char *p, u_char *last,
    ngx_http_lfv_json_number_t *n);


/*
 * The string at pos (on its opening quote), escapes decoded into dst up
 * to size bytes (dst NULL: only checked); *len is the whole decoded
 * length.  Raw control characters are refused; so is non-ASCII (raw,
 * or an escape outside printable ASCII) unless any_text is set.
 */
ngx_int_t ngx_http_lfv_json_string(ngx_http_lfv_json_t *j, u_char *dst,
    size_t size, size_t *len);

/* true, false or null at pos */
ngx_int_t ngx_http_lfv_json_literal(ngx_http_lfv_json_t *j, char *literal,
    size_t len);

/* any one value at pos, checked and skipped; depth: its container's */
ngx_int_t ngx_http_lfv_json_skip_value(ngx_http_lfv_json_t *j,
    ngx_uint_t depth);


/*
 * The whole input is one JSON object (an AWS answer): NGX_OK or
 * NGX_ERROR.  *value is the raw text, escapes kept, of the first string
 * member whose name is one of "name" (ending with an empty string), so
 * that it can go into another JSON text as it is; empty when none.
 */
ngx_int_t ngx_http_lfv_json_object(u_char *p, size_t len, ngx_str_t *name,
    ngx_str_t *value);

/* as ngx_http_lfv_json_object(), a member of any type, as written */
ngx_int_t ngx_http_lfv_json_value(u_char *p, size_t len, ngx_str_t *name,
    ngx_str_t *value);


#endif /* _NGX_HTTP_LFV_JSON_H_INCLUDED_ */
