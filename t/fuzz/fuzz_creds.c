
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_parse_credentials() and
 * ngx_http_lfv_parse_rfc3339() on any bytes.
 *
 * An accepted document has a key id of 1..NGX_HTTP_LFV_AKID_MAX bytes
 * of [A-Z0-9], a secret of 1..NGX_HTTP_LFV_SECRET_MAX and a token of
 * 0..NGX_HTTP_LFV_TOKEN_MAX visible ASCII bytes, an expiration of 0 or a
 * time that the input could hold; a refused one comes with an error
 * text and leaves every byte of the document zero.  A time is -1 or
 * within 1970-01-01T00:00:00Z .. 9999-12-31T23:59:60-23:59.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_creds_doc.h"
#include "ngx_http_lfv_time.h"
#include "ngx_lfv_unit.h"


/* 9999-12-31T23:59:59Z, plus a leap second and the largest offset */
#define NGX_LFV_FUZZ_TIME_MAX  (253402300799LL + 1 + 86340)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_check_doc(ngx_http_lfv_creds_doc_t *doc);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                      *err;
    u_char                    *p;
    size_t                     i;
    time_t                     t;
    ngx_int_t                  rc;
    ngx_http_lfv_creds_doc_t   doc;

    p = ngx_lfv_unit_copy(data, size);

    /* garbage first: the parser must set or wipe every byte */

    ngx_memset(&doc, 0xa5, sizeof(ngx_http_lfv_creds_doc_t));
    err = NULL;

    rc = ngx_http_lfv_parse_credentials(p, size, &doc, &err);

    if (rc == NGX_OK) {
        ngx_lfv_fuzz_check_doc(&doc);

    } else if (rc == NGX_ERROR) {

        if (err == NULL || err[0] == '\0') {
            abort();
        }

        for (i = 0; i < sizeof(ngx_http_lfv_creds_doc_t); i++) {
            if (((u_char *) &doc)[i] != 0) {
                abort();
            }
        }

    } else {
        abort();
    }

    /* the same bytes as a time */

    t = ngx_http_lfv_parse_rfc3339(p, size);

    if (t != NGX_ERROR) {

        if (t < 0 || (int64_t) t > NGX_LFV_FUZZ_TIME_MAX) {
            abort();
        }

        /* "YYYY-MM-DDTHH:MM:SSZ" .. with ".123456789+HH:MM" */

        if (size < 20 || size > 35) {
            abort();
        }
    }

    free(p);

    return 0;
}


static void
ngx_lfv_fuzz_check_doc(ngx_http_lfv_creds_doc_t *doc)
{
    size_t  i;
    u_char  c;

    if (doc->access_key_id_len == 0
        || doc->access_key_id_len > NGX_HTTP_LFV_AKID_MAX
        || doc->secret_access_key_len == 0
        || doc->secret_access_key_len > NGX_HTTP_LFV_SECRET_MAX
        || doc->session_token_len > NGX_HTTP_LFV_TOKEN_MAX)
    {
        abort();
    }

    for (i = 0; i < doc->access_key_id_len; i++) {
        c = doc->access_key_id[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            abort();
        }
    }

    for (i = 0; i < doc->secret_access_key_len; i++) {
        c = doc->secret_access_key[i];

        if (c < 0x21 || c > 0x7e) {
            abort();
        }
    }

    for (i = 0; i < doc->session_token_len; i++) {
        c = doc->session_token[i];

        if (c < 0x21 || c > 0x7e) {
            abort();
        }
    }

    if (doc->expiration < 0
        || (int64_t) doc->expiration > NGX_LFV_FUZZ_TIME_MAX)
    {
        abort();
    }
}
