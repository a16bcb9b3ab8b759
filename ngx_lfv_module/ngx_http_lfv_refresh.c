
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_lfv_refresh.h"
#include "ngx_http_lfv_fetch.h"


#define NGX_HTTP_LFV_IMDS_TOKEN_TTL    21600
#define NGX_HTTP_LFV_ROLE_MAX          128
#define NGX_HTTP_LFV_AUTH_MAX          4096
#define NGX_HTTP_LFV_REFRESH_LEAD      900    /* as the SDKs: 15 minutes */
#define NGX_HTTP_LFV_REFRESH_DEFAULT   3600
#define NGX_HTTP_LFV_BACKOFF_MAX       60
#define NGX_HTTP_LFV_SCHEDULE_MAX      10
#define NGX_HTTP_LFV_WAIT_BASE         100    /* ms */


typedef enum {
    NGX_HTTP_LFV_STEP_TOKEN = 0,
    NGX_HTTP_LFV_STEP_ROLE,
    NGX_HTTP_LFV_STEP_CREDENTIALS,
    NGX_HTTP_LFV_STEP_STS
} ngx_http_lfv_step_e;


/*
 * One per worker: a timer, and a chain of HTTP exchanges (IMDSv2 token,
 * role name, credentials; or the container endpoint), each with a pool
 * of its own, as the OCSP client does.  Worker 0's timer keeps the
 * schedule; a worker whose requests find the refresh due or missed
 * starts it at once.  The claim in the record keeps it to one fetch in
 * flight for all workers, since the metadata service throttles.
 */

typedef struct {
    ngx_http_lfv_creds_conf_t  *ccf;
    ngx_event_t                 timer;
    ngx_log_t                   log;
    ngx_http_lfv_fetch_t        fetch;
    ngx_http_lfv_step_e         step;
    ngx_uint_t                  v1;
    ngx_uint_t                  busy;           /* a fetch of this worker */
    ngx_uint_t                  wait_base;      /* a role's, for the base */

    size_t                      token_len;      /* this fetch's copy */
    size_t                      role_len;
    u_char                      token[NGX_HTTP_LFV_IMDS_TOKEN_MAX];
    u_char                      role[NGX_HTTP_LFV_ROLE_MAX];
} ngx_http_lfv_refresher_t;


static void ngx_http_lfv_refresh_handler(ngx_event_t *ev);
static void ngx_http_lfv_refresh_begin(ngx_http_lfv_refresher_t *rf);
static void ngx_http_lfv_refresh_end(ngx_http_lfv_refresher_t *rf,
    time_t at);
static void ngx_http_lfv_refresh_start(ngx_http_lfv_refresher_t *rf);
static ngx_buf_t *ngx_http_lfv_refresh_request(ngx_http_lfv_refresher_t *rf,
    ngx_pool_t *pool);
static ngx_int_t ngx_http_lfv_refresh_auth_token(
    ngx_http_lfv_refresher_t *rf, u_char *buf, size_t *len);
static ngx_buf_t *ngx_http_lfv_refresh_sts_request(
    ngx_http_lfv_refresher_t *rf, ngx_pool_t *pool);
static ngx_int_t ngx_http_lfv_refresh_read_file(ngx_http_lfv_refresher_t *rf,
    ngx_str_t *name, char *what, u_char *buf, size_t size, size_t *len);
static void ngx_http_lfv_refresh_sts_answer(ngx_http_lfv_refresher_t *rf);
static void ngx_http_lfv_refresh_keep(ngx_http_lfv_refresher_t *rf,
    ngx_http_lfv_creds_doc_t *doc);
static void ngx_http_lfv_refresh_done(ngx_http_lfv_fetch_t *f);
static ngx_int_t ngx_http_lfv_refresh_role(ngx_http_lfv_refresher_t *rf,
    ngx_str_t *body);
static void ngx_http_lfv_refresh_store(ngx_http_lfv_refresher_t *rf,
    ngx_str_t *body);
