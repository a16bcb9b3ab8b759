
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_CREDS_DOC_H_INCLUDED_
#define _NGX_HTTP_LFV_CREDS_DOC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the size limits of a credential: the only definition in the module */

#define NGX_HTTP_LFV_AKID_MAX      128
#define NGX_HTTP_LFV_SECRET_MAX    256
#define NGX_HTTP_LFV_TOKEN_MAX     4096


/*
 * Pure parsers of what a metadata service answers (untrusted input):
 * buffers in, results out, no pools, so tests and fuzzers call them.
 */

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

/*
 * A value that goes into a header of a metadata request (the IMDSv2
 * token, the container authorization token): no CR, LF, NUL or other
 * control character, which would end the header and start another.
 */
ngx_int_t ngx_http_lfv_check_header_value(u_char *p, size_t len);


#endif /* _NGX_HTTP_LFV_CREDS_DOC_H_INCLUDED_ */
