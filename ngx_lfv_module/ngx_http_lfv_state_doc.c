
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_state_doc.h"


/* the most fields of a line (a lease), and one more to see too many */
#define NGX_HTTP_LFV_STATE_FIELDS      9

#define NGX_HTTP_LFV_STATE_UNITS_MAX   2147483647

#define NGX_HTTP_LFV_STATE_CRC_LEN     8


static ngx_int_t ngx_http_lfv_state_scan(u_char *buf, size_t len,
    ngx_http_lfv_state_handler_pt handler, void *data, char **err,
    ngx_uint_t *line);
static char *ngx_http_lfv_state_header(ngx_str_t *f, ngx_uint_t n);
static char *ngx_http_lfv_state_end(ngx_str_t *f, ngx_uint_t n,
    ngx_uint_t count, uint32_t crc);
static char *ngx_http_lfv_state_split(u_char *p, u_char *last,
    ngx_str_t *f, ngx_uint_t *n);
static char *ngx_http_lfv_state_record(ngx_str_t *f, ngx_uint_t n,
    ngx_http_lfv_state_record_t *rec);
static char *ngx_http_lfv_state_fields(ngx_uint_t n, ngx_uint_t want);
static char *ngx_http_lfv_state_number(ngx_str_t *s, uint64_t *value);
static char *ngx_http_lfv_state_time(ngx_str_t *s, time_t *t);
static char *ngx_http_lfv_state_team(ngx_str_t *s,
    ngx_http_lfv_state_record_t *rec);
static ngx_uint_t ngx_http_lfv_state_unreserved(u_char c);
static ngx_int_t ngx_http_lfv_state_hex(u_char c);
static char *ngx_http_lfv_state_check(ngx_http_lfv_state_record_t *rec);
static char *ngx_http_lfv_state_check_lease(
    ngx_http_lfv_state_record_t *rec);
static char *ngx_http_lfv_state_check_values(
    ngx_http_lfv_state_record_t *rec);
static char *ngx_http_lfv_state_check_region(ngx_str_t *s);
static char *ngx_http_lfv_state_check_host(ngx_str_t *s);
static char *ngx_http_lfv_state_check_project(ngx_str_t *s);
static char *ngx_http_lfv_state_check_version(ngx_str_t *s);
static ngx_uint_t ngx_http_lfv_state_is(ngx_str_t *s, char *word);


#define ngx_http_lfv_state_digit(c)  ((c) >= '0' && (c) <= '9')
#define ngx_http_lfv_state_lower(c)  ((c) >= 'a' && (c) <= 'z')
#define ngx_http_lfv_state_upper(c)  ((c) >= 'A' && (c) <= 'Z')
#define ngx_http_lfv_state_alnum(c)                                          \
    (ngx_http_lfv_state_digit(c) || ngx_http_lfv_state_lower(c)              \
     || ngx_http_lfv_state_upper(c))


/*
 * Two passes over the same code: the first checks the whole document
 * and calls nobody, the second, once it is known to be valid, calls the
 * handler for each record.
 */

ngx_int_t
ngx_http_lfv_state_parse(u_char *buf, size_t len,
    ngx_http_lfv_state_handler_pt handler, void *data, char **err,
    ngx_uint_t *line)
{
    ngx_int_t  rc;

    *err = NULL;
    *line = 0;

    rc = ngx_http_lfv_state_scan(buf, len, NULL, NULL, err, line);

    if (rc != NGX_OK || handler == NULL) {
        return rc;
    }

    return ngx_http_lfv_state_scan(buf, len, handler, data, err, line);
}


