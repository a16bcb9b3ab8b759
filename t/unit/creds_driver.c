
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * Runs one parser of ngx_http_lfv_fetch_response.c,
 * ngx_http_lfv_creds_doc.c, ngx_http_lfv_sts_doc.c or
 * ngx_http_lfv_time.c on stdin, for t/creds-parsers.t and
 * t/sts-parsers.t.  The first line names the parser, the rest of the
 * input (every byte, CR and NUL included) is what it parses:
 *
 *   http    ok status=200 body_len=2 body=hi       | error: <err>
 *   creds   ok akid=AKID secret_len=N secret_sha256=HEX token_len=N
 *           token_sha256=HEX expiration=EPOCH      | error: <err> (wiped)
 *   sts_role, sts_web
 *           ok akid=AKID secret_len=N secret_sha256=HEX token_len=N
 *           token_sha256=HEX expiration=EPOCH arn=ARN
 *           request_id=ID                        | error: <err> (wiped)
 *   sts_error
 *           ok type=T code=C message=M request_id=ID
 *                                                | error: <err> (wiped)
 *   time    epoch=N | error
 *   times   one "epoch=N" or "error" line per input line
 *   batch   records of "<mode> <length>\n" and that many bytes (any
 *           mode but batch), one answer line each: one process for a
 *           whole table
 *
 * The input is copied into a buffer of exactly its size, so that a
 * sanitizer build catches a read past len.  Secrets are only printed
 * as lengths and SHA-256; the STS strings are printed escaped (bytes
 * outside 0x21..0x7e and "\\" as \xHH).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>

#include "ngx_http_lfv_fetch_response.h"
#include "ngx_http_lfv_creds_doc.h"
#include "ngx_http_lfv_sts_doc.h"
#include "ngx_http_lfv_time.h"
#include "ngx_lfv_driver.h"


#define NGX_LFV_DRIVER_INPUT_MAX  (1024 * 1024)


static ngx_int_t ngx_lfv_driver_run(u_char *mode, size_t mlen, u_char *p,
    size_t len);
static void ngx_lfv_driver_http(u_char *p, size_t len);
static void ngx_lfv_driver_creds(u_char *p, size_t len);
static void ngx_lfv_driver_sts(u_char *p, size_t len,
    ngx_http_lfv_sts_action_e action);
static void ngx_lfv_driver_sts_error(u_char *p, size_t len);
static void ngx_lfv_driver_times(u_char *p, size_t len);
static void ngx_lfv_driver_sha256(u_char *p, size_t len);


int
main(int argc, char *argv[])
{
    return ngx_lfv_unit_main(ngx_lfv_driver_run, NGX_LFV_DRIVER_INPUT_MAX);
}


static ngx_int_t
ngx_lfv_driver_run(u_char *mode, size_t mlen, u_char *p, size_t len)
{
    u_char  *input;
    time_t   t;

    /* malloc(0) may return NULL: keep one byte, pass length 0 */

    input = malloc(len ? len : 1);
    if (input == NULL) {
        return NGX_ERROR;
    }

    memcpy(input, p, len);

    if (mlen == 4 && memcmp(mode, "http", 4) == 0) {
        ngx_lfv_driver_http(input, len);

    } else if (mlen == 5 && memcmp(mode, "creds", 5) == 0) {
        ngx_lfv_driver_creds(input, len);

    } else if (mlen == 8 && memcmp(mode, "sts_role", 8) == 0) {
        ngx_lfv_driver_sts(input, len, NGX_HTTP_LFV_STS_ASSUME_ROLE);

    } else if (mlen == 7 && memcmp(mode, "sts_web", 7) == 0) {
        ngx_lfv_driver_sts(input, len, NGX_HTTP_LFV_STS_WEB_IDENTITY);

    } else if (mlen == 9 && memcmp(mode, "sts_error", 9) == 0) {
        ngx_lfv_driver_sts_error(input, len);

    } else if (mlen == 4 && memcmp(mode, "time", 4) == 0) {
        t = ngx_http_lfv_parse_rfc3339(input, len);

        if (t == NGX_ERROR) {
            printf("error\n");

        } else {
            printf("epoch=%lld\n", (long long) t);
        }

    } else if (mlen == 5 && memcmp(mode, "times", 5) == 0) {
        ngx_lfv_driver_times(input, len);

    } else {
        free(input);
        fprintf(stderr, "unknown mode\n");
        return NGX_ERROR;
    }

    free(input);

    return NGX_OK;
}


static void
ngx_lfv_driver_http(u_char *p, size_t len)
{
    char                          *err;
    ngx_http_lfv_http_response_t   resp;

    err = NULL;

    if (ngx_http_lfv_parse_http_response(p, len, &resp, &err) != NGX_OK) {
        printf("error: %s\n", err ? err : "(null)");
        return;
    }

    if (resp.body.len && (resp.body.data < p
                          || resp.body.data + resp.body.len > p + len))
    {
        printf("body outside the input\n");
        return;
    }

    printf("ok status=%u body_len=%u body=", (unsigned) resp.status,
           (unsigned) resp.body.len);
    ngx_lfv_driver_escaped(resp.body.data, resp.body.len);
    printf("\n");
}


