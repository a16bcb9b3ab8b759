
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * Runs the state document's parser or writer (ngx_http_lfv_state_doc.c)
 * on stdin, for t/state-parsers.t.  The first line names the mode, the
 * rest of the input (every byte, CR and NUL included) is its input:
 *
 *   parse   a document: each record the handler gets, one a line,
 *             team TEAM WINDOW USED EXCESS AGE
 *             lease TEAM REGION HOST PROJECT VERSION UNITS STARTED ENDS
 *           then "ok N" (N records), or "error: line L: <err>"
 *           ("error: <err>" when the error is about the whole document)
 *           and no record;
 *   abort   the same with a handler that refuses the second record:
 *           the first one, then "abort: line L: <err>";
 *   write   records to write, one a line, fields separated by tabs:
 *             team HEX(TEAM) WINDOW USED EXCESS AGE
 *             lease HEX(TEAM) HEX(REGION) HEX(HOST) HEX(PROJECT)
 *                   HEX(VERSION) UNITS STARTED ENDS
 *             other HEX(TEAM) WINDOW USED EXCESS AGE  (type 0)
 *             end COUNT                  (the count the end line takes)
 *           numbers as signed or unsigned decimal; prints "refused L"
 *           for each record (input line L) or end line the writer
 *           refused, then the document, then "done";
 *   limits  "line_max N";
 *   batch   records of "<mode> <length>\n" and that many bytes (any
 *           mode but batch): one process for a whole table.
 *
 * In the records printed, bytes outside 0x21..0x7e and "\\" are \xHH.
 * The input is parsed in a buffer of exactly its size, so that a
 * sanitizer build catches a read past its end; the driver also checks
 * that the parser left it unchanged, that it calls nobody before the
 * whole document is checked (a NULL handler gives the same answer),
 * that a record's strings point into it and its other fields are zero,
 * and that no line written is longer than NGX_HTTP_LFV_STATE_LINE_MAX.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_state_doc.h"
#include "ngx_lfv_unit.h"
#include "ngx_lfv_driver.h"


#define NGX_LFV_DRIVER_INPUT_MAX  (4 * 1024 * 1024)


typedef struct {
    u_char                      *start;
    u_char                      *last;
    ngx_uint_t                   seen;
    ngx_uint_t                   refuse;    /* 0: none */
} ngx_lfv_driver_ctx_t;


static ngx_int_t ngx_lfv_driver_run(u_char *mode, size_t mlen, u_char *p,
    size_t len);
static void ngx_lfv_driver_parse(u_char *p, size_t len, ngx_uint_t refuse);
static ngx_int_t ngx_lfv_driver_record(void *data,
    ngx_http_lfv_state_record_t *rec);
static ngx_uint_t ngx_lfv_driver_inside(ngx_lfv_driver_ctx_t *ctx,
    ngx_str_t *s);
static ngx_int_t ngx_lfv_driver_write(u_char *p, size_t len);
static ngx_int_t ngx_lfv_driver_fill(ngx_str_t *f, ngx_uint_t n,
    ngx_http_lfv_state_record_t *rec);
static ngx_int_t ngx_lfv_driver_signed(ngx_str_t *s, time_t *t);
static ngx_int_t ngx_lfv_driver_unsigned(ngx_str_t *s, uint64_t *v);


int
main(int argc, char *argv[])
{
    return ngx_lfv_unit_main(ngx_lfv_driver_run, NGX_LFV_DRIVER_INPUT_MAX);
}


static ngx_int_t
ngx_lfv_driver_run(u_char *mode, size_t mlen, u_char *p, size_t len)
{
    u_char     *input;
    ngx_int_t   rc;

    input = ngx_lfv_unit_copy(p, len);

    rc = NGX_OK;

    if (mlen == 5 && memcmp(mode, "parse", 5) == 0) {
        ngx_lfv_driver_parse(input, len, 0);

    } else if (mlen == 5 && memcmp(mode, "abort", 5) == 0) {
        ngx_lfv_driver_parse(input, len, 2);

    } else if (mlen == 5 && memcmp(mode, "write", 5) == 0) {
        rc = ngx_lfv_driver_write(input, len);

    } else if (mlen == 6 && memcmp(mode, "limits", 6) == 0) {
        printf("line_max %u\n", (unsigned) NGX_HTTP_LFV_STATE_LINE_MAX);

    } else {
        fprintf(stderr, "unknown mode\n");
        rc = NGX_ERROR;
    }

    free(input);

    return rc;
}