static void ngx_http_lfv_refresh_fail(ngx_http_lfv_refresher_t *rf,
    char *fmt, ...);
static void ngx_http_lfv_refresh_schedule(ngx_http_lfv_refresher_t *rf,
    time_t at);
static u_char *ngx_http_lfv_refresh_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


static char  *ngx_http_lfv_step_names[] = {
    "token", "role", "credentials", "STS"
};


ngx_int_t
ngx_http_lfv_refresh_init_worker(ngx_cycle_t *cycle,
    ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_http_lfv_refresher_t  *rf;

    rf = ngx_pcalloc(cycle->pool, sizeof(ngx_http_lfv_refresher_t));
    if (rf == NULL) {
        return NGX_ERROR;
    }

    rf->ccf = ccf;
    ccf->refresher = rf;

    rf->log = *cycle->log;
    rf->log.handler = ngx_http_lfv_refresh_log_error;
    rf->log.data = rf;
    rf->log.action = "refreshing AWS credentials";

    rf->timer.handler = ngx_http_lfv_refresh_handler;
    rf->timer.data = rf;
    rf->timer.log = &rf->log;
    rf->timer.cancelable = 1;

    /* after a reload the record may still be fresh: due() tells */

    if (ngx_worker == 0) {
        ngx_add_timer(&rf->timer, 1);
    }

    return NGX_OK;
}


/* the schedule's timer: worker 0's, and the one of a worker that fetched */

static void
ngx_http_lfv_refresh_handler(ngx_event_t *ev)
{
    ngx_http_lfv_refresher_t  *rf = ev->data;

    time_t  at;

    if (rf->wait_base) {
        rf->wait_base = 0;

        if (ngx_exiting || ngx_quit || ngx_terminate) {

            /* the claim goes: the new workers fetch for themselves */

            ngx_http_lfv_refresh_fail(rf, "nginx is exiting");
            return;
        }

        ngx_http_lfv_refresh_start(rf);
        return;
    }

    if (ngx_exiting || ngx_quit || ngx_terminate || rf->busy) {
        return;
    }

    if (ngx_http_lfv_credentials_due(rf->ccf, &at) != NGX_OK) {
        if (ngx_worker == 0) {
            ngx_http_lfv_refresh_schedule(rf, at);
        }

        return;
    }

    ngx_http_lfv_refresh_begin(rf);
}


