
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_json_object() on any bytes, as an
 * answer of AWS the envelope passes on.  What it accepts must be one
 * JSON object that Python's json module would read too is more than a
 * fuzzer can check; here: the message it finds lies inside the input,
 * between quotes, and holds no raw control character or unescaped
 * quote, so that it can go into another JSON string as it is.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_json.h"
#include "ngx_lfv_unit.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     *p;
    size_t      i;
    ngx_str_t   value;

    static ngx_str_t  names[] = {
        ngx_string("message"), ngx_string("Message"), ngx_null_string
    };

    p = ngx_lfv_unit_copy(data, size);

    if (ngx_http_lfv_json_object(p, size, names, &value) == NGX_OK) {

        /* an object: the first non-space byte is "{" */

        for (i = 0; i < size && (p[i] == ' ' || p[i] == '\t'
                                 || p[i] == '\r' || p[i] == '\n'); i++)
        {
            /* void */
        }

        if (i == size || p[i] != '{') {
            abort();
        }

        if (value.data) {
            if (value.data <= p || value.data + value.len >= p + size
                || value.data[-1] != '"' || value.data[value.len] != '"')
            {
                abort();
            }

            for (i = 0; i < value.len; i++) {
                if (value.data[i] < 0x20 || value.data[i] == '"') {
                    abort();
                }

                if (value.data[i] == '\\' && ++i == value.len) {
                    abort();        /* an escape cut off */
                }
            }
        }

    } else if (value.data && value.len > size) {
        abort();
    }

    free(p);

    return 0;
}