static void
ngx_lfv_driver_parse(u_char *p, size_t len, ngx_uint_t refuse)
{
    char                  *err, *err0;
    u_char                *copy;
    ngx_int_t              rc, rc0;
    ngx_uint_t             line, line0;
    ngx_lfv_driver_ctx_t   ctx;

    copy = ngx_lfv_unit_copy(p, len);

    /* garbage first: the parser must set both */

    err0 = (char *) -1;
    line0 = (ngx_uint_t) -1;

    rc0 = ngx_http_lfv_state_parse(p, len, NULL, NULL, &err0, &line0);

    ctx.start = p;
    ctx.last = p + len;
    ctx.seen = 0;
    ctx.refuse = refuse;

    err = (char *) -1;
    line = (ngx_uint_t) -1;

    rc = ngx_http_lfv_state_parse(p, len, ngx_lfv_driver_record, &ctx, &err,
                                  &line);

    if (len && memcmp(p, copy, len) != 0) {
        printf("BUFFER CHANGED\n");
    }

    free(copy);

    if (rc == NGX_OK) {

        if (rc0 != NGX_OK || err != NULL || line != 0 || err0 != NULL
            || line0 != 0)
        {
            printf("NULL HANDLER DIFFERS or err/line set on success\n");
        }

        printf("ok %u\n", (unsigned) ctx.seen);
        return;
    }

    if (rc == NGX_ABORT) {

        if (rc0 != NGX_OK || err == NULL || err == (char *) -1) {
            printf("NULL HANDLER DIFFERS or no err\n");
        }

        printf("abort: line %u: %s\n", (unsigned) line, err);
        return;
    }

    if (rc != NGX_ERROR) {
        printf("UNEXPECTED RC %d\n", (int) rc);
        return;
    }

    if (rc0 != rc || err0 != err || line0 != line) {
        printf("NULL HANDLER DIFFERS\n");
    }

    if (ctx.seen) {
        printf("HANDLER CALLED %u TIMES BEFORE THE ERROR\n",
               (unsigned) ctx.seen);
    }

    if (err == NULL || err == (char *) -1 || err[0] == '\0') {
        printf("error: NO MESSAGE\n");
        return;
    }

    if (line == 0) {
        printf("error: %s\n", err);

    } else {
        printf("error: line %u: %s\n", (unsigned) line, err);
    }
}


static ngx_int_t
ngx_lfv_driver_record(void *data, ngx_http_lfv_state_record_t *rec)
{
    ngx_lfv_driver_ctx_t  *ctx = data;

    ctx->seen++;

    if (rec->team.data != rec->team_data || rec->team.len == 0
        || rec->team.len > NGX_HTTP_LFV_STATE_TEAM_MAX)
    {
        printf("BAD TEAM\n");
    }

    if (rec->type == NGX_HTTP_LFV_STATE_TEAM) {

        if (rec->region.len || rec->region.data || rec->host.len
            || rec->host.data || rec->project.len || rec->project.data
            || rec->version.len || rec->version.data || rec->units
            || rec->started || rec->ends)
        {
            printf("LEASE FIELDS SET IN A TEAM\n");
        }

        printf("team ");
        ngx_lfv_driver_escaped(rec->team.data, rec->team.len);
        printf(" %lld %llu %llu %llu\n", (long long) rec->window,
               (unsigned long long) rec->used,
               (unsigned long long) rec->excess,
               (unsigned long long) rec->age);

    } else if (rec->type == NGX_HTTP_LFV_STATE_LEASE) {

        if (rec->window || rec->used || rec->excess || rec->age) {
            printf("TEAM FIELDS SET IN A LEASE\n");
        }

        if (!ngx_lfv_driver_inside(ctx, &rec->region)
            || !ngx_lfv_driver_inside(ctx, &rec->host)
            || !ngx_lfv_driver_inside(ctx, &rec->project)
            || !ngx_lfv_driver_inside(ctx, &rec->version))
        {
            printf("A STRING OUTSIDE THE INPUT\n");
        }

        printf("lease ");
        ngx_lfv_driver_escaped(rec->team.data, rec->team.len);
        putchar(' ');
        ngx_lfv_driver_escaped(rec->region.data, rec->region.len);
        putchar(' ');
        ngx_lfv_driver_escaped(rec->host.data, rec->host.len);
        putchar(' ');
        ngx_lfv_driver_escaped(rec->project.data, rec->project.len);
        putchar(' ');
        ngx_lfv_driver_escaped(rec->version.data, rec->version.len);
        printf(" %llu %lld %lld\n", (unsigned long long) rec->units,
               (long long) rec->started, (long long) rec->ends);

    } else {
        printf("UNKNOWN TYPE %d\n", (int) rec->type);
    }

    return (ctx->seen == ctx->refuse) ? NGX_ERROR : NGX_OK;
}


static ngx_uint_t
ngx_lfv_driver_inside(ngx_lfv_driver_ctx_t *ctx, ngx_str_t *s)
{
    return s->len > 0 && s->data >= ctx->start
           && s->data + s->len <= ctx->last;
}


