
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_parse_body() on any bytes.  Only the
 * reasons of the body may come back; an accepted body has
 * 1 <= MinInferenceUnits <= 2147483647 and MaxInferenceUnits unset or
 * MinInferenceUnits <= MaxInferenceUnits <= 2147483647, and without its
 * JSON whitespace it is exactly {"MinInferenceUnits":min} or that with
 * "MaxInferenceUnits":max before or after: nothing else gets through.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>

#include "ngx_http_lfv_request.h"
#include "ngx_lfv_unit.h"


#define NGX_LFV_FUZZ_INT32_MAX  2147483647


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_check(u_char *p, size_t len, ngx_int_t min,
    ngx_int_t max);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                 *p;
    ngx_int_t               min, max;
    ngx_http_lfv_reason_e   rc;

    p = ngx_lfv_unit_copy(data, size);

    min = 0;
    max = 0;

    rc = ngx_http_lfv_parse_body(p, size, &min, &max);

    switch (rc) {

    case NGX_HTTP_LFV_OK:

        if (min < 1 || min > NGX_LFV_FUZZ_INT32_MAX) {
            abort();
        }

        if (max != NGX_HTTP_LFV_UNITS_UNSET
            && (max < min || max > NGX_LFV_FUZZ_INT32_MAX))
        {
            abort();
        }

        ngx_lfv_fuzz_check(p, size, min, max);
        break;

    case NGX_HTTP_LFV_BODY_EMPTY:
    case NGX_HTTP_LFV_BODY_SYNTAX:
    case NGX_HTTP_LFV_BODY_NOT_OBJECT:
    case NGX_HTTP_LFV_BODY_TRAILING:
    case NGX_HTTP_LFV_MEMBER_ESCAPED:
    case NGX_HTTP_LFV_MEMBER_UNKNOWN:
    case NGX_HTTP_LFV_MEMBER_DUPLICATE:
    case NGX_HTTP_LFV_NOT_INTEGER:
    case NGX_HTTP_LFV_LEADING_ZERO:
    case NGX_HTTP_LFV_INT32_RANGE:
    case NGX_HTTP_LFV_MIN_REQUIRED:
    case NGX_HTTP_LFV_MIN_UNITS:
    case NGX_HTTP_LFV_MAX_UNITS:
    case NGX_HTTP_LFV_MAX_BELOW_MIN:
        break;

    default:
        abort();
    }

    free(p);

    return 0;
}


static void
ngx_lfv_fuzz_check(u_char *p, size_t len, ngx_int_t min, ngx_int_t max)
{
    char    *s;
    size_t   i, n;
    char     a[80], b[80];

    s = malloc(len + 1);
    if (s == NULL) {
        abort();
    }

    for (i = 0, n = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
            s[n++] = p[i];
        }
    }

    s[n] = '\0';

    if (max == NGX_HTTP_LFV_UNITS_UNSET) {
        snprintf(a, sizeof(a), "{\"MinInferenceUnits\":%ld}", (long) min);
        snprintf(b, sizeof(b), "%s", a);

    } else {
        snprintf(a, sizeof(a),
                 "{\"MinInferenceUnits\":%ld,\"MaxInferenceUnits\":%ld}",
                 (long) min, (long) max);
        snprintf(b, sizeof(b),
                 "{\"MaxInferenceUnits\":%ld,\"MinInferenceUnits\":%ld}",
                 (long) max, (long) min);
    }

    /* by length and bytes: a NUL in the body must not end the match */

    if (!(n == strlen(a) && ngx_memcmp(s, a, n) == 0)
        && !(n == strlen(b) && ngx_memcmp(s, b, n) == 0))
    {
        abort();
    }

    free(s);
}