void
ngx_http_lfv_refresh_kick(ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_http_lfv_refresher_t  *rf;

    rf = ccf->refresher;

    if (rf == NULL || rf->busy || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_http_lfv_refresh_begin(rf);
}


static void
ngx_http_lfv_refresh_begin(ngx_http_lfv_refresher_t *rf)
{
    time_t  now;

    now = ngx_time();

    /* the longest a chain of five exchanges may take */

    if (ngx_http_lfv_credentials_claim(rf->ccf, 5 * rf->ccf->timeout)
        != NGX_OK)
    {
        /* another worker fetches: see again soon what it got */

        if (ngx_worker == 0) {
            ngx_http_lfv_refresh_schedule(rf, now + 1);
        }

        return;
    }

    rf->busy = 1;

    /* an IMDSv2 token is reused until shortly before it expires */

    rf->v1 = 0;
    rf->token_len = 0;

    if (rf->ccf->source == NGX_HTTP_LFV_CREDS_WEB_IDENTITY
        || rf->ccf->source == NGX_HTTP_LFV_CREDS_ASSUME_ROLE)
    {
        rf->step = NGX_HTTP_LFV_STEP_STS;

    } else if (rf->ccf->source == NGX_HTTP_LFV_CREDS_CONTAINER) {
        rf->step = NGX_HTTP_LFV_STEP_CREDENTIALS;

    } else if (ngx_http_lfv_credentials_imds_token(rf->ccf, rf->token,
                                                   &rf->token_len)
               == NGX_OK)
    {
        rf->step = NGX_HTTP_LFV_STEP_ROLE;

    } else {
        rf->step = NGX_HTTP_LFV_STEP_TOKEN;
    }

    ngx_http_lfv_refresh_start(rf);
}


static void
ngx_http_lfv_refresh_end(ngx_http_lfv_refresher_t *rf, time_t at)
{
    rf->busy = 0;

    ngx_http_lfv_refresh_schedule(rf, at);
}


static void
ngx_http_lfv_refresh_start(ngx_http_lfv_refresher_t *rf)
{
    ngx_pool_t            *pool;
    ngx_http_lfv_fetch_t  *f;

    pool = ngx_create_pool(NGX_HTTP_LFV_FETCH_MAX + 4096, &rf->log);
    if (pool == NULL) {
        ngx_http_lfv_refresh_fail(rf, "no memory");
        return;
    }

    f = &rf->fetch;

    f->pool = pool;
    f->log = &rf->log;
    if (rf->step == NGX_HTTP_LFV_STEP_STS) {
        ngx_http_lfv_endpoint_fetch_init(&rf->ccf->sts, f);

    } else {
        f->addr = &rf->ccf->endpoint.addrs[0];
        f->ssl = NULL;
    }

    f->timeout = rf->ccf->timeout;
    f->handler = ngx_http_lfv_refresh_done;
    f->data = rf;

    f->request = (rf->step == NGX_HTTP_LFV_STEP_STS)
                 ? ngx_http_lfv_refresh_sts_request(rf, pool)
                 : ngx_http_lfv_refresh_request(rf, pool);
    if (f->request == NULL) {

        if (rf->wait_base) {

            /*
             * A role whose base credentials are being fetched: the claim
             * stays, so that the team's requests wait, and the request
             * is built again in a moment
             */

            ngx_destroy_pool(pool);
            f->pool = NULL;

            if (rf->timer.timer_set) {
                ngx_del_timer(&rf->timer);
            }

            ngx_add_timer(&rf->timer, NGX_HTTP_LFV_WAIT_BASE);
            return;
        }

        /* ngx_http_lfv_refresh_fail() destroyed the pool */
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, &rf->log, 0,
                   "lfv: credentials fetch step \"%s\"",
                   ngx_http_lfv_step_names[rf->step]);

    ngx_atomic_fetch_add(&rf->ccf->sh->fetches, 1);

    ngx_http_lfv_fetch(f);
}


static ngx_buf_t *
ngx_http_lfv_refresh_request(ngx_http_lfv_refresher_t *rf, ngx_pool_t *pool)
{
    size_t                      len, auth_len;
    ngx_buf_t                  *b;
    ngx_http_lfv_creds_conf_t  *ccf;
    u_char                      auth[NGX_HTTP_LFV_AUTH_MAX];

    ccf = rf->ccf;
    auth_len = 0;

    if (ccf->source == NGX_HTTP_LFV_CREDS_CONTAINER
        && ngx_http_lfv_refresh_auth_token(rf, auth, &auth_len) != NGX_OK)
    {
        return NULL;
    }

    len = sizeof("PUT  HTTP/1.0" CRLF "Host: " CRLF) - 1 + ccf->path.len
          + ccf->host.len + ccf->path.len
          + sizeof("latest/meta-data/iam/security-credentials/") - 1
          + NGX_HTTP_LFV_ROLE_MAX
          + sizeof("X-aws-ec2-metadata-token-ttl-seconds: 21600" CRLF) - 1
          + sizeof("X-aws-ec2-metadata-token: " CRLF) - 1 + rf->token_len
          + sizeof("Authorization: " CRLF) - 1 + auth_len
          + sizeof("Content-Length: 0" CRLF CRLF) - 1;

    b = ngx_create_temp_buf(pool, len);
    if (b == NULL) {
        ngx_explicit_memzero(auth, auth_len);
        ngx_http_lfv_refresh_fail(rf, "no memory");
        return NULL;
    }

    switch (rf->step) {

    case NGX_HTTP_LFV_STEP_TOKEN:
        b->last = ngx_sprintf(b->last,
                              "PUT /latest/api/token HTTP/1.0" CRLF
                              "Host: %V" CRLF
                              "X-aws-ec2-metadata-token-ttl-seconds: %d" CRLF
                              "Content-Length: 0" CRLF,
                              &ccf->host, NGX_HTTP_LFV_IMDS_TOKEN_TTL);
        break;

    default: /* NGX_HTTP_LFV_STEP_ROLE, NGX_HTTP_LFV_STEP_CREDENTIALS */

        if (ccf->source == NGX_HTTP_LFV_CREDS_CONTAINER) {
            b->last = ngx_sprintf(b->last, "GET %V HTTP/1.0" CRLF
                                  "Host: %V" CRLF, &ccf->path, &ccf->host);

            if (auth_len) {
                b->last = ngx_sprintf(b->last, "Authorization: %*s" CRLF,
                                      auth_len, auth);
                ngx_explicit_memzero(auth, auth_len);
            }

            break;
        }

        b->last = ngx_sprintf(b->last,
                      "GET /latest/meta-data/iam/security-credentials/%*s "
                      "HTTP/1.0" CRLF "Host: %V" CRLF,
                      (size_t) (rf->step == NGX_HTTP_LFV_STEP_ROLE
                                ? 0 : rf->role_len),
                      rf->role, &ccf->host);

        if (!rf->v1) {
            b->last = ngx_sprintf(b->last,
                                  "X-aws-ec2-metadata-token: %*s" CRLF,
                                  rf->token_len, rf->token);
        }

        break;
    }

    *b->last++ = CR; *b->last++ = LF;

    return b;
}


/* the web identity token: read at each fetch, in the request only */

static ngx_buf_t *
ngx_http_lfv_refresh_sts_request(ngx_http_lfv_refresher_t *rf,
    ngx_pool_t *pool)
{
    u_char                     *token;
    size_t                      len;
    time_t                      retry_after;
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_http_lfv_creds_t       *creds;
    ngx_http_lfv_creds_conf_t  *ccf;
    ngx_http_lfv_sts_signer_t   signer;

    ccf = rf->ccf;

    if (ccf->source == NGX_HTTP_LFV_CREDS_ASSUME_ROLE) {

        /* a team's role: asked for with the base credentials */

        rc = ngx_http_lfv_credentials_get(ccf->base, &creds, &retry_after);

        if (rc == NGX_AGAIN) {
            rf->wait_base = 1;
            return NULL;
        }

        if (rc != NGX_OK) {
            ngx_http_lfv_refresh_fail(rf, "no base credentials to sign "
                                      "AssumeRole with");
            return NULL;
        }

        signer.access_key_id = &creds->access_key_id;
        signer.secret_access_key = &creds->secret_access_key;
        signer.session_token = &creds->session_token;

        b = ngx_http_lfv_sts_assume_role(pool, &ccf->sts, ccf->crypto,
                                         &signer, &ccf->role);
        if (b == NULL) {
            ngx_http_lfv_refresh_fail(rf, "cannot sign the AssumeRole "
                                      "request");
            return NULL;
        }

        return b;
    }

    token = ngx_pnalloc(pool, NGX_HTTP_LFV_STS_TOKEN_MAX);
    if (token == NULL) {
        ngx_http_lfv_refresh_fail(rf, "no memory");
        return NULL;
    }

    if (ngx_http_lfv_refresh_read_file(rf, &ccf->token_file,
                                       "web identity token", token,
                                       NGX_HTTP_LFV_STS_TOKEN_MAX, &len)
        != NGX_OK)
    {
        return NULL;
    }

    if (len == 0 || ngx_http_lfv_check_header_value(token, len) != NGX_OK) {
        ngx_explicit_memzero(token, NGX_HTTP_LFV_STS_TOKEN_MAX);
        ngx_http_lfv_refresh_fail(rf, "the web identity token file \"%V\" "
                                  "is empty or holds a control character",
                                  &ccf->token_file);
        return NULL;
    }

    b = ngx_http_lfv_sts_web_identity(pool, &ccf->sts, &ccf->role, token,
                                      len);

    ngx_explicit_memzero(token, NGX_HTTP_LFV_STS_TOKEN_MAX);

    if (b == NULL) {
        ngx_http_lfv_refresh_fail(rf, "no memory");
        return NULL;
    }

    return b;
}


/* the file is read again on each fetch: EKS rotates the token in it */

static ngx_int_t
ngx_http_lfv_refresh_auth_token(ngx_http_lfv_refresher_t *rf, u_char *buf,
    size_t *len)
{
    size_t                      n, size;
    ngx_http_lfv_creds_conf_t  *ccf;

    ccf = rf->ccf;

    if (ccf->auth_token_file.len == 0) {
        if (ccf->auth_token.len > NGX_HTTP_LFV_AUTH_MAX) {
            ngx_http_lfv_refresh_fail(rf, "authorization token too long");
            return NGX_ERROR;
        }

        n = ccf->auth_token.len;

        if (n == 0) {

            /* no token: no Authorization header */

            *len = 0;
            return NGX_OK;
        }

        ngx_memcpy(buf, ccf->auth_token.data, n);

        goto check;
    }

    if (ngx_http_lfv_refresh_read_file(rf, &ccf->auth_token_file,
                                       "authorization token", buf,
                                       NGX_HTTP_LFV_AUTH_MAX, &size)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    n = size;

check:

    /* a variable set with "echo" ends in a newline too */

    while (n && (buf[n - 1] == CR || buf[n - 1] == LF || buf[n - 1] == ' ')) {
        n--;
    }

    if (ngx_http_lfv_check_header_value(buf, n) != NGX_OK) {
        ngx_http_lfv_refresh_fail(rf, "the authorization token has a CR, LF, "
                                  "NUL or another control character");
        return NGX_ERROR;
    }

    *len = n;

    return NGX_OK;
}


/*
 * A token file, read whole at each fetch (Kubernetes and EKS rotate
 * them): the trailing CR, LF and spaces of an editor or "echo" go
 */

static ngx_int_t
ngx_http_lfv_refresh_read_file(ngx_http_lfv_refresher_t *rf, ngx_str_t *name,
    char *what, u_char *buf, size_t size, size_t *len)
{
    ssize_t     n;
    ngx_err_t   err;
    ngx_file_t  file;

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = *name;
    file.log = &rf->log;

    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        ngx_http_lfv_refresh_fail(rf, "cannot open the %s file \"%V\" (%d)",
                                  what, name, err);
        return NGX_ERROR;
    }

    n = ngx_read_file(&file, buf, size, 0);

    ngx_close_file(file.fd);

    if (n == NGX_ERROR || (size_t) n == size) {
        ngx_explicit_memzero(buf, size);
        ngx_http_lfv_refresh_fail(rf, "cannot read the %s file \"%V\", or "
                                  "it is too long", what, name);
        return NGX_ERROR;
    }

    while (n && (buf[n - 1] == CR || buf[n - 1] == LF || buf[n - 1] == ' ')) {
        n--;
    }

    *len = n;

    return NGX_OK;
}


static void
ngx_http_lfv_refresh_done(ngx_http_lfv_fetch_t *f)
{
    ngx_http_lfv_refresher_t *rf = f->data;

    ngx_str_t   body;
    ngx_uint_t  status;

    if (f->rc != NGX_OK) {

        if (rf->step == NGX_HTTP_LFV_STEP_TOKEN
            && f->err && ngx_strncmp(f->err, "timed out", 9) == 0)
        {
            ngx_http_lfv_refresh_fail(rf, "IMDS token request %s (in a "
                                      "container, the IMDSv2 hop limit "
                                      "must be at least 2)", f->err);
            return;
        }

        ngx_http_lfv_refresh_fail(rf, "%s request: %s",
                                  ngx_http_lfv_step_names[rf->step],
                                  f->err ? f->err : "failed");
        return;
    }

    if (rf->step == NGX_HTTP_LFV_STEP_STS) {
        ngx_http_lfv_refresh_sts_answer(rf);
        return;
    }

    status = f->resp.status;
    body = f->resp.body;

    if (rf->step == NGX_HTTP_LFV_STEP_TOKEN
        && (status == 403 || status == 404 || status == 405))
    {
        if (rf->ccf->v1_disabled) {
            ngx_http_lfv_refresh_fail(rf, "IMDS token request answered %ui, "
                                      "and AWS_EC2_METADATA_V1_DISABLED "
                                      "forbids IMDSv1", status);
            return;
        }

        ngx_log_error(NGX_LOG_WARN, &rf->log, 0,
                      "lfv: IMDS token request answered %ui, "
                      "falling back to IMDSv1", status);

        rf->v1 = 1;
        rf->token_len = 0;
        ngx_http_lfv_credentials_set_imds_token(rf->ccf, NULL, 0, 0);
        rf->step = NGX_HTTP_LFV_STEP_ROLE;
        ngx_destroy_pool(f->pool);
        f->pool = NULL;
        ngx_http_lfv_refresh_start(rf);
        return;
    }

    if (status < 200 || status > 299) {
        if (status == 401) {

            /* the token expired or was revoked: the next fetch asks anew */

            rf->token_len = 0;
            ngx_http_lfv_credentials_set_imds_token(rf->ccf, NULL, 0, 0);
        }

        ngx_http_lfv_refresh_fail(rf, "%s request answered %ui",
                                  ngx_http_lfv_step_names[rf->step], status);
        return;
    }

    switch (rf->step) {

    case NGX_HTTP_LFV_STEP_TOKEN:

        if (body.len == 0 || body.len > NGX_HTTP_LFV_IMDS_TOKEN_MAX) {
            ngx_http_lfv_refresh_fail(rf, "invalid IMDS token");
            return;
        }

        if (ngx_http_lfv_check_header_value(body.data, body.len) != NGX_OK) {
            ngx_http_lfv_refresh_fail(rf, "invalid IMDS token: a CR, LF, NUL "
                                      "or another control character");
            return;
        }

        rf->token_len = body.len;
        ngx_memcpy(rf->token, body.data, body.len);

        /* reused by every worker until shortly before it expires */

        ngx_http_lfv_credentials_set_imds_token(rf->ccf, body.data, body.len,
                                                ngx_time()
                                                + NGX_HTTP_LFV_IMDS_TOKEN_TTL
                                                - 60);

        rf->step = NGX_HTTP_LFV_STEP_ROLE;
        break;

    case NGX_HTTP_LFV_STEP_ROLE:

        if (ngx_http_lfv_refresh_role(rf, &body) != NGX_OK) {
            return;
        }

        rf->step = NGX_HTTP_LFV_STEP_CREDENTIALS;
        break;

    default: /* NGX_HTTP_LFV_STEP_CREDENTIALS */

        ngx_http_lfv_refresh_store(rf, &body);
        return;
    }

    ngx_destroy_pool(f->pool);
    f->pool = NULL;
    ngx_http_lfv_refresh_start(rf);
}


static ngx_int_t
ngx_http_lfv_refresh_role(ngx_http_lfv_refresher_t *rf, ngx_str_t *body)
{
    u_char  *p, *last;

    /* the first line; IAM role names: [A-Za-z0-9+=,.@_-] */

    last = body->data + body->len;

    for (p = body->data; p < last && *p != LF && *p != CR; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || ngx_strchr("+=,.@_-", *p))
        {
            continue;
        }

        ngx_http_lfv_refresh_fail(rf, "invalid IAM role name");
        return NGX_ERROR;
    }

    if (p == body->data || p - body->data > NGX_HTTP_LFV_ROLE_MAX) {
        ngx_http_lfv_refresh_fail(rf, "invalid IAM role name");
        return NGX_ERROR;
    }

    rf->role_len = p - body->data;
    ngx_memcpy(rf->role, body->data, rf->role_len);

    return NGX_OK;
}