static ngx_int_t
ngx_lfv_driver_write(u_char *p, size_t len)
{
    u_char                       *buf, *q, *r, *last, *nl;
    size_t                        lines, i;
    uint64_t                      end;
    ngx_str_t                     f[10];
    ngx_uint_t                    n, lineno, count, end_given;
    ngx_http_lfv_state_record_t   rec;

    for (lines = 1, i = 0; i < len; i++) {
        if (p[i] == '\n') {
            lines++;
        }
    }

    buf = malloc((lines + 2) * NGX_HTTP_LFV_STATE_LINE_MAX);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    q = ngx_http_lfv_state_write_header(buf);

    if ((size_t) (q - buf) > NGX_HTTP_LFV_STATE_LINE_MAX) {
        printf("LINE TOO LONG\n");
    }

    count = 0;
    end = 0;
    end_given = 0;
    last = p + len;

    for (lineno = 1; p < last; lineno++, p = nl + 1) {
        nl = memchr(p, '\n', last - p);
        if (nl == NULL) {
            nl = last;
        }

        n = ngx_lfv_unit_split(p, nl - p, f, 10);

        if (f[0].len == 3 && memcmp(f[0].data, "end", 3) == 0) {

            if (n != 2 || ngx_lfv_driver_unsigned(&f[1], &end) != NGX_OK) {
                goto bad;
            }

            end_given = 1;
            continue;
        }

        if (ngx_lfv_driver_fill(f, n, &rec) != NGX_OK) {
            goto bad;
        }

        r = ngx_http_lfv_state_write_record(q, &rec);

        if (r == q) {
            printf("refused %u\n", (unsigned) lineno);
            continue;
        }

        if ((size_t) (r - q) > NGX_HTTP_LFV_STATE_LINE_MAX) {
            printf("LINE TOO LONG\n");
        }

        count++;
        q = r;
    }

    r = ngx_http_lfv_state_write_end(q, buf,
                                     end_given ? (ngx_uint_t) end : count);

    if (r == q) {
        printf("refused end\n");
    }

    if ((size_t) (r - q) > NGX_HTTP_LFV_STATE_LINE_MAX) {
        printf("LINE TOO LONG\n");
    }

    fwrite(buf, 1, r - buf, stdout);
    printf("done\n");

    free(buf);

    return NGX_OK;

bad:

    fprintf(stderr, "bad write input on line %u\n", (unsigned) lineno);
    free(buf);

    return NGX_ERROR;
}


static ngx_int_t
ngx_lfv_driver_fill(ngx_str_t *f, ngx_uint_t n,
    ngx_http_lfv_state_record_t *rec)
{
    ngx_uint_t  i;

    ngx_memzero(rec, sizeof(ngx_http_lfv_state_record_t));

    if (f[0].len == 5 && memcmp(f[0].data, "lease", 5) == 0) {
        rec->type = NGX_HTTP_LFV_STATE_LEASE;

        if (n != 9) {
            return NGX_ERROR;
        }

        for (i = 1; i < 6; i++) {
            if (ngx_lfv_unit_unhex(&f[i]) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        rec->team = f[1];
        rec->region = f[2];
        rec->host = f[3];
        rec->project = f[4];
        rec->version = f[5];

        if (ngx_lfv_driver_unsigned(&f[6], &rec->units) != NGX_OK
            || ngx_lfv_driver_signed(&f[7], &rec->started) != NGX_OK
            || ngx_lfv_driver_signed(&f[8], &rec->ends) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (f[0].len == 4 && memcmp(f[0].data, "team", 4) == 0) {
        rec->type = NGX_HTTP_LFV_STATE_TEAM;

    } else if (f[0].len == 5 && memcmp(f[0].data, "other", 5) == 0) {
        rec->type = 0;

    } else {
        return NGX_ERROR;
    }

    if (n != 6 || ngx_lfv_unit_unhex(&f[1]) != NGX_OK) {
        return NGX_ERROR;
    }

    rec->team = f[1];

    if (ngx_lfv_driver_signed(&f[2], &rec->window) != NGX_OK
        || ngx_lfv_driver_unsigned(&f[3], &rec->used) != NGX_OK
        || ngx_lfv_driver_unsigned(&f[4], &rec->excess) != NGX_OK
        || ngx_lfv_driver_unsigned(&f[5], &rec->age) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_lfv_driver_signed(ngx_str_t *s, time_t *t)
{
    char       buf[32], *end;
    long long  v;

    if (s->len == 0 || s->len >= sizeof(buf)) {
        return NGX_ERROR;
    }

    memcpy(buf, s->data, s->len);
    buf[s->len] = '\0';

    errno = 0;
    v = strtoll(buf, &end, 10);

    if (errno || *end != '\0') {
        return NGX_ERROR;
    }

    *t = (time_t) v;

    return NGX_OK;
}


static ngx_int_t
ngx_lfv_driver_unsigned(ngx_str_t *s, uint64_t *v)
{
    char                buf[32], *end;
    unsigned long long  u;

    if (s->len == 0 || s->len >= sizeof(buf) || s->data[0] == '-') {
        return NGX_ERROR;
    }

    memcpy(buf, s->data, s->len);
    buf[s->len] = '\0';

    errno = 0;
    u = strtoull(buf, &end, 10);

    if (errno || *end != '\0') {
        return NGX_ERROR;
    }

    *v = (uint64_t) u;

    return NGX_OK;
}