static ngx_int_t
ngx_http_lfv_state_scan(u_char *buf, size_t len,
    ngx_http_lfv_state_handler_pt handler, void *data, char **err,
    ngx_uint_t *line)
{
    char                         *e;
    u_char                       *p, *last, *nl;
    ngx_str_t                     f[NGX_HTTP_LFV_STATE_FIELDS + 1];
    ngx_uint_t                    n, lineno, count;
    ngx_http_lfv_state_record_t   rec;

    p = buf;
    last = buf + len;
    count = 0;

    for (lineno = 1; /* void */; lineno++) {

        if (p == last) {
            *err = (lineno == 1) ? "the document is empty"
                                 : "no end line (truncated)";
            *line = 0;
            return NGX_ERROR;
        }

        *line = lineno;

        nl = ngx_strlchr(p, last, LF);

        if (nl == NULL) {
            *err = "the last line has no LF (truncated)";
            return NGX_ERROR;
        }

        e = ngx_http_lfv_state_split(p, nl, f, &n);
        if (e != NULL) {
            goto failed;
        }

        if (lineno == 1) {
            e = ngx_http_lfv_state_header(f, n);
            if (e != NULL) {
                goto failed;
            }

        } else if (ngx_http_lfv_state_is(&f[0], "team")
                   || ngx_http_lfv_state_is(&f[0], "lease"))
        {
            e = ngx_http_lfv_state_record(f, n, &rec);
            if (e != NULL) {
                goto failed;
            }

            count++;

            if (handler && handler(data, &rec) != NGX_OK) {
                *err = "the record was refused";
                return NGX_ABORT;
            }

        } else if (ngx_http_lfv_state_is(&f[0], "end")) {
            e = ngx_http_lfv_state_end(f, n, count,
                                       ngx_crc32_long(buf, p - buf));
            if (e != NULL) {
                goto failed;
            }

            if (nl + 1 != last) {
                *err = "data after the end line";
                *line = lineno + 1;
                return NGX_ERROR;
            }

            *line = 0;

            return NGX_OK;

        } else if (ngx_http_lfv_state_is(&f[0], "lfv-state")) {
            e = "a second header";
            goto failed;

        } else {
            e = "an unknown record type";
            goto failed;
        }

        p = nl + 1;
    }

failed:

    *err = e;

    return NGX_ERROR;
}


static char *
ngx_http_lfv_state_header(ngx_str_t *f, ngx_uint_t n)
{
    char      *e;
    uint64_t   version;

    if (!ngx_http_lfv_state_is(&f[0], "lfv-state")) {
        return "no \"lfv-state\" header";
    }

    e = ngx_http_lfv_state_fields(n, 2);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_number(&f[1], &version);
    if (e != NULL) {
        return e;
    }

    if (version != NGX_HTTP_LFV_STATE_VERSION) {
        return "unsupported version of the state file";
    }

    return NULL;
}


static char *
ngx_http_lfv_state_end(ngx_str_t *f, ngx_uint_t n, ngx_uint_t count,
    uint32_t crc)
{
    char       *e;
    size_t      i;
    uint32_t    v;
    uint64_t    records;
    ngx_int_t   d;

    e = ngx_http_lfv_state_fields(n, 3);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_number(&f[1], &records);
    if (e != NULL) {
        return e;
    }

    if (f[2].len != NGX_HTTP_LFV_STATE_CRC_LEN) {
        return "the CRC is not 8 lower-case hex digits";
    }

    v = 0;

    for (i = 0; i < NGX_HTTP_LFV_STATE_CRC_LEN; i++) {

        if (ngx_http_lfv_state_digit(f[2].data[i])) {
            d = f[2].data[i] - '0';

        } else if (f[2].data[i] >= 'a' && f[2].data[i] <= 'f') {
            d = f[2].data[i] - 'a' + 10;

        } else {
            return "the CRC is not 8 lower-case hex digits";
        }

        v = (v << 4) | (uint32_t) d;
    }

    if (records != (uint64_t) count) {
        return "the record count does not match";
    }

    if (v != crc) {
        return "the CRC does not match";
    }

    return NULL;
}


/*
 * A line without its LF, into fields separated by exactly one space;
 * a line of more than NGX_HTTP_LFV_STATE_FIELDS fields gives one more
 * (the rest of the line), enough to be refused.
 */

static char *
ngx_http_lfv_state_split(u_char *p, u_char *last, ngx_str_t *f,
    ngx_uint_t *n)
{
    u_char      *s;
    ngx_uint_t   i;

    if (p == last) {
        return "an empty line";
    }

    if (ngx_strlchr(p, last, CR) != NULL) {
        return "a CR in a line (lines end with LF alone)";
    }

    if (*p == ' ') {
        return "a line starts with a space";
    }

    if (last[-1] == ' ') {
        return "a line ends with a space";
    }

    for (i = 0; i < NGX_HTTP_LFV_STATE_FIELDS; i++) {
        s = p;

        while (p < last && *p != ' ') {
            p++;
        }

        f[i].data = s;
        f[i].len = p - s;

        if (p == last) {
            *n = i + 1;
            return NULL;
        }

        /* not the last byte: the line does not end with a space */

        p++;

        if (*p == ' ') {
            return "two spaces between fields";
        }
    }

    f[i].data = p;
    f[i].len = last - p;

    *n = i + 1;

    return NULL;
}