static void
ngx_http_lfv_refresh_store(ngx_http_lfv_refresher_t *rf, ngx_str_t *body)
{
    char                      *err;
    ngx_http_lfv_creds_doc_t  *doc;

    doc = ngx_palloc(rf->fetch.pool, sizeof(ngx_http_lfv_creds_doc_t));
    if (doc == NULL) {
        ngx_http_lfv_refresh_fail(rf, "no memory");
        return;
    }

    if (ngx_http_lfv_parse_credentials(body->data, body->len, doc, &err)
        != NGX_OK)
    {
        ngx_explicit_memzero(body->data, body->len);
        ngx_http_lfv_refresh_fail(rf, "invalid credentials document: %s",
                                  err);
        return;
    }

    ngx_explicit_memzero(body->data, body->len);

    ngx_http_lfv_refresh_keep(rf, doc);
}


/* STS's answer: the credentials, or its error code and message */

static void
ngx_http_lfv_refresh_sts_answer(ngx_http_lfv_refresher_t *rf)
{
    ngx_int_t                rc;
    ngx_str_t               *body;
    ngx_http_lfv_sts_doc_t  *doc;
    u_char                   error[NGX_HTTP_LFV_ERROR_MAX];

    body = &rf->fetch.resp.body;

    doc = ngx_palloc(rf->fetch.pool, sizeof(ngx_http_lfv_sts_doc_t));
    if (doc == NULL) {
        ngx_explicit_memzero(body->data, body->len);
        ngx_http_lfv_refresh_fail(rf, "no memory");
        return;
    }

    rc = ngx_http_lfv_sts_answer(&rf->fetch.resp,
                                 rf->ccf->source
                                 == NGX_HTTP_LFV_CREDS_ASSUME_ROLE
                                 ? NGX_HTTP_LFV_STS_ASSUME_ROLE
                                 : NGX_HTTP_LFV_STS_WEB_IDENTITY,
                                 doc, error, sizeof(error));

    ngx_explicit_memzero(body->data, body->len);

    if (rc != NGX_OK) {
        ngx_http_lfv_refresh_fail(rf, "%s", error);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, &rf->log, 0,
                  "lfv: STS issued credentials of %*s, request id %*s",
                  doc->arn_len, doc->arn,
                  doc->request_id_len, doc->request_id);

    ngx_http_lfv_refresh_keep(rf, &doc->creds);
}


