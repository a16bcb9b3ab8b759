
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_STS_DOC_H_INCLUDED_
#define _NGX_HTTP_LFV_STS_DOC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_creds_doc.h"


#define NGX_HTTP_LFV_STS_ARN_MAX      2048
#define NGX_HTTP_LFV_STS_CODE_MAX     128
#define NGX_HTTP_LFV_STS_MESSAGE_MAX  1024
#define NGX_HTTP_LFV_STS_ID_MAX       128


/*
 * Pure parsers of what AWS STS answers (untrusted input): buffers in,
 * results out, no pools, so tests and fuzzers call them.
 */

typedef enum {
    NGX_HTTP_LFV_STS_ASSUME_ROLE = 0,
    NGX_HTTP_LFV_STS_WEB_IDENTITY
} ngx_http_lfv_sts_action_e;


typedef struct {
    ngx_http_lfv_creds_doc_t    creds;
    u_char                      arn[NGX_HTTP_LFV_STS_ARN_MAX];
    size_t                      arn_len;        /* AssumedRoleUser/Arn */
    u_char                      request_id[NGX_HTTP_LFV_STS_ID_MAX];
    size_t                      request_id_len;
} ngx_http_lfv_sts_doc_t;


typedef struct {
    u_char                      type[16];       /* Sender, Receiver */
    size_t                      type_len;
    u_char                      code[NGX_HTTP_LFV_STS_CODE_MAX];
    size_t                      code_len;
    u_char                      message[NGX_HTTP_LFV_STS_MESSAGE_MAX];
    size_t                      message_len;
    u_char                      request_id[NGX_HTTP_LFV_STS_ID_MAX];
    size_t                      request_id_len;
} ngx_http_lfv_sts_error_t;


/*
 * The XML is a strict subset: an optional declaration "<?xml ...?>" at
 * the very first byte (no byte order mark), then one root element with
 * whitespace around it.  Names are ASCII, [A-Za-z_:][A-Za-z0-9_:.-]*,
 * compared as they are: namespaces are not processed, so xmlns is not
 * checked and a prefixed name is an unknown one.  Attributes
 * (name="value" or name='value', 16 at most an element) are checked and
 * skipped; end tags match their start tags; "<x/>" is an empty element.
 * Text decodes the five predefined entities and character references
 * of ASCII (&#NN; &#xNN;).  A DOCTYPE, CDATA, a comment, a processing
 * instruction, an unknown entity, a bare "&" or "<", a control
 * character other than tab, CR and LF are NGX_ERROR with *err set.
 * Unknown elements are skipped with all they hold, 16 levels deep at
 * most; their text and attribute values may hold any other byte (UTF-8
 * is not checked).
 *
 * A known value element holds text only: raw whitespace around it is
 * trimmed, and what is kept is printable ASCII (a reference such as
 * &#32; is a character of the value).  A known element given twice, a
 * value over its size limit, non-whitespace text in a known container
 * and a missing required member are NGX_ERROR too.  On error the
 * result is wiped: no partial secret stays behind.
 */

/*
 * The answer of AssumeRole (root AssumeRoleResponse, its result in
 * AssumeRoleResult) or AssumeRoleWithWebIdentity (the same names with
 * "WithWebIdentity"), as action says.  Result/Credentials/AccessKeyId
 * ([A-Z0-9]), SecretAccessKey, SessionToken (visible ASCII) and
 * Expiration (RFC 3339) are required; Result/AssumedRoleUser/Arn and
 * ResponseMetadata/RequestId are kept when given.
 */
ngx_int_t ngx_http_lfv_parse_sts_credentials(u_char *p, size_t len,
    ngx_http_lfv_sts_action_e action, ngx_http_lfv_sts_doc_t *doc,
    char **err);

/*
 * An error answer: ErrorResponse/Error/{Type, Code, Message} and
 * ErrorResponse/RequestId; Code is required.  Message may hold spaces,
 * the others visible ASCII only.
 */
ngx_int_t ngx_http_lfv_parse_sts_error(u_char *p, size_t len,
    ngx_http_lfv_sts_error_t *e, char **err);


#endif /* _NGX_HTTP_LFV_STS_DOC_H_INCLUDED_ */
