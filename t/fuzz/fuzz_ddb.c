
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: DynamoDB's answers and requests
 * (ngx_http_lfv_ddb_doc.c), every parser on the same bytes, each on a
 * copy of its own (they decode in place).
 *
 * An accepted item has 0..16 attributes of unique names of 1..64 bytes
 * of [A-Za-z0-9_] and values inside the input: an S of 0..1024 bytes of
 * UTF-8, an N whose text is its value in decimal (checked here with
 * code of their own, not the parser's).  The answers of PutItem,
 * UpdateItem and DeleteItem are read alike.  A Query's answer taken
 * with room for 16 items and k of them is taken with room for k or
 * more and refused with less, as "more Items than asked for"; one
 * refused is refused with less room too.  An error's type is
 * [A-Za-z0-9]+ and its message UTF-8.  A refused answer comes with a
 * message and a zeroed result.
 *
 * An item read is also read as the store's items
 * (ngx_http_lfv_store_doc.c): a lease accepted has a team of 1..128
 * bytes, a key of three parts none empty nor holding "/", its strings
 * inside the input, and every request about it is one the writer takes
 * and writes exactly; a team's limits accepted admit each of their
 * nonces.
 *
 * What is read can be written: an item read (its key and up to 14
 * other attributes) is a PutItem the writer takes, whose body, read as
 * GetItem's answer, gives the same item back; a LastEvaluatedKey is a
 * Query's ExclusiveStartKey the writer takes.
 *
 * The same bytes are also a request for the writer, fields separated
 * by tabs: OPS, TABLE, PK, SK, EXPR, then NAME, VALUE pairs.  OPS'
 * first byte % 6 is the operation (5: none), its second the Limit, its
 * third the flags (bit 0 ConsistentRead, bits 1..3 ReturnValues); EXPR
 * is the UpdateExpression, the KeyConditionExpression or the
 * ConditionExpression; a pair whose name starts with "#" is one of
 * ExpressionAttributeNames, the others are PutItem's attributes or the
 * ExpressionAttributeValues, an S or, when the value starts with 0x01,
 * an N of the next 8 bytes at most.  The writer refuses the request
 * exactly when a rule here is broken; what it writes is exactly the
 * length it gave, ASCII, one JSON object, and PutItem's reads back.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_json.h"
#include "ngx_http_lfv_ddb_doc.h"
#include "ngx_http_lfv_store_doc.h"
#include "ngx_lfv_unit.h"


#define NGX_LFV_FUZZ_FIELDS  48


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_items(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_query(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_error(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_writer(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_put_back(ngx_http_lfv_ddb_item_t *item);
static void ngx_lfv_fuzz_start_key(ngx_http_lfv_ddb_item_t *key);
static void ngx_lfv_fuzz_written(ngx_http_lfv_ddb_request_t *req,
    size_t len);
static void ngx_lfv_fuzz_check_item(ngx_http_lfv_ddb_item_t *item,
    u_char *start, u_char *last);
static void ngx_lfv_fuzz_refused(char *err, void *p, size_t len);
static void ngx_lfv_fuzz_store_items(ngx_http_lfv_ddb_item_t *item,
    u_char *start, u_char *last);
static void ngx_lfv_fuzz_inside(ngx_str_t *s, u_char *start, u_char *last);
static ngx_uint_t ngx_lfv_fuzz_valid(ngx_http_lfv_ddb_request_t *req);
static ngx_uint_t ngx_lfv_fuzz_attrs_valid(ngx_http_lfv_ddb_item_t *item,
    u_char prefix, ngx_uint_t max);
static ngx_uint_t ngx_lfv_fuzz_string(ngx_str_t *s, size_t min, size_t max);
static ngx_uint_t ngx_lfv_fuzz_utf8(u_char *p, size_t len);
static ngx_uint_t ngx_lfv_fuzz_name(ngx_str_t *s, size_t skip);
static ngx_uint_t ngx_lfv_fuzz_same(ngx_str_t *a, ngx_str_t *b);
static ngx_uint_t ngx_lfv_fuzz_same_attr(ngx_http_lfv_ddb_attr_t *a,
    ngx_http_lfv_ddb_attr_t *b);


static ngx_http_lfv_ddb_op_e  ngx_lfv_fuzz_item_ops[] = {
    NGX_HTTP_LFV_DDB_PUT_ITEM,
    NGX_HTTP_LFV_DDB_UPDATE_ITEM,
    NGX_HTTP_LFV_DDB_DELETE_ITEM
};

static ngx_uint_t  ngx_lfv_fuzz_maxes[] = { 0, 1, 3 };


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_lfv_fuzz_items(data, size);
    ngx_lfv_fuzz_query(data, size);
    ngx_lfv_fuzz_error(data, size);
    ngx_lfv_fuzz_writer(data, size);

    return 0;
}


static void
ngx_lfv_fuzz_items(const uint8_t *data, size_t size)
{
    char                     *err, *err0;
    u_char                   *p;
    ngx_int_t                 rc, rc0;
    ngx_uint_t                found, found0, i;
    ngx_http_lfv_ddb_item_t   item, item0;

    /* GetItem: "Item" */

    p = ngx_lfv_unit_copy(data, size);

    ngx_memset(&item, 0xa5, sizeof(ngx_http_lfv_ddb_item_t));
    found = 7;
    err = NULL;

    rc = ngx_http_lfv_ddb_parse_item(p, size, NGX_HTTP_LFV_DDB_GET_ITEM,
                                     &item, &found, &err);

    if (rc == NGX_OK) {

        if (found > 1 || (!found && item.nattrs)) {
            abort();
        }

        ngx_lfv_fuzz_check_item(&item, p, p + size);

        if (found) {
            ngx_lfv_fuzz_store_items(&item, p, p + size);
            ngx_lfv_fuzz_put_back(&item);
        }

    } else if (rc == NGX_ERROR) {

        if (found) {
            abort();
        }

        ngx_lfv_fuzz_refused(err, &item, sizeof(ngx_http_lfv_ddb_item_t));

    } else {
        abort();
    }

    free(p);

    /* the others: "Attributes", each alike */

    rc0 = NGX_DONE;
    err0 = NULL;
    found0 = 0;
    ngx_memzero(&item0, sizeof(ngx_http_lfv_ddb_item_t));

    for (i = 0;
         i < sizeof(ngx_lfv_fuzz_item_ops) / sizeof(ngx_lfv_fuzz_item_ops[0]);
         i++)
    {
        p = ngx_lfv_unit_copy(data, size);

        ngx_memset(&item, 0xa5, sizeof(ngx_http_lfv_ddb_item_t));
        found = 7;
        err = NULL;

        rc = ngx_http_lfv_ddb_parse_item(p, size, ngx_lfv_fuzz_item_ops[i],
                                         &item, &found, &err);

        if (rc == NGX_OK) {
            ngx_lfv_fuzz_check_item(&item, p, p + size);

        } else if (rc == NGX_ERROR) {
            ngx_lfv_fuzz_refused(err, &item,
                                 sizeof(ngx_http_lfv_ddb_item_t));

        } else {
            abort();
        }

        if (i == 0) {
            rc0 = rc;
            err0 = err;
            found0 = found;
            item0 = item;

        } else if (rc != rc0 || found != found0
                   || (rc == NGX_ERROR && err != err0)
                   || item.nattrs != item0.nattrs)
        {
            abort();
        }

        free(p);
    }

    /* no item of a Query's answer */

    p = ngx_lfv_unit_copy(data, size);
    err = NULL;

    if (ngx_http_lfv_ddb_parse_item(p, size, NGX_HTTP_LFV_DDB_QUERY, &item,
                                    &found, &err)
        != NGX_ERROR
        || err == NULL)
    {
        abort();
    }

    free(p);
}


static void
ngx_lfv_fuzz_query(const uint8_t *data, size_t size)
{
    char                      *err, *err16;
    u_char                    *p;
    ngx_int_t                  rc, rc16;
    ngx_uint_t                 i, k, max;
    ngx_http_lfv_ddb_item_t   *items;
    ngx_http_lfv_ddb_query_t   q;

    items = malloc(16 * sizeof(ngx_http_lfv_ddb_item_t));
    if (items == NULL) {
        abort();
    }

    p = ngx_lfv_unit_copy(data, size);

    ngx_memset(&q, 0xa5, sizeof(ngx_http_lfv_ddb_query_t));
    ngx_memset(items, 0xa5, 16 * sizeof(ngx_http_lfv_ddb_item_t));
    q.items = items;
    q.max = 16;
    err16 = NULL;

    rc16 = ngx_http_lfv_ddb_parse_query(p, size, &q, &err16);

    if (q.items != items || q.max != 16) {
        abort();
    }

    k = 0;

    if (rc16 == NGX_OK) {

        if (q.nitems > 16 || (q.more != 0 && q.more != 1)
            || (q.more && q.last_key.nattrs == 0)
            || (!q.more && q.last_key.nattrs != 0)
            || (q.scanned && q.scanned < q.nitems))
        {
            abort();
        }

        for (i = 0; i < q.nitems; i++) {
            ngx_lfv_fuzz_check_item(&items[i], p, p + size);
            ngx_lfv_fuzz_store_items(&items[i], p, p + size);
        }

        ngx_lfv_fuzz_check_item(&q.last_key, p, p + size);

        for (i = q.nitems; i < 16; i++) {
            ngx_lfv_fuzz_refused("(unused)", &items[i],
                                 sizeof(ngx_http_lfv_ddb_item_t));
        }

        if (q.more) {
            ngx_lfv_fuzz_start_key(&q.last_key);
        }

        k = q.nitems;

    } else if (rc16 == NGX_ERROR) {

        if (q.nitems || q.scanned || q.more) {
            abort();
        }

        ngx_lfv_fuzz_refused(err16, items,
                             16 * sizeof(ngx_http_lfv_ddb_item_t));
        ngx_lfv_fuzz_refused(err16, &q.last_key,
                             sizeof(ngx_http_lfv_ddb_item_t));

    } else {
        abort();
    }

    free(p);

    /* less room: taken while the items fit */

    for (i = 0;
         i < sizeof(ngx_lfv_fuzz_maxes) / sizeof(ngx_lfv_fuzz_maxes[0]);
         i++)
    {
        max = ngx_lfv_fuzz_maxes[i];
        p = ngx_lfv_unit_copy(data, size);

        q.items = max ? items : NULL;
        q.max = max;
        err = NULL;

        rc = ngx_http_lfv_ddb_parse_query(p, size, &q, &err);

        if (rc16 == NGX_OK && k <= max) {
            if (rc != NGX_OK || q.nitems != k) {
                abort();
            }

        } else if (rc16 == NGX_OK) {
            if (rc != NGX_ERROR
                || ngx_strcmp(err, "more Items than asked for") != 0)
            {
                abort();
            }

        } else if (rc != NGX_ERROR || err == NULL) {
            abort();
        }

        free(p);
    }

    free(items);
}


static void
ngx_lfv_fuzz_error(const uint8_t *data, size_t size)
{
    char                      *err;
    u_char                    *p;
    size_t                     i;
    ngx_int_t                  rc;
    ngx_http_lfv_ddb_error_t   e;

    p = ngx_lfv_unit_copy(data, size);

    ngx_memset(&e, 0xa5, sizeof(ngx_http_lfv_ddb_error_t));
    err = NULL;

    rc = ngx_http_lfv_ddb_parse_error(p, size, &e, &err);

    if (rc == NGX_OK) {

        if (e.type.len == 0 || e.type.len > NGX_HTTP_LFV_DDB_TYPE_MAX
            || e.type.data < p || e.type.data + e.type.len > p + size)
        {
            abort();
        }

        for (i = 0; i < e.type.len; i++) {
            if (!isalnum(e.type.data[i])) {
                abort();
            }
        }

        if (e.message.len
            && (e.message.data < p
                || e.message.data + e.message.len > p + size))
        {
            abort();
        }

        if (!ngx_lfv_fuzz_utf8(e.message.data, e.message.len)) {
            abort();
        }

    } else if (rc == NGX_ERROR) {
        ngx_lfv_fuzz_refused(err, &e, sizeof(ngx_http_lfv_ddb_error_t));

    } else {
        abort();
    }

    free(p);
}


static void
ngx_lfv_fuzz_check_item(ngx_http_lfv_ddb_item_t *item, u_char *start,
    u_char *last)
{
    char                      text[NGX_INT64_LEN + 1];
    ngx_uint_t                i, k;
    ngx_http_lfv_ddb_attr_t  *a;

    if (item->nattrs > NGX_HTTP_LFV_DDB_ATTRS_MAX) {
        abort();
    }

    for (i = 0; i < item->nattrs; i++) {
        a = &item->attrs[i];

        if (!ngx_lfv_fuzz_name(&a->name, 0)
            || a->name.data < start || a->name.data + a->name.len > last)
        {
            abort();
        }

        for (k = 0; k < i; k++) {
            if (ngx_lfv_fuzz_same(&item->attrs[k].name, &a->name)) {
                abort();
            }
        }

        if (a->s.len && (a->s.data < start || a->s.data + a->s.len > last)) {
            abort();
        }

        switch (a->type) {

        case NGX_HTTP_LFV_DDB_S:

            if (a->s.len > NGX_HTTP_LFV_DDB_S_MAX
                || !ngx_lfv_fuzz_utf8(a->s.data, a->s.len))
            {
                abort();
            }

            break;

        case NGX_HTTP_LFV_DDB_N:

            k = snprintf(text, sizeof(text), "%lld", (long long) a->n);

            if (k != a->s.len || ngx_memcmp(text, a->s.data, k) != 0) {
                abort();
            }

            break;

        default:
            abort();
        }
    }
}


static void
ngx_lfv_fuzz_refused(char *err, void *p, size_t len)
{
    size_t  i;

    if (err == NULL || err[0] == '\0') {
        abort();
    }

    for (i = 0; i < len; i++) {
        if (((u_char *) p)[i] != 0) {
            abort();
        }
    }
}


/* an item read, written as a PutItem: taken, and read back the same */

static void
ngx_lfv_fuzz_put_back(ngx_http_lfv_ddb_item_t *item)
{
    char                        *err;
    u_char                      *buf, *end;
    size_t                       len;
    ngx_uint_t                   i, found;
    ngx_http_lfv_ddb_attr_t     *a;
    ngx_http_lfv_ddb_item_t      rest, back;
    ngx_http_lfv_ddb_request_t   req;

    ngx_memzero(&req, sizeof(ngx_http_lfv_ddb_request_t));
    ngx_memzero(&rest, sizeof(ngx_http_lfv_ddb_item_t));

    req.op = NGX_HTTP_LFV_DDB_PUT_ITEM;
    ngx_str_set(&req.table, "lfv-teams");
    ngx_str_set(&req.pk, "p");
    ngx_str_set(&req.sk, "s");

    for (i = 0; i < item->nattrs; i++) {
        a = &item->attrs[i];

        if (ngx_lfv_fuzz_name(&a->name, 0) && a->name.len == 2
            && (ngx_strncmp(a->name.data, "pk", 2) == 0
                || ngx_strncmp(a->name.data, "sk", 2) == 0))
        {
            if (a->type == NGX_HTTP_LFV_DDB_S && a->s.len) {
                if (a->name.data[0] == 'p') {
                    req.pk = a->s;

                } else {
                    req.sk = a->s;
                }
            }

            continue;
        }

        if (rest.nattrs < NGX_HTTP_LFV_DDB_ATTRS_MAX - 2) {
            rest.attrs[rest.nattrs++] = *a;
        }
    }

    req.item = &rest;

    err = NULL;
    len = ngx_http_lfv_ddb_request_len(&req, &err);

    if (len == 0) {
        abort();
    }

    ngx_lfv_fuzz_written(&req, len);

    buf = malloc(len);
    if (buf == NULL) {
        abort();
    }

    end = ngx_http_lfv_ddb_write_request(buf, &req);

    if (end != buf + len) {
        abort();
    }

    if (ngx_http_lfv_ddb_parse_item(buf, len, NGX_HTTP_LFV_DDB_GET_ITEM,
                                    &back, &found, &err)
        != NGX_OK
        || !found || back.nattrs != 2 + rest.nattrs)
    {
        abort();
    }

    if (!ngx_lfv_fuzz_same(&back.attrs[0].s, &req.pk)
        || !ngx_lfv_fuzz_same(&back.attrs[1].s, &req.sk))
    {
        abort();
    }

    for (i = 0; i < rest.nattrs; i++) {
        if (!ngx_lfv_fuzz_same_attr(&back.attrs[2 + i], &rest.attrs[i])) {
            abort();
        }
    }

    free(buf);
}


/* a LastEvaluatedKey read, as the next Query's ExclusiveStartKey */

static void
ngx_lfv_fuzz_start_key(ngx_http_lfv_ddb_item_t *key)
{
    char                        *err;
    size_t                       len;
    ngx_http_lfv_ddb_item_t      values;
    ngx_http_lfv_ddb_request_t   req;

    ngx_memzero(&req, sizeof(ngx_http_lfv_ddb_request_t));
    ngx_memzero(&values, sizeof(ngx_http_lfv_ddb_item_t));

    values.nattrs = 1;
    ngx_str_set(&values.attrs[0].name, ":p");
    values.attrs[0].type = NGX_HTTP_LFV_DDB_S;
    ngx_str_set(&values.attrs[0].s, "team#a");

    req.op = NGX_HTTP_LFV_DDB_QUERY;
    ngx_str_set(&req.table, "lfv-teams");
    ngx_str_set(&req.key_condition, "pk = :p");
    req.values = &values;
    req.start = key;
    req.limit = 16;
    req.consistent = 1;

    err = NULL;
    len = ngx_http_lfv_ddb_request_len(&req, &err);

    if (len == 0) {
        abort();
    }

    ngx_lfv_fuzz_written(&req, len);
}


/* written: exactly len bytes of printable ASCII, one JSON object */

static void
ngx_lfv_fuzz_store_items(ngx_http_lfv_ddb_item_t *item, u_char *start,
    u_char *last)
{
    char                            *err;
    size_t                           i, len;
    u_char                          *p, *end;
    ngx_str_t                        table, owner, nonce;
    ngx_uint_t                       slashes;
    ngx_http_lfv_store_lease_t       l;
    ngx_http_lfv_store_limits_t      lim;
    ngx_http_lfv_store_lease_req_t   r;

    err = NULL;

    if (ngx_http_lfv_store_lease_parse(item, &l, &err) == NGX_OK) {

        if (l.team.len == 0 || l.team.len > 128 || l.units == 0
            || l.pending > 1 || l.alerted > 1
            || l.nonce.len != NGX_HTTP_LFV_STORE_NONCE_LEN)
        {
            abort();
        }

        ngx_lfv_fuzz_inside(&l.team, start, last);
        ngx_lfv_fuzz_inside(&l.key, start, last);
        ngx_lfv_fuzz_inside(&l.region, start, last);
        ngx_lfv_fuzz_inside(&l.owner, start, last);
        ngx_lfv_fuzz_inside(&l.nonce, start, last);

        slashes = 0;
        end = l.key.data + l.key.len;

        for (p = l.key.data; p < end; p++) {
            if (*p == '/') {
                if (p == l.key.data || p + 1 == end || p[1] == '/') {
                    abort();
                }

                slashes++;
            }
        }

        if (slashes != 2) {
            abort();
        }

        ngx_str_set(&table, "lfv-limits");
        ngx_str_set(&owner, "ip-10-0-0-1.ec2.internal/4242");

        for (i = 0; i < 7; i++) {
            ngx_memzero(&r, sizeof(ngx_http_lfv_store_lease_req_t));

            if ((i < 2 ? ngx_http_lfv_store_lease_put(&r, &table, &l, i)
                 : i < 5 ? ngx_http_lfv_store_lease_delete(&r, &table,
                                                           &l.team, &l.key,
                                                           i - 2, &owner)
                 : i == 5 ? ngx_http_lfv_store_lease_claim(&r, &table, &l,
                                                           l.due, 120,
                                                           &owner)
                 : ngx_http_lfv_store_lease_update(&r, &table, &l, &owner))
                != NGX_OK)
            {
                abort();
            }

            len = ngx_http_lfv_ddb_request_len(&r.req, &err);

            if (len == 0) {
                abort();
            }

            ngx_lfv_fuzz_written(&r.req, len);
        }

    } else if (err == NULL) {
        abort();
    }

    err = NULL;

    if (ngx_http_lfv_store_limits_parse(item, &lim, &err) == NGX_OK) {

        if (lim.version == 0) {
            abort();
        }

        ngx_lfv_fuzz_inside(&lim.admitted, start, last);

        for (i = 0; i < lim.admitted.len;
             i += NGX_HTTP_LFV_STORE_NONCE_LEN + 1)
        {
            nonce.data = lim.admitted.data + i;
            nonce.len = NGX_HTTP_LFV_STORE_NONCE_LEN;

            if (i + nonce.len > lim.admitted.len
                || !ngx_http_lfv_store_limits_admit(&lim.admitted, &nonce))
            {
                abort();
            }
        }

    } else if (err == NULL) {
        abort();
    }
}


static void
ngx_lfv_fuzz_inside(ngx_str_t *s, u_char *start, u_char *last)
{
    if (s->len && (s->data < start || s->data + s->len > last)) {
        abort();
    }
}


static void
ngx_lfv_fuzz_written(ngx_http_lfv_ddb_request_t *req, size_t len)
{
    u_char     *buf, *end;
    size_t      i;
    ngx_str_t   none[1], value;

    buf = malloc(len);
    if (buf == NULL) {
        abort();
    }

    end = ngx_http_lfv_ddb_write_request(buf, req);

    if (end != buf + len) {
        abort();
    }

    for (i = 0; i < len; i++) {
        if (buf[i] < 0x20 || buf[i] > 0x7e) {
            abort();
        }
    }

    ngx_str_null(&none[0]);

    if (ngx_http_lfv_json_object(buf, len, none, &value) != NGX_OK) {
        abort();
    }

    free(buf);
}


static void
ngx_lfv_fuzz_writer(const uint8_t *data, size_t size)
{
    char                        *err;
    u_char                      *p, *q;
    size_t                       len;
    int64_t                      v;
    ngx_str_t                    f[NGX_LFV_FUZZ_FIELDS];
    ngx_uint_t                   n, i, k;
    ngx_http_lfv_ddb_item_t      attrs, *to;
    ngx_http_lfv_ddb_attr_t     *a;
    ngx_http_lfv_ddb_name_t      names[NGX_HTTP_LFV_DDB_NAMES_MAX + 1];
    ngx_http_lfv_ddb_request_t   req;

    p = ngx_lfv_unit_copy(data, size);

    n = ngx_lfv_unit_split(p, size, f, NGX_LFV_FUZZ_FIELDS);

    if (n < 5 || f[0].len == 0) {
        free(p);
        return;
    }

    ngx_memzero(&req, sizeof(ngx_http_lfv_ddb_request_t));
    ngx_memzero(&attrs, sizeof(ngx_http_lfv_ddb_item_t));

    req.op = (ngx_http_lfv_ddb_op_e) (f[0].data[0] % 6);
    req.table = f[1];
    req.pk = f[2];
    req.sk = f[3];

    if (f[0].len > 1) {
        req.limit = f[0].data[1];
    }

    if (f[0].len > 2) {
        req.consistent = f[0].data[2] & 1;
        req.ret = (ngx_http_lfv_ddb_return_e) ((f[0].data[2] >> 1) & 7);
    }

    switch (req.op) {

    case NGX_HTTP_LFV_DDB_UPDATE_ITEM:
        req.update = f[4];
        break;

    case NGX_HTTP_LFV_DDB_QUERY:
        req.key_condition = f[4];
        break;

    default:
        req.condition = f[4];
        break;
    }

    /* the pairs: names, then PutItem's item or the values */

    to = &attrs;

    for (i = 5; i + 1 < n; i += 2) {

        if (f[i].len && f[i].data[0] == '#') {

            if (req.nnames <= NGX_HTTP_LFV_DDB_NAMES_MAX) {
                names[req.nnames].placeholder = f[i];
                names[req.nnames].name = f[i + 1];
            }

            req.names = names;
            req.nnames++;
            continue;
        }

        if (to->nattrs >= NGX_HTTP_LFV_DDB_ATTRS_MAX) {
            to->nattrs = NGX_HTTP_LFV_DDB_ATTRS_MAX + 1;
            continue;
        }

        a = &to->attrs[to->nattrs++];
        a->name = f[i];

        if (f[i + 1].len && f[i + 1].data[0] == 0x01) {
            a->type = NGX_HTTP_LFV_DDB_N;

            for (v = 0, k = 1, q = f[i + 1].data;
                 k < f[i + 1].len && k <= 8;
                 k++)
            {
                v |= (int64_t) ((uint64_t) q[k] << (8 * (k - 1)));
            }

            a->n = v;

        } else {
            a->type = NGX_HTTP_LFV_DDB_S;
            a->s = f[i + 1];
        }
    }

    if (req.nnames > NGX_HTTP_LFV_DDB_NAMES_MAX + 1) {
        req.nnames = NGX_HTTP_LFV_DDB_NAMES_MAX + 1;
    }

    if (req.op == NGX_HTTP_LFV_DDB_PUT_ITEM) {
        req.item = attrs.nattrs ? &attrs : NULL;

    } else if (req.op != NGX_HTTP_LFV_DDB_GET_ITEM) {
        req.values = attrs.nattrs ? &attrs : NULL;

    } else {
        req.names = NULL;
        req.nnames = 0;
    }

    err = NULL;
    len = ngx_http_lfv_ddb_request_len(&req, &err);

    if ((len != 0) != ngx_lfv_fuzz_valid(&req)) {
        abort();
    }

    if (len == 0) {

        if (err == NULL || err[0] == '\0'
            || ngx_http_lfv_ddb_write_request(p, &req) != p)
        {
            abort();
        }

        free(p);
        return;
    }

    ngx_lfv_fuzz_written(&req, len);

    if (req.op == NGX_HTTP_LFV_DDB_PUT_ITEM && req.item) {
        ngx_lfv_fuzz_put_back(req.item);
    }

    free(p);
}


/* the writer's rules, written apart from the writer's code */

static ngx_uint_t
ngx_lfv_fuzz_valid(ngx_http_lfv_ddb_request_t *req)
{
    size_t                    i;
    ngx_uint_t                k, key, ret_max;
    ngx_http_lfv_ddb_item_t  *item;

    if (req->table.len < 3 || req->table.len > 255) {
        return 0;
    }

    for (i = 0; i < req->table.len; i++) {
        if (!isalnum(req->table.data[i]) && req->table.data[i] != '_'
            && req->table.data[i] != '.' && req->table.data[i] != '-')
        {
            return 0;
        }
    }

    key = 1;
    ret_max = NGX_HTTP_LFV_DDB_RETURN_ALL_OLD;

    switch (req->op) {

    case NGX_HTTP_LFV_DDB_GET_ITEM:

        if (req->condition.len || req->limit || req->ret) {
            return 0;
        }

        break;

    case NGX_HTTP_LFV_DDB_PUT_ITEM:
    case NGX_HTTP_LFV_DDB_DELETE_ITEM:

        if (req->limit || req->consistent) {
            return 0;
        }

        break;

    case NGX_HTTP_LFV_DDB_UPDATE_ITEM:

        if (req->limit || req->consistent
            || !ngx_lfv_fuzz_string(&req->update, 1, 4096))
        {
            return 0;
        }

        ret_max = NGX_HTTP_LFV_DDB_RETURN_UPDATED_NEW;
        break;

    case NGX_HTTP_LFV_DDB_QUERY:

        if (req->pk.len || req->sk.len || req->ret || req->limit == 0
            || !ngx_lfv_fuzz_string(&req->key_condition, 1, 4096))
        {
            return 0;
        }

        key = 0;
        break;

    default:
        return 0;
    }

    if (req->ret > ret_max) {
        return 0;
    }

    if (key && (!ngx_lfv_fuzz_string(&req->pk, 1, 1024)
                || !ngx_lfv_fuzz_string(&req->sk, 1, 1024)))
    {
        return 0;
    }

    if (req->condition.len && !ngx_lfv_fuzz_string(&req->condition, 1, 4096))
    {
        return 0;
    }

    if (req->nnames > 16) {
        return 0;
    }

    for (k = 0; k < req->nnames; k++) {

        if (!ngx_lfv_fuzz_name(&req->names[k].placeholder, 1)
            || req->names[k].placeholder.len > 64
            || !ngx_lfv_fuzz_name(&req->names[k].name, 0))
        {
            return 0;
        }

        for (i = 0; i < k; i++) {
            if (ngx_lfv_fuzz_same(&req->names[i].placeholder,
                                  &req->names[k].placeholder))
            {
                return 0;
            }
        }
    }

    if (req->item) {
        item = req->item;

        if (!ngx_lfv_fuzz_attrs_valid(item, 0, 14)) {
            return 0;
        }

        for (k = 0; k < item->nattrs; k++) {
            if (item->attrs[k].name.len == 2
                && (ngx_strncmp(item->attrs[k].name.data, "pk", 2) == 0
                    || ngx_strncmp(item->attrs[k].name.data, "sk", 2) == 0))
            {
                return 0;
            }
        }
    }

    if (req->values && !ngx_lfv_fuzz_attrs_valid(req->values, ':', 16)) {
        return 0;
    }

    return 1;
}


static ngx_uint_t
ngx_lfv_fuzz_attrs_valid(ngx_http_lfv_ddb_item_t *item, u_char prefix,
    ngx_uint_t max)
{
    ngx_uint_t                k, i;
    ngx_http_lfv_ddb_attr_t  *a;

    if (item->nattrs > max) {
        return 0;
    }

    for (k = 0; k < item->nattrs; k++) {
        a = &item->attrs[k];

        if (prefix) {
            if (a->name.len < 2 || a->name.len > 64
                || a->name.data[0] != prefix
                || !ngx_lfv_fuzz_name(&a->name, 1))
            {
                return 0;
            }

        } else if (!ngx_lfv_fuzz_name(&a->name, 0)) {
            return 0;
        }

        for (i = 0; i < k; i++) {
            if (ngx_lfv_fuzz_same(&item->attrs[i].name, &a->name)) {
                return 0;
            }
        }

        if (a->type == NGX_HTTP_LFV_DDB_S
            && !ngx_lfv_fuzz_string(&a->s, 0, 1024))
        {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_lfv_fuzz_string(ngx_str_t *s, size_t min, size_t max)
{
    return s->len >= min && s->len <= max
           && ngx_lfv_fuzz_utf8(s->data, s->len);
}


/* decoded, then its range checked: no overlong, surrogate, past U+10FFFF */

static ngx_uint_t
ngx_lfv_fuzz_utf8(u_char *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  c;

    static const uint32_t  least[] = { 0, 0x80, 0x800, 0x10000 };

    for (i = 0; i < len; i += n + 1) {

        if ((p[i] & 0x80) == 0x00) {
            n = 0;
            c = p[i];

        } else if ((p[i] & 0xe0) == 0xc0) {
            n = 1;
            c = p[i] & 0x1f;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 2;
            c = p[i] & 0x0f;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 3;
            c = p[i] & 0x07;

        } else {
            return 0;
        }

        if (i + n >= len) {
            return 0;
        }

        for (k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            c = (c << 6) | (p[i + k] & 0x3f);
        }

        if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


/* skip bytes, then 1..64 - skip of [A-Za-z0-9_] */

static ngx_uint_t
ngx_lfv_fuzz_name(ngx_str_t *s, size_t skip)
{
    size_t  i;

    if (s->len <= skip || s->len > 64) {
        return 0;
    }

    for (i = skip; i < s->len; i++) {
        if (!isalnum(s->data[i]) && s->data[i] != '_') {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_lfv_fuzz_same(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_memcmp(a->data, b->data, a->len) == 0);
}


static ngx_uint_t
ngx_lfv_fuzz_same_attr(ngx_http_lfv_ddb_attr_t *a, ngx_http_lfv_ddb_attr_t *b)
{
    if (!ngx_lfv_fuzz_same(&a->name, &b->name) || a->type != b->type) {
        return 0;
    }

    if (a->type == NGX_HTTP_LFV_DDB_N) {
        return a->n == b->n;
    }

    return ngx_lfv_fuzz_same(&a->s, &b->s);
}
