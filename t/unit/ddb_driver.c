
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * Runs DynamoDB's answer parsers or its request writer
 * (ngx_http_lfv_ddb_doc.c) on stdin, for t/ddb-parsers.t.  The first
 * line names the mode, the rest of the input (every byte) is its input:
 *
 *   get, put, update, delete
 *           an answer of that operation: its item's attributes, one a
 *           line ("S NAME VALUE" or "N NAME VALUE"), then "ok item N"
 *           (N attributes) or "ok no item";
 *   query MAX
 *           a Query's answer read into MAX items: each item as "item"
 *           and its attributes, "last_key" and its attributes when
 *           given, then "ok items N scanned S more 0|1";
 *   error   an error's answer: "type TYPE", "message MESSAGE" (when it
 *           has one), then "ok";
 *   lease, limits
 *           GetItem's answer, its item read as a lease or as a team's
 *           limits (ngx_http_lfv_store_doc.c): "lease" and its fields,
 *           then "ok requests" when every request about the lease is one
 *           the writer takes, or "limits" and its fields, then
 *           "ok admits N" (of its nonces, each found); "error: <err>";
 *   write   a request, one field a line, separated by tabs, strings in
 *           hex:
 *             op GetItem|PutItem|UpdateItem|DeleteItem|Query|NUMBER
 *             table HEX, index HEX, pk HEX, sk HEX, update HEX,
 *             key_condition HEX, condition HEX
 *             item|value|start S|N|X HEX(NAME) HEX(S)|DECIMAL(N)
 *                               (an attribute of Item, of
 *                               ExpressionAttributeValues, of
 *                               ExclusiveStartKey; X: type 0)
 *             item|value|start      (alone: an empty one)
 *             count item|value|start N   (its nattrs set to N)
 *             name HEX(PLACEHOLDER) HEX(NAME)
 *             names_null N          (names NULL, nnames N)
 *             limit N, return NONE|ALL_OLD|...|NUMBER, consistent N
 *           prints "target X-AMZ-TARGET", the body on one line, then
 *           "ok LENGTH", or "error: <err>";
 *   batch   records of "<mode> <length>\n" and that many bytes (any
 *           mode but batch): one process for a whole table.
 *
 * Any other line starts with "error: <err>".  In the strings printed,
 * bytes outside 0x21..0x7e and "\\" are \xHH.  An answer is parsed in a
 * buffer of exactly its size, so that a sanitizer build catches a read
 * past its end; the driver also checks that a result's strings point
 * into that buffer, that a refused answer leaves the result zeroed and
 * an error message, that the attributes keep the item's rules, that an
 * N's text is its value in decimal, and that the writer writes exactly
 * the length it gave, ASCII only, into a buffer of that size.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_ddb_doc.h"
#include "ngx_http_lfv_store_doc.h"
#include "ngx_lfv_unit.h"
#include "ngx_lfv_driver.h"


#define NGX_LFV_DRIVER_INPUT_MAX  (4 * 1024 * 1024)
#define NGX_LFV_DRIVER_NAMES      64


typedef struct {
    u_char                      *start;
    u_char                      *last;
} ngx_lfv_driver_buf_t;


static ngx_int_t ngx_lfv_driver_run(u_char *mode, size_t mlen, u_char *p,
    size_t len);
static void ngx_lfv_driver_item(u_char *p, size_t len,
    ngx_http_lfv_ddb_op_e op);
static void ngx_lfv_driver_query(u_char *p, size_t len, ngx_uint_t max);
static void ngx_lfv_driver_store_item(u_char *p, size_t len,
    ngx_uint_t lease);
static void ngx_lfv_driver_lease_requests(ngx_http_lfv_store_lease_t *l);
static void ngx_lfv_driver_error(u_char *p, size_t len);
static void ngx_lfv_driver_print_item(ngx_lfv_driver_buf_t *b,
    ngx_http_lfv_ddb_item_t *item);
static ngx_uint_t ngx_lfv_driver_inside(ngx_lfv_driver_buf_t *b,
    ngx_str_t *s);