/* credentials fetched: stored for every worker, the next refresh set */

static void
ngx_http_lfv_refresh_keep(ngx_http_lfv_refresher_t *rf,
    ngx_http_lfv_creds_doc_t *doc)
{
    time_t  now, left, lead, at;

    now = ngx_time();

    if (doc->expiration && doc->expiration <= now) {
        ngx_explicit_memzero(doc, sizeof(ngx_http_lfv_creds_doc_t));
        ngx_http_lfv_refresh_fail(rf, "the credentials document has "
                                  "already expired");
        return;
    }

    /*
     * Refresh ahead of the expiration: 15 minutes, as the SDKs, or half
     * the lifetime when it is shorter, less a jitter of up to a quarter
     * of that, so that many proxies do not ask at the same second.
     */

    if (doc->expiration) {
        left = doc->expiration - now;
        lead = ngx_min(NGX_HTTP_LFV_REFRESH_LEAD, left / 2);
        at = doc->expiration - lead - (time_t) (ngx_random() % (lead / 4 + 1));

    } else {
        at = now + NGX_HTTP_LFV_REFRESH_DEFAULT;
    }

    if (ngx_http_lfv_credentials_store(rf->ccf, doc, at) == NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, &rf->log, 0,
                      "lfv: credentials refreshed from %V, key id %*s, "
                      "expire in %T s, next refresh in %T s",
                      ngx_http_lfv_credentials_source_name(rf->ccf->source),
                      doc->access_key_id_len, doc->access_key_id,
                      doc->expiration ? doc->expiration - now : 0, at - now);

    } else {
        ngx_log_error(NGX_LOG_INFO, &rf->log, 0,
                      "lfv: credentials fetched while nginx is exiting "
                      "are not stored; the new workers fetch their own");
    }

    ngx_explicit_memzero(doc, sizeof(ngx_http_lfv_creds_doc_t));

    ngx_destroy_pool(rf->fetch.pool);
    rf->fetch.pool = NULL;

    ngx_http_lfv_refresh_end(rf, at);
}


