
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_parse_sts_credentials() for both
 * actions and ngx_http_lfv_parse_sts_error() on the same bytes.
 *
 * An accepted answer has a key id of 1..NGX_HTTP_LFV_AKID_MAX bytes of
 * [A-Z0-9], a secret of 1..NGX_HTTP_LFV_SECRET_MAX and a token of
 * 1..NGX_HTTP_LFV_TOKEN_MAX visible ASCII bytes, an expiration within
 * 1970-01-01T00:00:01Z .. 9999-12-31T23:59:60-23:59, an ARN and a
 * request id of visible ASCII within their limits; an accepted error
 * has a code of 1..NGX_HTTP_LFV_STS_CODE_MAX visible ASCII bytes, a
 * type and a request id of visible ASCII and a message of printable
 * ASCII within theirs.  The roots differ: one input is accepted by one
 * parser at most.  A refused input comes with an error text and leaves
 * every byte of the result zero.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_sts_doc.h"
#include "ngx_lfv_unit.h"


/* 9999-12-31T23:59:59Z, plus a leap second and the largest offset */
#define NGX_LFV_FUZZ_TIME_MAX  (253402300799LL + 1 + 86340)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_check_doc(ngx_http_lfv_sts_doc_t *doc);
static void ngx_lfv_fuzz_check_error(ngx_http_lfv_sts_error_t *e);
static void ngx_lfv_fuzz_check_refused(char *err, void *p, size_t len);
static void ngx_lfv_fuzz_check_string(u_char *p, size_t len, size_t min,
    size_t max, u_char low);


static ngx_http_lfv_sts_action_e  ngx_lfv_fuzz_actions[] = {
    NGX_HTTP_LFV_STS_ASSUME_ROLE,
    NGX_HTTP_LFV_STS_WEB_IDENTITY
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                      *err;
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_uint_t                 accepted, i;
    ngx_http_lfv_sts_doc_t     doc;
    ngx_http_lfv_sts_error_t   e;

    p = ngx_lfv_unit_copy(data, size);

    accepted = 0;

    for (i = 0;
         i < sizeof(ngx_lfv_fuzz_actions) / sizeof(ngx_lfv_fuzz_actions[0]);
         i++)
    {

        /* garbage first: the parser must set or wipe every byte */

        ngx_memset(&doc, 0xa5, sizeof(ngx_http_lfv_sts_doc_t));
        err = NULL;

        rc = ngx_http_lfv_parse_sts_credentials(p, size,
                                                ngx_lfv_fuzz_actions[i],
                                                &doc, &err);

        if (rc == NGX_OK) {
            ngx_lfv_fuzz_check_doc(&doc);
            accepted++;

        } else if (rc == NGX_ERROR) {
            ngx_lfv_fuzz_check_refused(err, &doc,
                                       sizeof(ngx_http_lfv_sts_doc_t));

        } else {
            abort();
        }
    }

    ngx_memset(&e, 0xa5, sizeof(ngx_http_lfv_sts_error_t));
    err = NULL;

    rc = ngx_http_lfv_parse_sts_error(p, size, &e, &err);

    if (rc == NGX_OK) {
        ngx_lfv_fuzz_check_error(&e);
        accepted++;

    } else if (rc == NGX_ERROR) {
        ngx_lfv_fuzz_check_refused(err, &e, sizeof(ngx_http_lfv_sts_error_t));

    } else {
        abort();
    }

    if (accepted > 1) {
        abort();
    }

    free(p);

    return 0;
}


static void
ngx_lfv_fuzz_check_doc(ngx_http_lfv_sts_doc_t *doc)
{
    size_t  i;
    u_char  c;

    if (doc->creds.access_key_id_len == 0
        || doc->creds.access_key_id_len > NGX_HTTP_LFV_AKID_MAX)
    {
        abort();
    }

    for (i = 0; i < doc->creds.access_key_id_len; i++) {
        c = doc->creds.access_key_id[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            abort();
        }
    }

    ngx_lfv_fuzz_check_string(doc->creds.secret_access_key,
                              doc->creds.secret_access_key_len, 1,
                              NGX_HTTP_LFV_SECRET_MAX, 0x21);
    ngx_lfv_fuzz_check_string(doc->creds.session_token,
                              doc->creds.session_token_len, 1,
                              NGX_HTTP_LFV_TOKEN_MAX, 0x21);
    ngx_lfv_fuzz_check_string(doc->arn, doc->arn_len, 0,
                              NGX_HTTP_LFV_STS_ARN_MAX, 0x21);
    ngx_lfv_fuzz_check_string(doc->request_id, doc->request_id_len, 0,
                              NGX_HTTP_LFV_STS_ID_MAX, 0x21);

    if (doc->creds.expiration <= 0
        || (int64_t) doc->creds.expiration > NGX_LFV_FUZZ_TIME_MAX)
    {
        abort();
    }
}


static void
ngx_lfv_fuzz_check_error(ngx_http_lfv_sts_error_t *e)
{
    ngx_lfv_fuzz_check_string(e->type, e->type_len, 0, sizeof(e->type),
                              0x21);
    ngx_lfv_fuzz_check_string(e->code, e->code_len, 1,
                              NGX_HTTP_LFV_STS_CODE_MAX, 0x21);
    ngx_lfv_fuzz_check_string(e->message, e->message_len, 0,
                              NGX_HTTP_LFV_STS_MESSAGE_MAX, 0x20);
    ngx_lfv_fuzz_check_string(e->request_id, e->request_id_len, 0,
                              NGX_HTTP_LFV_STS_ID_MAX, 0x21);
}


static void
ngx_lfv_fuzz_check_refused(char *err, void *p, size_t len)
{
    size_t  i;

    if (err == NULL || err[0] == '\0') {
        abort();
    }

    for (i = 0; i < len; i++) {
        if (((u_char *) p)[i] != 0) {
            abort();
        }
    }
}


static void
ngx_lfv_fuzz_check_string(u_char *p, size_t len, size_t min, size_t max,
    u_char low)
{
    size_t  i;

    if (len < min || len > max) {
        abort();
    }

    for (i = 0; i < len; i++) {
        if (p[i] < low || p[i] > 0x7e) {
            abort();
        }
    }
}
