
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>
#include <stdlib.h>

#include "ngx_lfv_driver.h"


static ngx_int_t ngx_lfv_unit_batch(ngx_lfv_unit_run_pt run, size_t max,
    u_char *p, size_t len);


/*
 * A driver's main(): stdin is a mode line and the mode's input, or the
 * mode "batch" and records of "<mode> <length>\n" and that many bytes
 * (the mode may have spaces: the length follows the last one), run one
 * after the other in one process
 */

int
ngx_lfv_unit_main(ngx_lfv_unit_run_pt run, size_t max)
{
    u_char     *buf, *nl;
    size_t      len, n, mlen;
    ngx_int_t   rc;

    buf = malloc(max + 1);
    if (buf == NULL) {
        return 2;
    }

    len = 0;

    while ((n = fread(buf + len, 1, max + 1 - len,
                      stdin))
           > 0)
    {
        len += n;
    }

    if (len > max) {
        fprintf(stderr, "input too large\n");
        return 2;
    }

    nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        fprintf(stderr, "no mode line\n");
        return 2;
    }

    mlen = nl - buf;
    n = len - mlen - 1;

    if (mlen == 5 && memcmp(buf, "batch", 5) == 0) {
        rc = ngx_lfv_unit_batch(run, max, nl + 1, n);

    } else {
        rc = run(buf, mlen, nl + 1, n);
    }

    free(buf);

    return rc == NGX_OK ? 0 : 2;
}


static ngx_int_t
ngx_lfv_unit_batch(ngx_lfv_unit_run_pt run, size_t max, u_char *p,
    size_t len)
{
    u_char  *last, *sp, *nl, *q;
    size_t   n;

    last = p + len;

    while (p < last) {
        nl = memchr(p, '\n', last - p);

        if (nl == NULL) {
            fprintf(stderr, "bad batch record\n");
            return NGX_ERROR;
        }

        for (sp = nl; sp > p && sp[-1] != ' '; sp--) {
            /* void */
        }

        if (sp == p || sp == nl || sp - 1 == p) {
            fprintf(stderr, "bad batch record\n");
            return NGX_ERROR;
        }

        for (n = 0, q = sp; q < nl; q++) {
            if (*q < '0' || *q > '9' || n > max) {
                fprintf(stderr, "bad batch length\n");
                return NGX_ERROR;
            }

            n = n * 10 + (*q - '0');
        }

        if ((size_t) (last - nl - 1) < n) {
            fprintf(stderr, "short batch record\n");
            return NGX_ERROR;
        }

        if (run(p, sp - 1 - p, nl + 1, n) != NGX_OK) {
            return NGX_ERROR;
        }

        p = nl + 1 + n;
    }

    return NGX_OK;
}


/* visible ASCII but "\\" as it is, every other byte as \\xHH */

void
ngx_lfv_driver_escaped(u_char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] >= 0x21 && p[i] <= 0x7e && p[i] != '\\') {
            putchar(p[i]);

        } else {
            printf("\\x%02x", p[i]);
        }
    }
}


/* every byte 0: a result wiped after an error */

ngx_uint_t
ngx_lfv_driver_zero(void *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (((u_char *) p)[i] != 0) {
            return 0;
        }
    }

    return 1;
}
