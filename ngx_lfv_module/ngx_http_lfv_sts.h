
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_STS_H_INCLUDED_
#define _NGX_HTTP_LFV_STS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_lfv_fetch.h"
#include "ngx_http_lfv_endpoint.h"
#include "ngx_http_lfv_sts_doc.h"
#include "ngx_http_lfv_sigv4.h"


#define NGX_HTTP_LFV_STS_TOKEN_MAX    20000   /* WebIdentityToken */
#define NGX_HTTP_LFV_ROLE_ARN_MAX     2048
#define NGX_HTTP_LFV_SESSION_MAX      64


/*
 * The endpoint: "url" if given (https://, or http:// to a loopback
 * address for tests), else https://sts.REGION.amazonaws.com; a name
 * needs nginx's "resolver" in the http block, which "resolver" holds
 * (NULL: none).  "ca" is the file certificates are verified with.
 */
char *ngx_http_lfv_sts_init_conf(ngx_conf_t *cf, ngx_http_lfv_endpoint_t *scf,
    ngx_str_t *url, ngx_str_t *ca, ngx_resolver_t *resolver,
    ngx_msec_t resolver_timeout);

/* who asks AssumeRole: the base credentials, which sign the request */

typedef struct {
    ngx_str_t                  *access_key_id;
    ngx_str_t                  *secret_access_key;
    ngx_str_t                  *session_token;
} ngx_http_lfv_sts_signer_t;


/* the role session asked for: what CloudTrail records of the team */

typedef struct {
    ngx_str_t                   arn;
    ngx_str_t                   session_name;
    ngx_str_t                   source_identity;
    ngx_str_t                   tag;            /* the lfv-team tag's value */
    time_t                      duration;
} ngx_http_lfv_sts_role_t;


/*
 * The unsigned AssumeRoleWithWebIdentity request of the role's arn and
 * session name, in the Query protocol (a form body); the token is copied
 * into the request only
 */
ngx_buf_t *ngx_http_lfv_sts_web_identity(ngx_pool_t *pool,
    ngx_http_lfv_endpoint_t *scf, ngx_http_lfv_sts_role_t *role,
    u_char *token, size_t token_len);

/*
 * AssumeRole, signed with SigV4 for service "sts" by the signer; NULL on
 * an error of memory or of the digest (logged by the caller)
 */
ngx_buf_t *ngx_http_lfv_sts_assume_role(ngx_pool_t *pool,
    ngx_http_lfv_endpoint_t *scf, ngx_http_lfv_sigv4_crypto_t *crypto,
    ngx_http_lfv_sts_signer_t *signer, ngx_http_lfv_sts_role_t *role);

/*
 * STS's answer: NGX_OK and the credentials in *doc, or NGX_ERROR and
 * why in "error" (up to "size" bytes, NUL-terminated): STS's error code
 * and message, or what was wrong with the answer
 */
ngx_int_t ngx_http_lfv_sts_answer(ngx_http_lfv_http_response_t *resp,
    ngx_http_lfv_sts_action_e action, ngx_http_lfv_sts_doc_t *doc,
    u_char *error, size_t size);

/* an IAM role's ARN: arn:PARTITION:iam::ACCOUNT:role/NAME, visible ASCII */
ngx_int_t ngx_http_lfv_sts_check_role_arn(ngx_str_t *arn);

/* a RoleSessionName or SourceIdentity: [\w+=,.@-]{2,64} */
ngx_int_t ngx_http_lfv_sts_check_name(ngx_str_t *name);


#endif /* _NGX_HTTP_LFV_STS_H_INCLUDED_ */