static void ngx_lfv_driver_refused(char *err);
static ngx_int_t ngx_lfv_driver_write(u_char *p, size_t len);
static ngx_int_t ngx_lfv_driver_attr(ngx_str_t *f, ngx_uint_t n,
    ngx_http_lfv_ddb_item_t *item);
static ngx_int_t ngx_lfv_driver_int(ngx_str_t *s, int64_t *v);
static ngx_uint_t ngx_lfv_driver_is(ngx_str_t *s, char *word);


static char  *ngx_lfv_driver_ops[] = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", NULL
};

static char  *ngx_lfv_driver_returns[] = {
    "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW", NULL
};


int
main(int argc, char *argv[])
{
    return ngx_lfv_unit_main(ngx_lfv_driver_run, NGX_LFV_DRIVER_INPUT_MAX);
}


static ngx_int_t
ngx_lfv_driver_run(u_char *mode, size_t mlen, u_char *p, size_t len)
{
    u_char     *input;
    size_t      i;
    ngx_int_t   rc;
    ngx_str_t   m;
    ngx_uint_t  max;

    input = ngx_lfv_unit_copy(p, len);

    m.data = mode;
    m.len = mlen;

    rc = NGX_OK;

    if (ngx_lfv_driver_is(&m, "get")) {
        ngx_lfv_driver_item(input, len, NGX_HTTP_LFV_DDB_GET_ITEM);

    } else if (ngx_lfv_driver_is(&m, "put")) {
        ngx_lfv_driver_item(input, len, NGX_HTTP_LFV_DDB_PUT_ITEM);

    } else if (ngx_lfv_driver_is(&m, "update")) {
        ngx_lfv_driver_item(input, len, NGX_HTTP_LFV_DDB_UPDATE_ITEM);

    } else if (ngx_lfv_driver_is(&m, "delete")) {
        ngx_lfv_driver_item(input, len, NGX_HTTP_LFV_DDB_DELETE_ITEM);

    } else if (ngx_lfv_driver_is(&m, "query_op")) {
        ngx_lfv_driver_item(input, len, NGX_HTTP_LFV_DDB_QUERY);

    } else if (mlen > 6 && memcmp(mode, "query ", 6) == 0) {

        for (max = 0, i = 6; i < mlen; i++) {
            if (mode[i] < '0' || mode[i] > '9' || max > 100000) {
                fprintf(stderr, "bad query max\n");
                free(input);
                return NGX_ERROR;
            }

            max = max * 10 + (mode[i] - '0');
        }

        ngx_lfv_driver_query(input, len, max);

    } else if (ngx_lfv_driver_is(&m, "error")) {
        ngx_lfv_driver_error(input, len);

    } else if (ngx_lfv_driver_is(&m, "lease")) {
        ngx_lfv_driver_store_item(input, len, 1);

    } else if (ngx_lfv_driver_is(&m, "limits")) {
        ngx_lfv_driver_store_item(input, len, 0);

    } else if (ngx_lfv_driver_is(&m, "write")) {
        rc = ngx_lfv_driver_write(input, len);

    } else {
        fprintf(stderr, "unknown mode\n");
        rc = NGX_ERROR;
    }

    free(input);

    return rc;
}


