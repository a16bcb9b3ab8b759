
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_json.h"


#define NGX_HTTP_LFV_JSON_SATURATE  2147483648LL


static u_char *ngx_http_lfv_json_digits(u_char *p, u_char *last);


u_char *
ngx_http_lfv_json_space(u_char *p, u_char *last)
{
    while (p < last
           && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/*
 * -? [0-9]+ (. [0-9]+)? ([eE] [+-]? [0-9]+)?, scanned greedily; a
 * leading zero is the caller's to refuse.  Returns where the scan
 * stopped, malformed or not.
 */

u_char *
ngx_http_lfv_json_number(u_char *p, u_char *last,
    ngx_http_lfv_json_number_t *n)
{
    u_char  *q;

    ngx_memzero(n, sizeof(ngx_http_lfv_json_number_t));

    if (p < last && *p == '-') {
        n->negative = 1;
        p++;
    }

    n->digits = p;

    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {

        /* keep counting past the limit: such a value is refused anyway */

        if (n->value <= NGX_HTTP_LFV_JSON_SATURATE) {
            n->value = n->value * 10 + (*p - '0');
        }
    }

    n->ndigits = p - n->digits;

    if (n->ndigits == 0) {
        n->malformed = 1;
        return p;
    }

    if (p < last && *p == '.') {
        n->fraction = 1;

        q = ngx_http_lfv_json_digits(p + 1, last);

        if (q == p + 1) {
            n->malformed = 1;
            return q;
        }

        p = q;
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        n->exponent = 1;
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        q = ngx_http_lfv_json_digits(p, last);

        if (q == p) {
            n->malformed = 1;
            return q;
        }

        p = q;
    }

    return p;
}


static u_char *
ngx_http_lfv_json_digits(u_char *p, u_char *last)
{
    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    return p;
}
