
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_state_parse() and the state writer
 * (ngx_http_lfv_state_doc.c).
 *
 * An accepted document is the writer's own: the records the handler
 * gets, written again by the writer between a header and an end line,
 * give the same bytes (the format has one encoding of each state), and
 * that document parsed again gives the same records.  Each record keeps
 * the format's rules, checked here on their own (not with the parser's
 * code), and a handler that refuses the k-th record stops the parse
 * there with NGX_ABORT and its line.  A refused document comes with a
 * message and a line within the document, and its handler was never
 * called.
 *
 * So that a mutation is not only a CRC broken, an input that ends with
 * an LF is also parsed with an end line of its own: its lines but the
 * first counted, its CRC computed.
 *
 * The same bytes are also read as one record for the writer, fields
 * separated by tabs ("team" or "lease", the team's and the strings'
 * raw bytes, signed decimal numbers): the writer refuses it exactly
 * when a rule here is broken, and what it writes parses back to it.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_state_doc.h"
#include "ngx_lfv_unit.h"


typedef struct {
    ngx_http_lfv_state_record_t  *recs;
    ngx_uint_t                    n;
    ngx_uint_t                    max;
    ngx_uint_t                    compare;  /* to recs, not into them */
    ngx_uint_t                    refuse;   /* 0: none */
    u_char                       *pos;      /* the writer's, or NULL */
} ngx_lfv_fuzz_ctx_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_document(u_char *p, size_t size);
static void ngx_lfv_fuzz_writer(u_char *p, size_t size);
static ngx_int_t ngx_lfv_fuzz_record(void *data,
    ngx_http_lfv_state_record_t *rec);
static ngx_uint_t ngx_lfv_fuzz_same(ngx_http_lfv_state_record_t *a,
    ngx_http_lfv_state_record_t *b);
static ngx_uint_t ngx_lfv_fuzz_same_str(ngx_str_t *a, ngx_str_t *b);
static ngx_uint_t ngx_lfv_fuzz_valid(ngx_http_lfv_state_record_t *rec);
static ngx_uint_t ngx_lfv_fuzz_chars(ngx_str_t *s, size_t max,
    const char *set);
static ngx_uint_t ngx_lfv_fuzz_time(time_t t);
static int64_t ngx_lfv_fuzz_signed(ngx_str_t *s);
static uint64_t ngx_lfv_fuzz_unsigned(ngx_str_t *s);


#define NGX_LFV_FUZZ_DIGITS  "0123456789"
#define NGX_LFV_FUZZ_LOWER   "abcdefghijklmnopqrstuvwxyz"
#define NGX_LFV_FUZZ_ALNUM   NGX_LFV_FUZZ_DIGITS NGX_LFV_FUZZ_LOWER          \
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *p, *q, *end;
    size_t       i;
    ngx_uint_t   lines;

    p = ngx_lfv_unit_copy(data, size);

    ngx_lfv_fuzz_document(p, size);
    ngx_lfv_fuzz_writer(p, size);

    free(p);

    if (size == 0 || data[size - 1] != '\n') {
        return 0;
    }

    for (lines = 0, i = 0; i < size; i++) {
        if (data[i] == '\n') {
            lines++;
        }
    }

    p = malloc(size + sizeof("end  \n") + NGX_INT_T_LEN + 8);
    if (p == NULL) {
        abort();
    }

    ngx_memcpy(p, data, size);
    end = ngx_sprintf(p + size, "end %ui %08xD\n", lines - 1,
                      ngx_crc32_long(p, size));

    q = ngx_lfv_unit_copy(p, end - p);

    ngx_lfv_fuzz_document(q, end - p);

    free(q);
    free(p);

    return 0;
}


