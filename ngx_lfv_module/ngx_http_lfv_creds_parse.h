
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_CREDS_PARSE_H_INCLUDED_
#define _NGX_HTTP_LFV_CREDS_PARSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_LFV_AKID_MAX      128
#define NGX_HTTP_LFV_SECRET_MAX    256
#define NGX_HTTP_LFV_TOKEN_MAX     4096


/*
 * Pure parsers of what a metadata service answers (untrusted input):
 * buffers in, results out, no pools, so tests and fuzzers call them.
 */

typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   body;           /* points into the input */
} ngx_http_lfv_http_response_t;


typedef struct {
    u_char                      access_key_id[NGX_HTTP_LFV_AKID_MAX];
    u_char                      secret_access_key[NGX_HTTP_LFV_SECRET_MAX];
    u_char                      session_token[NGX_HTTP_LFV_TOKEN_MAX];
    size_t                      access_key_id_len;
    size_t                      secret_access_key_len;
    size_t                      session_token_len;
    time_t                      expiration;     /* 0: none given */
} ngx_http_lfv_creds_doc_t;


/*
 * A whole HTTP/1.x response as read until the peer closed: status line,
 * headers, body.  The body ends at Content-Length when one is given
 * (NGX_ERROR if fewer bytes came); chunked transfer coding is refused.
 * NGX_OK or NGX_ERROR; *err names the problem for the log (static).
 */
ngx_int_t ngx_http_lfv_parse_http_response(u_char *p, size_t len,
    ngx_http_lfv_http_response_t *resp, char **err);

/*
 * The credentials document of IMDS or the container endpoint: a JSON
 * object with string members AccessKeyId, SecretAccessKey, Token
 * (optional), Expiration (RFC 3339, optional) and, if present, Code
 * equal to "Success"; other members of any JSON type are skipped.
 * String escapes are decoded (non-ASCII refused).  Duplicate known
 * members, a missing key id or secret, values over the size limits,
 * trailing bytes and any malformed JSON are NGX_ERROR with *err set.
 * On error the document is wiped: no partial secret stays behind.
 */
ngx_int_t ngx_http_lfv_parse_credentials(u_char *p, size_t len,
    ngx_http_lfv_creds_doc_t *doc, char **err);

/* "2026-11-26T12:34:56Z", optional fraction, "Z" or "+00:00" */
time_t ngx_http_lfv_parse_rfc3339(u_char *p, size_t len);

/*
 * A value that goes into a header of a metadata request (the IMDSv2
 * token, the container authorization token): no CR, LF, NUL or other
 * control character, which would end the header and start another.
 */
ngx_int_t ngx_http_lfv_check_header_value(u_char *p, size_t len);


#endif /* _NGX_HTTP_LFV_CREDS_PARSE_H_INCLUDED_ */