static char *
ngx_http_lfv_state_record(ngx_str_t *f, ngx_uint_t n,
    ngx_http_lfv_state_record_t *rec)
{
    char  *e;

    ngx_memzero(rec, sizeof(ngx_http_lfv_state_record_t));

    if (ngx_http_lfv_state_is(&f[0], "team")) {
        rec->type = NGX_HTTP_LFV_STATE_TEAM;

        e = ngx_http_lfv_state_fields(n, 6);
        if (e != NULL) {
            return e;
        }

        e = ngx_http_lfv_state_team(&f[1], rec);
        if (e != NULL) {
            return e;
        }

        e = ngx_http_lfv_state_time(&f[2], &rec->window);
        if (e != NULL) {
            return e;
        }

        e = ngx_http_lfv_state_number(&f[3], &rec->used);
        if (e != NULL) {
            return e;
        }

        e = ngx_http_lfv_state_number(&f[4], &rec->excess);
        if (e != NULL) {
            return e;
        }

        return ngx_http_lfv_state_number(&f[5], &rec->age);
    }

    rec->type = NGX_HTTP_LFV_STATE_LEASE;

    e = ngx_http_lfv_state_fields(n, 9);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_team(&f[1], rec);
    if (e != NULL) {
        return e;
    }

    rec->region = f[2];
    rec->host = f[3];
    rec->project = f[4];
    rec->version = f[5];

    e = ngx_http_lfv_state_check_region(&rec->region);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_check_host(&rec->host);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_check_project(&rec->project);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_check_version(&rec->version);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_number(&f[6], &rec->units);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_time(&f[7], &rec->started);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_time(&f[8], &rec->ends);
    if (e != NULL) {
        return e;
    }

    return ngx_http_lfv_state_check_values(rec);
}


static char *
ngx_http_lfv_state_fields(ngx_uint_t n, ngx_uint_t want)
{
    if (n < want) {
        return "too few fields";
    }

    if (n > want) {
        return "too many fields";
    }

    return NULL;
}


/* decimal, no leading zero, at most NUMBER_MAX: no overflow on the way */

static char *
ngx_http_lfv_state_number(ngx_str_t *s, uint64_t *value)
{
    size_t    i;
    uint64_t  v;

    if (s->len == 0) {
        return "a number is empty";
    }

    for (i = 0; i < s->len; i++) {
        if (!ngx_http_lfv_state_digit(s->data[i])) {
            return "a number has a byte other than 0-9";
        }
    }

    if (s->len > 1 && s->data[0] == '0') {
        return "a number has a leading zero";
    }

    v = 0;

    for (i = 0; i < s->len; i++) {
        v = v * 10 + (s->data[i] - '0');

        if (v > NGX_HTTP_LFV_STATE_NUMBER_MAX) {
            return "a number is too large";
        }
    }

    *value = v;

    return NULL;
}


static char *
ngx_http_lfv_state_time(ngx_str_t *s, time_t *t)
{
    char      *e;
    uint64_t   v;

    e = ngx_http_lfv_state_number(s, &v);
    if (e != NULL) {
        return e;
    }

#if (NGX_TIME_T_SIZE < 8)

    if (v > (uint64_t) NGX_MAX_TIME_T_VALUE) {
        return "a time is too large for time_t";
    }

#endif

    *t = (time_t) v;

    return NULL;
}


/* %XX decoded into rec->team_data; one encoding of each name only */