static void
ngx_lfv_driver_store_item(u_char *p, size_t len, ngx_uint_t lease)
{
    char                         *err;
    size_t                        i;
    ngx_str_t                     nonce;
    ngx_uint_t                    found, n;
    ngx_http_lfv_ddb_item_t       item;
    ngx_http_lfv_store_lease_t    l;
    ngx_http_lfv_store_limits_t   lim;

    if (ngx_http_lfv_ddb_parse_item(p, len, NGX_HTTP_LFV_DDB_GET_ITEM, &item,
                                    &found, &err)
        != NGX_OK)
    {
        ngx_lfv_driver_refused(err);
        return;
    }

    if (!found) {
        ngx_lfv_driver_refused("no item");
        return;
    }

    if (!lease) {
        if (ngx_http_lfv_store_limits_parse(&item, &lim, &err) != NGX_OK) {
            ngx_lfv_driver_refused(err);
            return;
        }

        printf("limits ver %llu win %lld used %llu excess %llu last %llu "
               "admitted ", (unsigned long long) lim.version,
               (long long) lim.window, (unsigned long long) lim.used,
               (unsigned long long) lim.excess,
               (unsigned long long) lim.last);
        ngx_lfv_driver_escaped(lim.admitted.data, lim.admitted.len);
        printf("\n");

        for (n = 0, i = 0; i < lim.admitted.len;
             i += NGX_HTTP_LFV_STORE_NONCE_LEN + 1)
        {
            nonce.data = lim.admitted.data + i;
            nonce.len = NGX_HTTP_LFV_STORE_NONCE_LEN;
            n += ngx_http_lfv_store_limits_admit(&lim.admitted, &nonce);
        }

        printf("ok admits %u\n", (unsigned) n);
        return;
    }

    if (ngx_http_lfv_store_lease_parse(&item, &l, &err) != NGX_OK) {
        ngx_lfv_driver_refused(err);
        return;
    }

    printf("lease team ");
    ngx_lfv_driver_escaped(l.team.data, l.team.len);
    printf(" key ");
    ngx_lfv_driver_escaped(l.key.data, l.key.len);
    printf(" region ");
    ngx_lfv_driver_escaped(l.region.data, l.region.len);
    printf(" units %u started %lld ends %lld due %lld attempts %u "
           "alerted %u pending %u claimed %lld owner ", (unsigned) l.units,
           (long long) l.started, (long long) l.ends, (long long) l.due,
           (unsigned) l.attempts, (unsigned) l.alerted, (unsigned) l.pending,
           (long long) l.claimed);
    ngx_lfv_driver_escaped(l.owner.data, l.owner.len);
    printf(" nonce ");
    ngx_lfv_driver_escaped(l.nonce.data, l.nonce.len);
    printf("\n");

    ngx_lfv_driver_lease_requests(&l);
}


/* what is read can be asked about: every request the writer takes */

static void
ngx_lfv_driver_lease_requests(ngx_http_lfv_store_lease_t *l)
{
    char                            *err;
    ngx_uint_t                       i;
    ngx_str_t                        table, owner;
    ngx_http_lfv_store_lease_req_t   r;

    ngx_str_set(&table, "lfv-limits");
    ngx_str_set(&owner, "host.example/12345");

    for (i = 0; i < 7; i++) {
        switch (i) {
        case 0:
        case 1:
            (void) ngx_http_lfv_store_lease_put(&r, &table, l, i);
            break;
        case 2:
        case 3:
        case 4:
            (void) ngx_http_lfv_store_lease_delete(&r, &table, &l->team,
                                                   &l->key, i - 2, &owner);
            break;
        case 5:
            (void) ngx_http_lfv_store_lease_claim(&r, &table, l, 1000, 120,
                                                  &owner);
            break;
        default:
            (void) ngx_http_lfv_store_lease_update(&r, &table, l, &owner);
            break;
        }

        if (ngx_http_lfv_ddb_request_len(&r.req, &err) == 0) {
            printf("REQUEST %u REFUSED: %s\n", (unsigned) i, err);
            return;
        }
    }

    printf("ok requests\n");
}


/* "<mode> <length>\n": the mode may hold spaces ("query 5") */

static void
ngx_lfv_driver_item(u_char *p, size_t len, ngx_http_lfv_ddb_op_e op)
{
    char                     *err;
    ngx_int_t                 rc;
    ngx_uint_t                found;
    ngx_lfv_driver_buf_t      b;
    ngx_http_lfv_ddb_item_t   item;

    b.start = p;
    b.last = p + len;

    /* garbage first: the parser must set every field */

    ngx_memset(&item, 0xa5, sizeof(ngx_http_lfv_ddb_item_t));
    found = 7;
    err = NULL;

    rc = ngx_http_lfv_ddb_parse_item(p, len, op, &item, &found, &err);

    if (rc != NGX_OK) {

        if (rc != NGX_ERROR || found != 0
            || !ngx_lfv_driver_zero(&item, sizeof(ngx_http_lfv_ddb_item_t)))
        {
            printf("REFUSED BUT NOT ZEROED\n");
        }

        ngx_lfv_driver_refused(err);
        return;
    }

    if (found > 1 || (!found && item.nattrs)) {
        printf("BAD FOUND %u\n", (unsigned) found);
    }

    ngx_lfv_driver_print_item(&b, &item);

    if (found) {
        printf("ok item %u\n", (unsigned) item.nattrs);

    } else {
        printf("ok no item\n");
    }
}


