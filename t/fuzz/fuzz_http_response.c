
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_parse_http_response() on any bytes,
 * then, as the credential client does, ngx_http_lfv_parse_credentials()
 * on the body it returns.
 *
 * An accepted response starts with "HTTP/1.", has a status of 100..599
 * and a body inside the input that ends at the input's end or earlier
 * (Content-Length); a refused one comes with an error text, status 0
 * and no body.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_fetch_response.h"
#include "ngx_http_lfv_creds_doc.h"
#include "ngx_lfv_unit.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                          *err;
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_http_lfv_creds_doc_t       doc;
    ngx_http_lfv_http_response_t   resp;

    p = ngx_lfv_unit_copy(data, size);

    ngx_memset(&resp, 0xa5, sizeof(ngx_http_lfv_http_response_t));
    err = NULL;

    rc = ngx_http_lfv_parse_http_response(p, size, &resp, &err);

    if (rc == NGX_OK) {

        if (size < sizeof("HTTP/1.x 200\n") - 1
            || ngx_strncmp(p, "HTTP/1.", sizeof("HTTP/1.") - 1) != 0
            || resp.status < 100 || resp.status > 599)
        {
            abort();
        }

        /* the body is the input's tail or a prefix of that tail */

        if (resp.body.data == NULL
            || resp.body.data <= p || resp.body.data > p + size
            || resp.body.len > (size_t) (p + size - resp.body.data))
        {
            abort();
        }

        if (resp.body.data[-1] != '\n') {
            abort();
        }

        /* the body is read: ASan catches a body past the input */

        rc = ngx_http_lfv_parse_credentials(resp.body.data, resp.body.len,
                                            &doc, &err);

        if (rc != NGX_OK && rc != NGX_ERROR) {
            abort();
        }

    } else if (rc == NGX_ERROR) {

        if (err == NULL || err[0] == '\0'
            || resp.status != 0 || resp.body.data != NULL
            || resp.body.len != 0)
        {
            abort();
        }

    } else {
        abort();
    }

    free(p);

    return 0;
}