static char *
ngx_http_lfv_state_team(ngx_str_t *s, ngx_http_lfv_state_record_t *rec)
{
    u_char     c, *p, *last;
    size_t     n;
    ngx_int_t  hi, lo;

    p = s->data;
    last = p + s->len;
    n = 0;

    while (p < last) {
        c = *p++;

        if (c == '%') {

            if (last - p < 2) {
                return "a team name has a truncated %XX";
            }

            hi = ngx_http_lfv_state_hex(p[0]);
            lo = ngx_http_lfv_state_hex(p[1]);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {

                if ((p[0] >= 'a' && p[0] <= 'f')
                    || (p[1] >= 'a' && p[1] <= 'f'))
                {
                    return "a team name has lower-case hex in a %XX";
                }

                return "a team name has a %XX that is not hex";
            }

            c = (u_char) (hi * 16 + lo);
            p += 2;

            if (ngx_http_lfv_state_unreserved(c)) {
                return "a team name has a byte encoded that must not be";
            }

        } else if (!ngx_http_lfv_state_unreserved(c)) {
            return "a team name has a byte not encoded that must be";
        }

        if (n == NGX_HTTP_LFV_STATE_TEAM_MAX) {
            return "a team name is longer than 128 bytes";
        }

        rec->team_data[n++] = c;
    }

    if (n == 0) {
        return "a team name is empty";
    }

    rec->team.data = rec->team_data;
    rec->team.len = n;

    return NULL;
}


static ngx_uint_t
ngx_http_lfv_state_unreserved(u_char c)
{
    return ngx_http_lfv_state_alnum(c)
           || c == '.' || c == '_' || c == '~' || c == '-';
}


/* an upper-case hex digit */