static void
ngx_lfv_driver_query(u_char *p, size_t len, ngx_uint_t max)
{
    char                      *err;
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_lfv_driver_buf_t       b;
    ngx_http_lfv_ddb_query_t   q;

    b.start = p;
    b.last = p + len;

    ngx_memset(&q, 0xa5, sizeof(ngx_http_lfv_ddb_query_t));

    /* exactly max items: a write past them is seen by ASan */

    q.max = max;
    q.items = max ? malloc(max * sizeof(ngx_http_lfv_ddb_item_t)) : NULL;

    if (max && q.items == NULL) {
        abort();
    }

    if (q.items) {
        ngx_memset(q.items, 0xa5, max * sizeof(ngx_http_lfv_ddb_item_t));
    }

    err = NULL;

    rc = ngx_http_lfv_ddb_parse_query(p, len, &q, &err);

    if (q.max != max) {
        printf("MAX CHANGED\n");
    }

    if (rc != NGX_OK) {

        if (rc != NGX_ERROR || q.nitems || q.scanned || q.more
            || !ngx_lfv_driver_zero(&q.last_key,
                                    sizeof(ngx_http_lfv_ddb_item_t))
            || (q.items && !ngx_lfv_driver_zero(q.items,
                                max * sizeof(ngx_http_lfv_ddb_item_t))))
        {
            printf("REFUSED BUT NOT ZEROED\n");
        }

        free(q.items);
        ngx_lfv_driver_refused(err);
        return;
    }

    if (q.nitems > max
        || (!q.more && q.last_key.nattrs) || (q.more && !q.last_key.nattrs))
    {
        printf("BAD QUERY RESULT\n");
    }

    for (i = 0; i < q.nitems; i++) {
        printf("item\n");
        ngx_lfv_driver_print_item(&b, &q.items[i]);
    }

    if (q.more) {
        printf("last_key\n");
        ngx_lfv_driver_print_item(&b, &q.last_key);
    }

    printf("ok items %u scanned %u more %u\n", (unsigned) q.nitems,
           (unsigned) q.scanned, (unsigned) q.more);

    free(q.items);
}


static void
ngx_lfv_driver_error(u_char *p, size_t len)
{
    char                      *err;
    size_t                     i;
    ngx_int_t                  rc;
    ngx_lfv_driver_buf_t       b;
    ngx_http_lfv_ddb_error_t   e;

    b.start = p;
    b.last = p + len;

    ngx_memset(&e, 0xa5, sizeof(ngx_http_lfv_ddb_error_t));
    err = NULL;

    rc = ngx_http_lfv_ddb_parse_error(p, len, &e, &err);

    if (rc != NGX_OK) {

        if (rc != NGX_ERROR
            || !ngx_lfv_driver_zero(&e, sizeof(ngx_http_lfv_ddb_error_t)))
        {
            printf("REFUSED BUT NOT ZEROED\n");
        }

        ngx_lfv_driver_refused(err);
        return;
    }

    if (!ngx_lfv_driver_inside(&b, &e.type)) {
        printf("TYPE OUTSIDE THE INPUT\n");
    }

    for (i = 0; i < e.type.len; i++) {
        if (!isalnum(e.type.data[i])) {
            printf("BAD TYPE BYTE\n");
        }
    }

    if (e.message.len && !ngx_lfv_driver_inside(&b, &e.message)) {
        printf("MESSAGE OUTSIDE THE INPUT\n");
    }

    printf("type ");
    ngx_lfv_driver_escaped(e.type.data, e.type.len);
    printf("\n");

    if (e.message.data) {
        printf("message ");
        ngx_lfv_driver_escaped(e.message.data, e.message.len);
        printf("\n");
    }

    printf("ok\n");
}