static void
ngx_http_lfv_refresh_fail(ngx_http_lfv_refresher_t *rf, char *fmt, ...)
{
    u_char                    *p;
    time_t                     now, at, left, backoff;
    va_list                    args;
    ngx_http_lfv_creds_shm_t  *sh;
    u_char                     error[NGX_HTTP_LFV_ERROR_MAX];

    va_start(args, fmt);
    p = ngx_vslprintf(error, error + sizeof(error), fmt, args);
    va_end(args);

    if (rf->fetch.pool) {
        ngx_destroy_pool(rf->fetch.pool);
        rf->fetch.pool = NULL;
    }

    sh = rf->ccf->sh;
    now = ngx_time();

    /*
     * Retry with backoff: 1, 2, 4 ... seconds, at most a minute, and a
     * jitter of up to half of it, so that the roles of many teams, or
     * many proxies, do not ask again at the same second
     */

    backoff = (time_t) 1 << ngx_min(sh->failures, 6);
    backoff = ngx_min(backoff, NGX_HTTP_LFV_BACKOFF_MAX);
    backoff += (time_t) (ngx_random() % (backoff / 2 + 1));
    at = now + backoff;

    if (ngx_http_lfv_credentials_failed(rf->ccf, error, p - error, at)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, &rf->log, 0,
                      "lfv: credentials refresh failed while nginx is "
                      "exiting: %*s", p - error, error);
        rf->busy = 0;
        return;
    }

    if (sh->has_keys && sh->expiration) {
        left = sh->expiration - now;

        ngx_log_error(NGX_LOG_WARN, &rf->log, 0,
                      "lfv: credentials refresh failed: %*s; "
                      "current credentials %s %T s, retry in %T s",
                      p - error, error,
                      left >= 0 ? "expire in" : "expired",
                      left >= 0 ? left : -left, backoff);

    } else if (sh->has_keys) {
        ngx_log_error(NGX_LOG_WARN, &rf->log, 0,
                      "lfv: credentials refresh failed: %*s; "
                      "retry in %T s", p - error, error, backoff);

    } else {
        ngx_log_error(NGX_LOG_ERR, &rf->log, 0,
                      "lfv: no AWS credentials: %*s; retry in %T s",
                      p - error, error, backoff);
    }

    ngx_http_lfv_refresh_end(rf, at);
}


static void
ngx_http_lfv_refresh_schedule(ngx_http_lfv_refresher_t *rf, time_t at)
{
    time_t  delay;

    /*
     * Re-armed from the wall clock every 10 s at most: a monotonic timer
     * set for hours sleeps through a step of the clock (a suspended VM,
     * NTP), and a wake-up of worker 0 costs nothing.
     */

    delay = at - ngx_time();
    delay = ngx_max(delay, 1);
    delay = ngx_min(delay, NGX_HTTP_LFV_SCHEDULE_MAX);

    if (rf->timer.timer_set) {
        ngx_del_timer(&rf->timer);
    }

    ngx_add_timer(&rf->timer, (ngx_msec_t) delay * 1000);
}


static u_char *
ngx_http_lfv_refresh_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char                    *p;
    ngx_http_lfv_refresher_t  *rf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    rf = log->data;

    return ngx_snprintf(buf, len, ", provider: %V, endpoint: %V",
                        ngx_http_lfv_credentials_source_name(rf->ccf->source),
                        &rf->ccf->endpoint_name);
}