static ngx_int_t
ngx_http_lfv_state_hex(u_char c)
{
    if (ngx_http_lfv_state_digit(c)) {
        return c - '0';
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return NGX_ERROR;
}


/*
 * The writer's check of a record: what the parser checks on a line,
 * on the record's values (the checks of the strings and of a lease's
 * values are the parser's own).
 */

static char *
ngx_http_lfv_state_check(ngx_http_lfv_state_record_t *rec)
{
    if (rec->type != NGX_HTTP_LFV_STATE_TEAM
        && rec->type != NGX_HTTP_LFV_STATE_LEASE)
    {
        return "an unknown record type";
    }

    if (rec->team.len == 0 || rec->team.data == NULL) {
        return "a team name is empty";
    }

    if (rec->team.len > NGX_HTTP_LFV_STATE_TEAM_MAX) {
        return "a team name is longer than 128 bytes";
    }

    if (rec->type == NGX_HTTP_LFV_STATE_TEAM) {

        if (rec->window < 0
            || (uint64_t) rec->window > NGX_HTTP_LFV_STATE_NUMBER_MAX
            || rec->used > NGX_HTTP_LFV_STATE_NUMBER_MAX
            || rec->excess > NGX_HTTP_LFV_STATE_NUMBER_MAX
            || rec->age > NGX_HTTP_LFV_STATE_NUMBER_MAX)
        {
            return "a number is too large";
        }

        return NULL;
    }

    if (rec->units > NGX_HTTP_LFV_STATE_NUMBER_MAX
        || rec->started < 0
        || (uint64_t) rec->started > NGX_HTTP_LFV_STATE_NUMBER_MAX
        || rec->ends < 0
        || (uint64_t) rec->ends > NGX_HTTP_LFV_STATE_NUMBER_MAX)
    {
        return "a number is too large";
    }

    return ngx_http_lfv_state_check_lease(rec);
}


static char *
ngx_http_lfv_state_check_lease(ngx_http_lfv_state_record_t *rec)
{
    char  *e;

    e = ngx_http_lfv_state_check_region(&rec->region);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_check_host(&rec->host);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_check_project(&rec->project);
    if (e != NULL) {
        return e;
    }

    e = ngx_http_lfv_state_check_version(&rec->version);
    if (e != NULL) {
        return e;
    }

    return ngx_http_lfv_state_check_values(rec);
}


/* a lease's units and times, once each is a number of the format */

static char *
ngx_http_lfv_state_check_values(ngx_http_lfv_state_record_t *rec)
{
    if (rec->units == 0 || rec->units > NGX_HTTP_LFV_STATE_UNITS_MAX) {
        return "the units are out of 1..2147483647";
    }

    if (rec->ends != 0 && rec->ends < rec->started) {
        return "the lease ends before it starts";
    }

    return NULL;
}


static char *
ngx_http_lfv_state_check_region(ngx_str_t *s)
{
    size_t  i;

    if (s->len == 0 || s->data == NULL) {
        return "a region is empty";
    }

    if (s->len > NGX_HTTP_LFV_STATE_REGION_MAX) {
        return "a region is longer than 63 bytes";
    }

    for (i = 0; i < s->len; i++) {
        if (!ngx_http_lfv_state_lower(s->data[i])
            && !ngx_http_lfv_state_digit(s->data[i])
            && s->data[i] != '-')
        {
            return "a region has a byte out of [a-z0-9-]";
        }
    }

    return NULL;
}


static char *
ngx_http_lfv_state_check_host(ngx_str_t *s)
{
    size_t  i;

    if (s->len == 0 || s->data == NULL) {
        return "a host is empty";
    }

    if (s->len > NGX_HTTP_LFV_STATE_HOST_MAX) {
        return "a host is longer than 255 bytes";
    }

    for (i = 0; i < s->len; i++) {
        if (!ngx_http_lfv_state_alnum(s->data[i])
            && s->data[i] != '.' && s->data[i] != ':' && s->data[i] != '-')
        {
            return "a host has a byte out of [A-Za-z0-9.:-]";
        }
    }

    return NULL;
}


static char *
ngx_http_lfv_state_check_project(ngx_str_t *s)
{
    size_t  i;

    if (s->len == 0 || s->data == NULL) {
        return "a project name is empty";
    }

    if (s->len > NGX_HTTP_LFV_STATE_PROJECT_MAX) {
        return "a project name is longer than 255 bytes";
    }

    if (!ngx_http_lfv_state_alnum(s->data[0])) {
        return "a project name does not start with a letter or digit";
    }

    for (i = 1; i < s->len; i++) {
        if (!ngx_http_lfv_state_alnum(s->data[i])
            && s->data[i] != '_' && s->data[i] != '-')
        {
            return "a project name has a byte out of [a-zA-Z0-9_-]";
        }
    }

    return NULL;
}


static char *
ngx_http_lfv_state_check_version(ngx_str_t *s)
{
    size_t  i;

    if (s->len == 0 || s->data == NULL) {
        return "a model version is empty";
    }

    if (s->len > NGX_HTTP_LFV_STATE_VERSION_MAX) {
        return "a model version is longer than 10 digits";
    }

    for (i = 0; i < s->len; i++) {
        if (!ngx_http_lfv_state_digit(s->data[i])) {
            return "a model version has a byte other than 0-9";
        }
    }

    if (s->data[0] == '0') {
        return "a model version starts with 0";
    }

    return NULL;
}


static ngx_uint_t
ngx_http_lfv_state_is(ngx_str_t *s, char *word)
{
    size_t  n;

    n = ngx_strlen(word);

    return s->len == n && ngx_strncmp(s->data, word, n) == 0;
}


u_char *
ngx_http_lfv_state_write_header(u_char *p)
{
    return ngx_sprintf(p, "lfv-state %d\n", NGX_HTTP_LFV_STATE_VERSION);
}


u_char *
ngx_http_lfv_state_write_record(u_char *p, ngx_http_lfv_state_record_t *rec)
{
    u_char               c, *q;
    size_t               i;
    static const u_char  hex[] = "0123456789ABCDEF";

    if (ngx_http_lfv_state_check(rec) != NULL) {
        return p;
    }

    if (rec->type == NGX_HTTP_LFV_STATE_TEAM) {
        q = ngx_cpymem(p, "team ", sizeof("team ") - 1);

    } else {
        q = ngx_cpymem(p, "lease ", sizeof("lease ") - 1);
    }

    for (i = 0; i < rec->team.len; i++) {
        c = rec->team.data[i];

        if (ngx_http_lfv_state_unreserved(c)) {
            *q++ = c;

        } else {
            *q++ = '%';
            *q++ = hex[c >> 4];
            *q++ = hex[c & 0xf];
        }
    }

    if (rec->type == NGX_HTTP_LFV_STATE_TEAM) {
        return ngx_sprintf(q, " %T %uL %uL %uL\n", rec->window, rec->used,
                           rec->excess, rec->age);
    }

    return ngx_sprintf(q, " %V %V %V %V %uL %T %T\n", &rec->region,
                       &rec->host, &rec->project, &rec->version, rec->units,
                       rec->started, rec->ends);
}


u_char *
ngx_http_lfv_state_write_end(u_char *p, u_char *start, ngx_uint_t count)
{
    if ((uint64_t) count > NGX_HTTP_LFV_STATE_NUMBER_MAX) {
        return p;
    }

    return ngx_sprintf(p, "end %ui %08xD\n", count,
                       ngx_crc32_long(start, p - start));
}