static void
ngx_lfv_driver_print_item(ngx_lfv_driver_buf_t *b,
    ngx_http_lfv_ddb_item_t *item)
{
    char                      name[NGX_HTTP_LFV_DDB_NAME_MAX + 1];
    u_char                    text[NGX_INT64_LEN + 1];
    size_t                    k;
    ngx_uint_t                i, j;
    ngx_http_lfv_ddb_attr_t  *a;

    if (item->nattrs > NGX_HTTP_LFV_DDB_ATTRS_MAX) {
        printf("TOO MANY ATTRIBUTES\n");
        return;
    }

    for (i = 0; i < item->nattrs; i++) {
        a = &item->attrs[i];

        if (!ngx_lfv_driver_inside(b, &a->name)
            || a->name.len > NGX_HTTP_LFV_DDB_NAME_MAX)
        {
            printf("BAD NAME\n");
        }

        for (k = 0; k < a->name.len; k++) {
            if (!isalnum(a->name.data[k]) && a->name.data[k] != '_') {
                printf("BAD NAME BYTE\n");
            }
        }

        for (j = 0; j < i; j++) {
            if (item->attrs[j].name.len == a->name.len
                && memcmp(item->attrs[j].name.data, a->name.data,
                          a->name.len) == 0)
            {
                printf("DUPLICATE NAME\n");
            }
        }

        if (a->s.len && !ngx_lfv_driver_inside(b, &a->s)) {
            printf("VALUE OUTSIDE THE INPUT\n");
        }

        if (a->name.len <= NGX_HTTP_LFV_DDB_NAME_MAX) {
            ngx_memcpy(name, a->name.data, a->name.len);
            name[a->name.len] = '\0';

            if (ngx_http_lfv_ddb_attr(item, name) != a) {
                printf("NOT FOUND BY NAME\n");
            }
        }

        if (a->type == NGX_HTTP_LFV_DDB_S) {

            if (a->s.len > NGX_HTTP_LFV_DDB_S_MAX) {
                printf("S TOO LONG\n");
            }

            printf("S ");

        } else if (a->type == NGX_HTTP_LFV_DDB_N) {
            k = snprintf((char *) text, sizeof(text), "%lld",
                         (long long) a->n);

            if (k != a->s.len
                || memcmp(text, a->s.data, a->s.len) != 0)
            {
                printf("N TEXT DIFFERS\n");
            }

            printf("N ");

        } else {
            printf("UNKNOWN TYPE %d\n", (int) a->type);
            continue;
        }

        ngx_lfv_driver_escaped(a->name.data, a->name.len);
        printf(" ");

        if (a->type == NGX_HTTP_LFV_DDB_N) {
            printf("%lld\n", (long long) a->n);

        } else {
            ngx_lfv_driver_escaped(a->s.data, a->s.len);
            printf("\n");
        }
    }
}



static ngx_uint_t
ngx_lfv_driver_inside(ngx_lfv_driver_buf_t *b, ngx_str_t *s)
{
    return s->data >= b->start && s->data + s->len <= b->last;
}


static void
ngx_lfv_driver_refused(char *err)
{
    if (err == NULL || err[0] == '\0') {
        printf("error: NO MESSAGE\n");
        return;
    }

    printf("error: %s\n", err);
}