static void
ngx_lfv_fuzz_document(u_char *p, size_t size)
{
    char                *err;
    u_char              *out, *end;
    size_t               i, lines;
    ngx_int_t            rc;
    ngx_uint_t           line;
    ngx_lfv_fuzz_ctx_t   ctx;

    for (lines = 1, i = 0; i < size; i++) {
        if (p[i] == '\n') {
            lines++;
        }
    }

    ctx.max = lines;
    ctx.recs = malloc(lines * sizeof(ngx_http_lfv_state_record_t));
    out = malloc((lines + 2) * NGX_HTTP_LFV_STATE_LINE_MAX);

    if (ctx.recs == NULL || out == NULL) {
        abort();
    }

    ctx.n = 0;
    ctx.compare = 0;
    ctx.refuse = 0;
    ctx.pos = ngx_http_lfv_state_write_header(out);

    err = NULL;
    line = (ngx_uint_t) -1;

    rc = ngx_http_lfv_state_parse(p, size, ngx_lfv_fuzz_record, &ctx, &err,
                                  &line);

    if (rc == NGX_ERROR) {

        if (err == NULL || err[0] == '\0' || line > lines || ctx.n != 0) {
            abort();
        }

        goto done;
    }

    if (rc != NGX_OK || err != NULL || line != 0) {
        abort();
    }

    /* the writer gives the same document */

    end = ngx_http_lfv_state_write_end(ctx.pos, out, ctx.n);

    if (end == ctx.pos
        || (size_t) (end - out) != size
        || ngx_memcmp(out, p, size) != 0)
    {
        abort();
    }

    /* the same records, parsed from the writer's document */

    ctx.compare = ctx.n;
    ctx.n = 0;
    ctx.pos = NULL;

    rc = ngx_http_lfv_state_parse(out, end - out, ngx_lfv_fuzz_record, &ctx,
                                  &err, &line);

    if (rc != NGX_OK || ctx.n != ctx.compare) {
        abort();
    }

    /* a handler that refuses the k-th record: records are lines 2.. */

    if (ctx.compare) {
        ctx.refuse = 1 + size % ctx.compare;
        ctx.n = 0;

        rc = ngx_http_lfv_state_parse(p, size, ngx_lfv_fuzz_record, &ctx,
                                      &err, &line);

        if (rc != NGX_ABORT || ctx.n != ctx.refuse
            || line != ctx.refuse + 1 || err == NULL)
        {
            abort();
        }
    }

    /* without a handler: the same answer */

    if (ngx_http_lfv_state_parse(p, size, NULL, NULL, &err, &line)
        != NGX_OK)
    {
        abort();
    }

done:

    free(ctx.recs);
    free(out);
}


static void
ngx_lfv_fuzz_writer(u_char *p, size_t size)
{
    char                         *err;
    u_char                       *buf, *q, *r, *end;
    ngx_str_t                     f[10];
    ngx_int_t                     rc;
    ngx_uint_t                    n, line;
    ngx_lfv_fuzz_ctx_t            ctx;
    ngx_http_lfv_state_record_t   rec;

    n = ngx_lfv_unit_split(p, size, f, 10);

    ngx_memzero(&rec, sizeof(ngx_http_lfv_state_record_t));

    if (n == 9 && f[0].len == 5 && ngx_strncmp(f[0].data, "lease", 5) == 0)
    {
        rec.type = NGX_HTTP_LFV_STATE_LEASE;
        rec.team = f[1];
        rec.region = f[2];
        rec.host = f[3];
        rec.project = f[4];
        rec.version = f[5];
        rec.units = ngx_lfv_fuzz_unsigned(&f[6]);
        rec.started = (time_t) ngx_lfv_fuzz_signed(&f[7]);
        rec.ends = (time_t) ngx_lfv_fuzz_signed(&f[8]);

    } else if (n == 6) {
        rec.type = (f[0].len == 4 && ngx_strncmp(f[0].data, "team", 4) == 0)
                   ? NGX_HTTP_LFV_STATE_TEAM : f[0].len % 4;
        rec.team = f[1];
        rec.window = (time_t) ngx_lfv_fuzz_signed(&f[2]);
        rec.used = ngx_lfv_fuzz_unsigned(&f[3]);
        rec.excess = ngx_lfv_fuzz_unsigned(&f[4]);
        rec.age = ngx_lfv_fuzz_unsigned(&f[5]);

    } else {
        return;
    }

    buf = malloc(3 * NGX_HTTP_LFV_STATE_LINE_MAX);
    if (buf == NULL) {
        abort();
    }

    q = ngx_http_lfv_state_write_header(buf);
    r = ngx_http_lfv_state_write_record(q, &rec);

    if (r == q) {
        if (ngx_lfv_fuzz_valid(&rec)) {
            abort();
        }

        free(buf);
        return;
    }

    if (!ngx_lfv_fuzz_valid(&rec)
        || (size_t) (r - q) > NGX_HTTP_LFV_STATE_LINE_MAX)
    {
        abort();
    }

    end = ngx_http_lfv_state_write_end(r, buf, 1);

    if (end == r || (size_t) (end - r) > NGX_HTTP_LFV_STATE_LINE_MAX) {
        abort();
    }

    ctx.recs = &rec;
    ctx.n = 0;
    ctx.max = 1;
    ctx.compare = 1;
    ctx.refuse = 0;
    ctx.pos = NULL;

    rc = ngx_http_lfv_state_parse(buf, end - buf, ngx_lfv_fuzz_record, &ctx,
                                  &err, &line);

    if (rc != NGX_OK || ctx.n != 1) {
        abort();
    }

    free(buf);
}


