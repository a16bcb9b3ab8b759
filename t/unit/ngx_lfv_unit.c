
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_lfv_unit.h"



static ngx_int_t ngx_lfv_unit_hex_digit(u_char c);


/* returns the number of fields found; the last one takes the rest */

ngx_uint_t
ngx_lfv_unit_split(u_char *p, size_t len, ngx_str_t *fields, ngx_uint_t n)
{
    u_char      *last, *s;
    ngx_uint_t   i;

    last = p + len;

    for (i = 0; i < n; i++) {
        s = p;

        if (i + 1 < n) {
            while (p < last && *p != '\t') {
                p++;
            }

        } else {
            p = last;
        }

        fields[i].data = s;
        fields[i].len = p - s;

        if (p == last) {
            return i + 1;
        }

        p++;
    }

    return n;
}


ngx_int_t
ngx_lfv_unit_unhex(ngx_str_t *s)
{
    size_t     i;
    ngx_int_t  hi, lo;

    if (s->len % 2) {
        return NGX_ERROR;
    }

    for (i = 0; i < s->len / 2; i++) {
        hi = ngx_lfv_unit_hex_digit(s->data[2 * i]);
        lo = ngx_lfv_unit_hex_digit(s->data[2 * i + 1]);

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            return NGX_ERROR;
        }

        s->data[i] = (u_char) (hi * 16 + lo);
    }

    s->len /= 2;

    return NGX_OK;
}


static ngx_int_t
ngx_lfv_unit_hex_digit(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return NGX_ERROR;
}


/*
 * The canonical request bound, then the string to sign:
 * "AWS4-HMAC-SHA256\n" date "\n" scope "\n" hash.  Exactly what the
 * signer checks for, so that one byte less must be refused.
 */

size_t
ngx_lfv_unit_scratch_size(ngx_http_lfv_sigv4_request_t *sr)
{
    return ngx_http_lfv_sigv4_canonical_len(sr)
           + sizeof("AWS4-HMAC-SHA256\n") - 1
           + sr->header[NGX_HTTP_LFV_H_AMZ_DATE].len + 1
           + NGX_HTTP_LFV_DATE_LEN + 1 + sr->region.len + 1
           + sr->service.len + 1 + sizeof("aws4_request\n") - 1
           + NGX_HTTP_LFV_SHA256_HEX_LEN;
}


u_char *
ngx_lfv_unit_copy(const u_char *data, size_t size)
{
    u_char  *p;

    /* malloc(0) may give NULL; a 0-byte copy is never read anyway */

    p = malloc(size ? size : 1);
    if (p == NULL) {
        abort();
    }

    ngx_memcpy(p, data, size);

    return p;
}