static ngx_int_t
ngx_lfv_driver_write(u_char *p, size_t len)
{
    char                        *err;
    u_char                      *buf, *end, *last, *nl;
    size_t                       n, i;
    int64_t                      v;
    ngx_str_t                    f[5], *target;
    ngx_uint_t                   k, nf;
    ngx_http_lfv_ddb_item_t      item, values, start, *it;
    ngx_http_lfv_ddb_name_t      names[NGX_LFV_DRIVER_NAMES];
    ngx_http_lfv_ddb_request_t   req;

    ngx_memzero(&req, sizeof(ngx_http_lfv_ddb_request_t));
    ngx_memzero(&item, sizeof(ngx_http_lfv_ddb_item_t));
    ngx_memzero(&values, sizeof(ngx_http_lfv_ddb_item_t));
    ngx_memzero(&start, sizeof(ngx_http_lfv_ddb_item_t));

    last = p + len;

    for ( /* void */ ; p < last; p = nl + 1) {
        nl = memchr(p, '\n', last - p);
        if (nl == NULL) {
            nl = last;
        }

        if (nl == p) {
            continue;
        }

        nf = ngx_lfv_unit_split(p, nl - p, f, 5);

        it = NULL;

        if (ngx_lfv_driver_is(&f[0], "item")) {
            it = &item;
            req.item = it;

        } else if (ngx_lfv_driver_is(&f[0], "value")) {
            it = &values;
            req.values = it;

        } else if (ngx_lfv_driver_is(&f[0], "start")) {
            it = &start;
            req.start = it;
        }

        if (it) {

            if (nf == 1) {
                continue;
            }

            if (nf != 4 || ngx_lfv_driver_attr(f, nf, it) != NGX_OK) {
                goto bad;
            }

            continue;
        }

        if (ngx_lfv_driver_is(&f[0], "count") && nf == 3) {

            if (ngx_lfv_driver_is(&f[1], "item")) {
                it = &item;
                req.item = it;

            } else if (ngx_lfv_driver_is(&f[1], "value")) {
                it = &values;
                req.values = it;

            } else if (ngx_lfv_driver_is(&f[1], "start")) {
                it = &start;
                req.start = it;

            } else {
                goto bad;
            }

            if (ngx_lfv_driver_int(&f[2], &v) != NGX_OK || v < 0) {
                goto bad;
            }

            it->nattrs = (ngx_uint_t) v;
            continue;
        }

        if (ngx_lfv_driver_is(&f[0], "name") && nf == 3) {

            if (req.nnames == NGX_LFV_DRIVER_NAMES
                || ngx_lfv_unit_unhex(&f[1]) != NGX_OK
                || ngx_lfv_unit_unhex(&f[2]) != NGX_OK)
            {
                goto bad;
            }

            names[req.nnames].placeholder = f[1];
            names[req.nnames].name = f[2];
            req.names = names;
            req.nnames++;
            continue;
        }

        if (ngx_lfv_driver_is(&f[0], "names_null") && nf == 2) {

            if (ngx_lfv_driver_int(&f[1], &v) != NGX_OK || v < 0) {
                goto bad;
            }

            req.names = NULL;
            req.nnames = (ngx_uint_t) v;
            continue;
        }

        if (nf != 2) {
            goto bad;
        }

        if (ngx_lfv_driver_is(&f[0], "op")) {

            for (k = 0; ngx_lfv_driver_ops[k]; k++) {
                if (ngx_lfv_driver_is(&f[1], ngx_lfv_driver_ops[k])) {
                    break;
                }
            }

            if (ngx_lfv_driver_ops[k] == NULL) {
                if (ngx_lfv_driver_int(&f[1], &v) != NGX_OK) {
                    goto bad;
                }

                k = (ngx_uint_t) v;
            }

            req.op = (ngx_http_lfv_ddb_op_e) k;

        } else if (ngx_lfv_driver_is(&f[0], "return")) {

            for (k = 0; ngx_lfv_driver_returns[k]; k++) {
                if (ngx_lfv_driver_is(&f[1], ngx_lfv_driver_returns[k])) {
                    break;
                }
            }

            if (ngx_lfv_driver_returns[k] == NULL) {
                if (ngx_lfv_driver_int(&f[1], &v) != NGX_OK) {
                    goto bad;
                }

                k = (ngx_uint_t) v;
            }

            req.ret = (ngx_http_lfv_ddb_return_e) k;

        } else if (ngx_lfv_driver_is(&f[0], "limit")) {

            if (ngx_lfv_driver_int(&f[1], &v) != NGX_OK || v < 0) {
                goto bad;
            }

            req.limit = (ngx_uint_t) v;

        } else if (ngx_lfv_driver_is(&f[0], "consistent")) {

            if (ngx_lfv_driver_int(&f[1], &v) != NGX_OK || v < 0) {
                goto bad;
            }

            req.consistent = (ngx_uint_t) v;

        } else {

            if (ngx_lfv_unit_unhex(&f[1]) != NGX_OK) {
                goto bad;
            }

            if (ngx_lfv_driver_is(&f[0], "table")) {
                req.table = f[1];

            } else if (ngx_lfv_driver_is(&f[0], "index")) {
                req.index = f[1];

            } else if (ngx_lfv_driver_is(&f[0], "pk")) {
                req.pk = f[1];

            } else if (ngx_lfv_driver_is(&f[0], "sk")) {
                req.sk = f[1];

            } else if (ngx_lfv_driver_is(&f[0], "update")) {
                req.update = f[1];

            } else if (ngx_lfv_driver_is(&f[0], "key_condition")) {
                req.key_condition = f[1];

            } else if (ngx_lfv_driver_is(&f[0], "condition")) {
                req.condition = f[1];

            } else {
                goto bad;
            }
        }
    }

    err = NULL;
    n = ngx_http_lfv_ddb_request_len(&req, &err);

    if (n == 0) {

        /* a refused request is not written */

        buf = malloc(1);
        if (buf == NULL) {
            abort();
        }

        if (ngx_http_lfv_ddb_write_request(buf, &req) != buf) {
            printf("REFUSED BUT WRITTEN\n");
        }

        free(buf);
        ngx_lfv_driver_refused(err);
        return NGX_OK;
    }

    target = ngx_http_lfv_ddb_target(req.op);

    if (target == NULL) {
        printf("NO TARGET\n");
        return NGX_OK;
    }

    buf = malloc(n);
    if (buf == NULL) {
        abort();
    }

    end = ngx_http_lfv_ddb_write_request(buf, &req);

    if (end != buf + n) {
        printf("WROTE %d BYTES, NOT %u\n", (int) (end - buf), (unsigned) n);
        free(buf);
        return NGX_OK;
    }

    for (i = 0; i < n; i++) {
        if (buf[i] < 0x20 || buf[i] > 0x7e) {
            printf("NOT PRINTABLE ASCII AT %u\n", (unsigned) i);
            break;
        }
    }

    printf("target %.*s\n", (int) target->len, target->data);
    fwrite(buf, 1, n, stdout);
    printf("\nok %u\n", (unsigned) n);

    free(buf);

    return NGX_OK;

bad:

    fprintf(stderr, "bad write line: %.*s\n", (int) (nl - p), p);

    return NGX_ERROR;
}