static ngx_int_t
ngx_lfv_fuzz_record(void *data, ngx_http_lfv_state_record_t *rec)
{
    u_char              *q;
    ngx_lfv_fuzz_ctx_t  *ctx = data;

    if (ctx->n == ctx->max || !ngx_lfv_fuzz_valid(rec)
        || rec->team.data != rec->team_data)
    {
        abort();
    }

    if (ctx->compare) {
        if (!ngx_lfv_fuzz_same(&ctx->recs[ctx->n], rec)) {
            abort();
        }

    } else {
        ctx->recs[ctx->n] = *rec;
        ctx->recs[ctx->n].team.data = ctx->recs[ctx->n].team_data;
    }

    ctx->n++;

    if (ctx->pos) {
        q = ngx_http_lfv_state_write_record(ctx->pos, rec);

        if (q == ctx->pos
            || (size_t) (q - ctx->pos) > NGX_HTTP_LFV_STATE_LINE_MAX)
        {
            abort();
        }

        ctx->pos = q;
    }

    return (ctx->n == ctx->refuse) ? NGX_ERROR : NGX_OK;
}


static ngx_uint_t
ngx_lfv_fuzz_same(ngx_http_lfv_state_record_t *a,
    ngx_http_lfv_state_record_t *b)
{
    if (a->type != b->type || !ngx_lfv_fuzz_same_str(&a->team, &b->team)) {
        return 0;
    }

    if (a->type == NGX_HTTP_LFV_STATE_TEAM) {
        return a->window == b->window && a->used == b->used
               && a->excess == b->excess && a->age == b->age;
    }

    return ngx_lfv_fuzz_same_str(&a->region, &b->region)
           && ngx_lfv_fuzz_same_str(&a->host, &b->host)
           && ngx_lfv_fuzz_same_str(&a->project, &b->project)
           && ngx_lfv_fuzz_same_str(&a->version, &b->version)
           && a->units == b->units && a->started == b->started
           && a->ends == b->ends;
}


static ngx_uint_t
ngx_lfv_fuzz_same_str(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && ngx_memcmp(a->data, b->data, a->len) == 0;
}


/* the format's rules on a record, written apart from the parser's */

static ngx_uint_t
ngx_lfv_fuzz_valid(ngx_http_lfv_state_record_t *rec)
{
    if (rec->team.len < 1 || rec->team.len > 128) {
        return 0;
    }

    if (rec->type == NGX_HTTP_LFV_STATE_TEAM) {
        return ngx_lfv_fuzz_time(rec->window)
               && rec->used <= (uint64_t) 1 << 40
               && rec->excess <= (uint64_t) 1 << 40
               && rec->age <= (uint64_t) 1 << 40;
    }

    if (rec->type != NGX_HTTP_LFV_STATE_LEASE) {
        return 0;
    }

    if (!ngx_lfv_fuzz_chars(&rec->region, 63, NGX_LFV_FUZZ_LOWER
                            NGX_LFV_FUZZ_DIGITS "-")
        || !ngx_lfv_fuzz_chars(&rec->host, 255, NGX_LFV_FUZZ_ALNUM ".:-")
        || !ngx_lfv_fuzz_chars(&rec->project, 255, NGX_LFV_FUZZ_ALNUM "_-")
        || !ngx_lfv_fuzz_chars(&rec->version, 10, NGX_LFV_FUZZ_DIGITS))
    {
        return 0;
    }

    if (rec->project.data[0] == '_' || rec->project.data[0] == '-'
        || rec->version.data[0] == '0')
    {
        return 0;
    }

    if (rec->units < 1 || rec->units > 2147483647) {
        return 0;
    }

    if (!ngx_lfv_fuzz_time(rec->started) || !ngx_lfv_fuzz_time(rec->ends)) {
        return 0;
    }

    return rec->ends == 0 || rec->ends >= rec->started;
}


static ngx_uint_t
ngx_lfv_fuzz_chars(ngx_str_t *s, size_t max, const char *set)
{
    size_t  i;

    if (s->len < 1 || s->len > max) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '\0' || strchr(set, s->data[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_lfv_fuzz_time(time_t t)
{
    return t >= 0 && (uint64_t) t <= (uint64_t) 1 << 40;
}


/* decimal with an optional "-", saturated; other bytes are skipped */

static int64_t
ngx_lfv_fuzz_signed(ngx_str_t *s)
{
    size_t    i;
    uint64_t  v;

    v = ngx_lfv_fuzz_unsigned(s);

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '-') {
            return (v > (uint64_t) INT64_MAX) ? INT64_MIN : -(int64_t) v;
        }
    }

    return (v > (uint64_t) INT64_MAX) ? INT64_MAX : (int64_t) v;
}


static uint64_t
ngx_lfv_fuzz_unsigned(ngx_str_t *s)
{
    size_t    i;
    uint64_t  v, d;

    v = 0;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9') {
            continue;
        }

        d = s->data[i] - '0';

        if (v > (UINT64_MAX - d) / 10) {
            return UINT64_MAX;
        }

        v = v * 10 + d;
    }

    return v;
}
