
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_check_client_token(),
 * ngx_http_lfv_check_content_type() and ngx_http_lfv_check_header_value()
 * on the same bytes, each against a plain restatement of its rule.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_request.h"
#include "ngx_http_lfv_creds_doc.h"
#include "ngx_lfv_unit.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static ngx_uint_t ngx_lfv_fuzz_token_ok(u_char *p, size_t len);
static ngx_uint_t ngx_lfv_fuzz_ctype_ok(u_char *p, size_t len);
static size_t ngx_lfv_fuzz_controls(u_char *p, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                 *p;
    ngx_http_lfv_reason_e   rc;

    p = ngx_lfv_unit_copy(data, size);

    rc = ngx_http_lfv_check_client_token(p, size);

    if (rc != (ngx_lfv_fuzz_token_ok(p, size) ? NGX_HTTP_LFV_OK
                                               : NGX_HTTP_LFV_CLIENT_TOKEN))
    {
        abort();
    }

    rc = ngx_http_lfv_check_content_type(p, size);

    if (rc != (ngx_lfv_fuzz_ctype_ok(p, size) ? NGX_HTTP_LFV_OK
                                               : NGX_HTTP_LFV_CONTENT_TYPE))
    {
        abort();
    }

    /* a header value: no byte below 0x20, no DEL */

    if ((ngx_http_lfv_check_header_value(p, size) == NGX_OK)
        != (size == 0 || (memchr(p, 0x7f, size) == NULL
                          && ngx_lfv_fuzz_controls(p, size) == 0)))
    {
        abort();
    }

    free(p);

    return 0;
}


static size_t
ngx_lfv_fuzz_controls(u_char *p, size_t len)
{
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++) {
        n += (p[i] < 0x20);
    }

    return n;
}


/* 1..64 of [a-zA-Z0-9-] */

static ngx_uint_t
ngx_lfv_fuzz_token_ok(u_char *p, size_t len)
{
    size_t  i;

    if (len < 1 || len > 64) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!isalnum(p[i]) && p[i] != '-') {
            return 0;
        }
    }

    return 1;
}


/* "application/json" in any case, optional whitespace, end or ";" */

static ngx_uint_t
ngx_lfv_fuzz_ctype_ok(u_char *p, size_t len)
{
    size_t       i;
    static char  type[] = "application/json";

    if (len < sizeof(type) - 1) {
        return 0;
    }

    for (i = 0; i < sizeof(type) - 1; i++) {
        if (tolower(p[i]) != type[i]) {
            return 0;
        }
    }

    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'
                       || p[i] == '\n'))
    {
        i++;
    }

    return i == len || p[i] == ';';
}