static ngx_int_t
ngx_lfv_driver_attr(ngx_str_t *f, ngx_uint_t n, ngx_http_lfv_ddb_item_t *item)
{
    ngx_http_lfv_ddb_attr_t  *a;

    if (item->nattrs == NGX_HTTP_LFV_DDB_ATTRS_MAX) {
        return NGX_ERROR;
    }

    a = &item->attrs[item->nattrs];

    if (ngx_lfv_unit_unhex(&f[2]) != NGX_OK) {
        return NGX_ERROR;
    }

    a->name = f[2];

    if (ngx_lfv_driver_is(&f[1], "S")) {
        a->type = NGX_HTTP_LFV_DDB_S;

        if (ngx_lfv_unit_unhex(&f[3]) != NGX_OK) {
            return NGX_ERROR;
        }

        a->s = f[3];

    } else if (ngx_lfv_driver_is(&f[1], "N")
               || ngx_lfv_driver_is(&f[1], "X"))
    {
        a->type = ngx_lfv_driver_is(&f[1], "N") ? NGX_HTTP_LFV_DDB_N : 0;

        if (ngx_lfv_driver_int(&f[3], &a->n) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        return NGX_ERROR;
    }

    item->nattrs++;

    return NGX_OK;
}


/* signed decimal within int64_t */

static ngx_int_t
ngx_lfv_driver_int(ngx_str_t *s, int64_t *v)
{
    char  buf[32], *end;

    if (s->len == 0 || s->len >= sizeof(buf)) {
        return NGX_ERROR;
    }

    ngx_memcpy(buf, s->data, s->len);
    buf[s->len] = '\0';

    errno = 0;
    *v = strtoll(buf, &end, 10);

    if (errno || *end != '\0') {
        return NGX_ERROR;
    }

    return NGX_OK;
}



static ngx_uint_t
ngx_lfv_driver_is(ngx_str_t *s, char *word)
{
    size_t  n;

    n = strlen(word);

    return s->len == n && memcmp(s->data, word, n) == 0;
}