static void
ngx_lfv_driver_creds(u_char *p, size_t len)
{
    char                      *err;
    size_t                     i;
    ngx_http_lfv_creds_doc_t   doc;

    /* garbage first: the parser must set or wipe every byte */

    memset(&doc, 0xa5, sizeof(doc));
    err = NULL;

    if (ngx_http_lfv_parse_credentials(p, len, &doc, &err) != NGX_OK) {

        for (i = 0; i < sizeof(doc); i++) {
            if (((u_char *) &doc)[i] != 0) {
                break;
            }
        }

        printf("error: %s (%s)\n", err ? err : "(null)",
               i == sizeof(doc) ? "wiped" : "NOT WIPED");
        return;
    }

    printf("ok akid=%.*s secret_len=%u secret_sha256=",
           (int) doc.access_key_id_len, doc.access_key_id,
           (unsigned) doc.secret_access_key_len);
    ngx_lfv_driver_sha256(doc.secret_access_key, doc.secret_access_key_len);
    printf(" token_len=%u token_sha256=", (unsigned) doc.session_token_len);
    ngx_lfv_driver_sha256(doc.session_token, doc.session_token_len);
    printf(" expiration=%lld\n", (long long) doc.expiration);
}


static void
ngx_lfv_driver_sts(u_char *p, size_t len, ngx_http_lfv_sts_action_e action)
{
    char                    *err;
    ngx_http_lfv_sts_doc_t   doc;

    /* garbage first: the parser must set or wipe every byte */

    memset(&doc, 0xa5, sizeof(doc));
    err = NULL;

    if (ngx_http_lfv_parse_sts_credentials(p, len, action, &doc, &err)
        != NGX_OK)
    {
        printf("error: %s (%s)\n", err ? err : "(null)",
               ngx_lfv_driver_zero(&doc, sizeof(doc))
               ? "wiped" : "NOT WIPED");
        return;
    }

    printf("ok akid=%.*s secret_len=%u secret_sha256=",
           (int) doc.creds.access_key_id_len, doc.creds.access_key_id,
           (unsigned) doc.creds.secret_access_key_len);
    ngx_lfv_driver_sha256(doc.creds.secret_access_key,
                          doc.creds.secret_access_key_len);
    printf(" token_len=%u token_sha256=",
           (unsigned) doc.creds.session_token_len);
    ngx_lfv_driver_sha256(doc.creds.session_token,
                          doc.creds.session_token_len);
    printf(" expiration=%lld arn=", (long long) doc.creds.expiration);
    ngx_lfv_driver_escaped(doc.arn, doc.arn_len);
    printf(" request_id=");
    ngx_lfv_driver_escaped(doc.request_id, doc.request_id_len);
    printf("\n");
}


static void
ngx_lfv_driver_sts_error(u_char *p, size_t len)
{
    char                      *err;
    ngx_http_lfv_sts_error_t   e;

    memset(&e, 0xa5, sizeof(e));
    err = NULL;

    if (ngx_http_lfv_parse_sts_error(p, len, &e, &err) != NGX_OK) {
        printf("error: %s (%s)\n", err ? err : "(null)",
               ngx_lfv_driver_zero(&e, sizeof(e)) ? "wiped" : "NOT WIPED");
        return;
    }

    printf("ok type=");
    ngx_lfv_driver_escaped(e.type, e.type_len);
    printf(" code=");
    ngx_lfv_driver_escaped(e.code, e.code_len);
    printf(" message=");
    ngx_lfv_driver_escaped(e.message, e.message_len);
    printf(" request_id=");
    ngx_lfv_driver_escaped(e.request_id, e.request_id_len);
    printf("\n");
}



static void
ngx_lfv_driver_times(u_char *p, size_t len)
{
    u_char  *last, *nl;
    time_t   t;

    for (last = p + len; p < last; p = nl + 1) {
        nl = memchr(p, '\n', last - p);
        if (nl == NULL) {
            nl = last;
        }

        t = ngx_http_lfv_parse_rfc3339(p, nl - p);

        if (t == NGX_ERROR) {
            printf("error\n");

        } else {
            printf("epoch=%lld\n", (long long) t);
        }
    }
}


static void
ngx_lfv_driver_sha256(u_char *p, size_t len)
{
    u_char        md[EVP_MAX_MD_SIZE], hex[2 * EVP_MAX_MD_SIZE];
    unsigned int  n;

    if (EVP_Digest(p, len, md, &n, EVP_sha256(), NULL) != 1) {
        printf("(digest failed)");
        return;
    }

    ngx_hex_dump(hex, md, n);
    printf("%.*s", (int) (2 * n), hex);
}

