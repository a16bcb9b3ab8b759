
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_json.h"
#include "ngx_http_lfv_ddb_doc.h"


/* Count and ScannedCount: below 2^31, where json_number() saturates */
#define NGX_HTTP_LFV_DDB_COUNT_MAX     2147483647

/* "#" or ":" and 1..63 bytes of [A-Za-z0-9_] */
#define NGX_HTTP_LFV_DDB_PLACEHOLDER_MAX  64

#define NGX_HTTP_LFV_DDB_TABLE_MIN     3
#define NGX_HTTP_LFV_DDB_TABLE_MAX     255

/* the fields of a request that an operation takes */

#define NGX_HTTP_LFV_DDB_F_KEY         0x0001
#define NGX_HTTP_LFV_DDB_F_ITEM        0x0002
#define NGX_HTTP_LFV_DDB_F_UPDATE      0x0004
#define NGX_HTTP_LFV_DDB_F_KEY_COND    0x0008
#define NGX_HTTP_LFV_DDB_F_CONDITION   0x0010
#define NGX_HTTP_LFV_DDB_F_NAMES       0x0020
#define NGX_HTTP_LFV_DDB_F_VALUES      0x0040
#define NGX_HTTP_LFV_DDB_F_START       0x0080
#define NGX_HTTP_LFV_DDB_F_LIMIT       0x0100
#define NGX_HTTP_LFV_DDB_F_RETURN      0x0200
#define NGX_HTTP_LFV_DDB_F_CONSISTENT  0x0400
#define NGX_HTTP_LFV_DDB_F_INDEX       0x0800

/* the members of a Query's answer read so far */

#define NGX_HTTP_LFV_DDB_SEEN_ITEMS    0x01
#define NGX_HTTP_LFV_DDB_SEEN_COUNT    0x02
#define NGX_HTTP_LFV_DDB_SEEN_SCANNED  0x04
#define NGX_HTTP_LFV_DDB_SEEN_LAST     0x08


typedef struct {
    ngx_str_t                   target;
    ngx_uint_t                  takes;
    ngx_uint_t                  needs;
    ngx_uint_t                  any_return;     /* else ALL_OLD only */
} ngx_http_lfv_ddb_op_t;


typedef struct {
    ngx_str_t                   name;
    char                       *err;
} ngx_http_lfv_ddb_refused_t;


/* the writer's output; pos NULL: only counted and checked */

typedef struct {
    u_char                     *pos;
    size_t                      len;
    char                       *err;
} ngx_http_lfv_ddb_out_t;


static ngx_int_t ngx_http_lfv_ddb_begin(ngx_http_lfv_json_t *j, u_char *p,
    size_t len);
static ngx_int_t ngx_http_lfv_ddb_end(ngx_http_lfv_json_t *j);
static ngx_int_t ngx_http_lfv_ddb_member(ngx_http_lfv_json_t *j,
    ngx_uint_t *n, ngx_str_t *name);
static ngx_int_t ngx_http_lfv_ddb_item(ngx_http_lfv_json_t *j,
    ngx_http_lfv_ddb_item_t *item);
static ngx_int_t ngx_http_lfv_ddb_items(ngx_http_lfv_json_t *j,
    ngx_http_lfv_ddb_query_t *q);
static ngx_int_t ngx_http_lfv_ddb_value(ngx_http_lfv_json_t *j,
    ngx_http_lfv_ddb_attr_t *attr);
static ngx_int_t ngx_http_lfv_ddb_count(ngx_http_lfv_json_t *j,
    ngx_uint_t *value, char *invalid);
static char *ngx_http_lfv_ddb_number(ngx_str_t *s, int64_t *value);
static ngx_int_t ngx_http_lfv_ddb_string(ngx_http_lfv_json_t *j,
    ngx_str_t *s);
static char *ngx_http_lfv_ddb_error_type(ngx_str_t *type);
static u_char *ngx_http_lfv_ddb_utf8(u_char *p, u_char *last, uint32_t *cp);
static u_char *ngx_http_lfv_ddb_utf8_put(u_char *p, uint32_t c);
static uint32_t ngx_http_lfv_ddb_hex4(u_char *p);
static ngx_uint_t ngx_http_lfv_ddb_is(ngx_str_t *s, char *word);
static ngx_uint_t ngx_http_lfv_ddb_name_valid(ngx_str_t *s);
static ngx_uint_t ngx_http_lfv_ddb_placeholder_valid(ngx_str_t *s,
    u_char prefix);

static void ngx_http_lfv_ddb_emit(ngx_http_lfv_ddb_out_t *o,
    ngx_http_lfv_ddb_request_t *req);
static ngx_uint_t ngx_http_lfv_ddb_table_name(ngx_str_t *name);
static ngx_uint_t ngx_http_lfv_ddb_fields(ngx_http_lfv_ddb_request_t *req);
static void ngx_http_lfv_ddb_emit_key(ngx_http_lfv_ddb_out_t *o,
    ngx_http_lfv_ddb_request_t *req);
static void ngx_http_lfv_ddb_emit_expr(ngx_http_lfv_ddb_out_t *o,
    char *member, size_t len, ngx_str_t *expr);
static void ngx_http_lfv_ddb_emit_names(ngx_http_lfv_ddb_out_t *o,
    ngx_http_lfv_ddb_request_t *req);
static void ngx_http_lfv_ddb_emit_attrs(ngx_http_lfv_ddb_out_t *o,
    ngx_http_lfv_ddb_item_t *item, u_char prefix, ngx_uint_t comma);
static void ngx_http_lfv_ddb_emit_string(ngx_http_lfv_ddb_out_t *o,
    ngx_str_t *s);
static void ngx_http_lfv_ddb_emit_u(ngx_http_lfv_ddb_out_t *o, uint32_t c);
static void ngx_http_lfv_ddb_emit_number(ngx_http_lfv_ddb_out_t *o,
    int64_t n, ngx_uint_t quoted);
static void ngx_http_lfv_ddb_out(ngx_http_lfv_ddb_out_t *o, void *data,
    size_t len);
static void ngx_http_lfv_ddb_fail(ngx_http_lfv_ddb_out_t *o, char *err);


#define ngx_http_lfv_ddb_literal(o, s)                                       \
    ngx_http_lfv_ddb_out(o, s, sizeof(s) - 1)

#define ngx_http_lfv_ddb_name_char(c)                                        \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                \
     || ((c) >= '0' && (c) <= '9') || (c) == '_')


/* in the order of ngx_http_lfv_ddb_op_e */

static ngx_http_lfv_ddb_op_t  ngx_http_lfv_ddb_ops[] = {

    { ngx_string("DynamoDB_20120810.GetItem"),
      NGX_HTTP_LFV_DDB_F_KEY | NGX_HTTP_LFV_DDB_F_CONSISTENT,
      NGX_HTTP_LFV_DDB_F_KEY, 0 },

    { ngx_string("DynamoDB_20120810.PutItem"),
      NGX_HTTP_LFV_DDB_F_KEY | NGX_HTTP_LFV_DDB_F_ITEM
      | NGX_HTTP_LFV_DDB_F_CONDITION | NGX_HTTP_LFV_DDB_F_NAMES
      | NGX_HTTP_LFV_DDB_F_VALUES | NGX_HTTP_LFV_DDB_F_RETURN,
      NGX_HTTP_LFV_DDB_F_KEY, 0 },

    { ngx_string("DynamoDB_20120810.UpdateItem"),
      NGX_HTTP_LFV_DDB_F_KEY | NGX_HTTP_LFV_DDB_F_UPDATE
      | NGX_HTTP_LFV_DDB_F_CONDITION | NGX_HTTP_LFV_DDB_F_NAMES
      | NGX_HTTP_LFV_DDB_F_VALUES | NGX_HTTP_LFV_DDB_F_RETURN,
      NGX_HTTP_LFV_DDB_F_KEY | NGX_HTTP_LFV_DDB_F_UPDATE, 1 },

    { ngx_string("DynamoDB_20120810.DeleteItem"),
      NGX_HTTP_LFV_DDB_F_KEY | NGX_HTTP_LFV_DDB_F_CONDITION
      | NGX_HTTP_LFV_DDB_F_NAMES | NGX_HTTP_LFV_DDB_F_VALUES
      | NGX_HTTP_LFV_DDB_F_RETURN,
      NGX_HTTP_LFV_DDB_F_KEY, 0 },

    { ngx_string("DynamoDB_20120810.Query"),
      NGX_HTTP_LFV_DDB_F_KEY_COND | NGX_HTTP_LFV_DDB_F_LIMIT
      | NGX_HTTP_LFV_DDB_F_NAMES | NGX_HTTP_LFV_DDB_F_VALUES
      | NGX_HTTP_LFV_DDB_F_START | NGX_HTTP_LFV_DDB_F_CONSISTENT
      | NGX_HTTP_LFV_DDB_F_INDEX,
      NGX_HTTP_LFV_DDB_F_KEY_COND | NGX_HTTP_LFV_DDB_F_LIMIT, 0 }
};


/* in the order of ngx_http_lfv_ddb_return_e */

static ngx_str_t  ngx_http_lfv_ddb_returns[] = {
    ngx_string("NONE"),
    ngx_string("ALL_OLD"),
    ngx_string("UPDATED_OLD"),
    ngx_string("ALL_NEW"),
    ngx_string("UPDATED_NEW")
};


/* DynamoDB's other types, refused by name */

static ngx_http_lfv_ddb_refused_t  ngx_http_lfv_ddb_refused[] = {
    { ngx_string("BOOL"), "an attribute of type BOOL" },
    { ngx_string("NULL"), "an attribute of type NULL" },
    { ngx_string("M"), "an attribute of type M" },
    { ngx_string("L"), "an attribute of type L" },
    { ngx_string("SS"), "an attribute of type SS" },
    { ngx_string("NS"), "an attribute of type NS" },
    { ngx_string("B"), "an attribute of type B" },
    { ngx_string("BS"), "an attribute of type BS" },
    { ngx_null_string, NULL }
};


ngx_int_t
ngx_http_lfv_ddb_parse_item(u_char *p, size_t len, ngx_http_lfv_ddb_op_e op,
    ngx_http_lfv_ddb_item_t *item, ngx_uint_t *found, char **err)
{
    char                 *want, *twice;
    ngx_int_t             rc;
    ngx_str_t             name;
    ngx_uint_t            n;
    ngx_http_lfv_json_t   j;

    ngx_memzero(item, sizeof(ngx_http_lfv_ddb_item_t));
    *found = 0;

    switch (op) {

    case NGX_HTTP_LFV_DDB_GET_ITEM:
        want = "Item";
        twice = "Item given twice";
        break;

    case NGX_HTTP_LFV_DDB_PUT_ITEM:
    case NGX_HTTP_LFV_DDB_UPDATE_ITEM:
    case NGX_HTTP_LFV_DDB_DELETE_ITEM:
        want = "Attributes";
        twice = "Attributes given twice";
        break;

    default:
        *err = "an operation whose answer has no item";
        return NGX_ERROR;
    }

    if (ngx_http_lfv_ddb_begin(&j, p, len) != NGX_OK) {
        goto failed;
    }

    n = 0;

    for ( ;; ) {
        rc = ngx_http_lfv_ddb_member(&j, &n, &name);

        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            goto failed;
        }

        if (ngx_http_lfv_ddb_is(&name, want)) {

            if (*found) {
                j.err = twice;
                goto failed;
            }

            if (ngx_http_lfv_ddb_item(&j, item) != NGX_OK) {
                goto failed;
            }

            *found = 1;
            continue;
        }

        if (ngx_http_lfv_json_skip_value(&j, 1) != NGX_OK) {
            goto failed;
        }
    }

    if (ngx_http_lfv_ddb_end(&j) == NGX_OK) {
        return NGX_OK;
    }

failed:

    ngx_memzero(item, sizeof(ngx_http_lfv_ddb_item_t));
    *found = 0;
    *err = j.err;

    return NGX_ERROR;
}


ngx_int_t
ngx_http_lfv_ddb_parse_query(u_char *p, size_t len,
    ngx_http_lfv_ddb_query_t *q, char **err)
{
    ngx_int_t             rc;
    ngx_str_t             name;
    ngx_uint_t            n, count, scanned, seen;
    ngx_http_lfv_json_t   j;

    if (q->items) {
        ngx_memzero(q->items, q->max * sizeof(ngx_http_lfv_ddb_item_t));
    }

    q->nitems = 0;
    q->scanned = 0;
    q->more = 0;
    ngx_memzero(&q->last_key, sizeof(ngx_http_lfv_ddb_item_t));

    count = 0;
    scanned = 0;
    seen = 0;

    if (q->items == NULL && q->max) {
        j.err = "no room for the Items";
        goto failed;
    }

    if (ngx_http_lfv_ddb_begin(&j, p, len) != NGX_OK) {
        goto failed;
    }

    n = 0;

    for ( ;; ) {
        rc = ngx_http_lfv_ddb_member(&j, &n, &name);

        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            goto failed;
        }

        if (ngx_http_lfv_ddb_is(&name, "Items")) {

            if (seen & NGX_HTTP_LFV_DDB_SEEN_ITEMS) {
                j.err = "Items given twice";
                goto failed;
            }

            seen |= NGX_HTTP_LFV_DDB_SEEN_ITEMS;

            if (ngx_http_lfv_ddb_items(&j, q) != NGX_OK) {
                goto failed;
            }

        } else if (ngx_http_lfv_ddb_is(&name, "Count")) {

            if (seen & NGX_HTTP_LFV_DDB_SEEN_COUNT) {
                j.err = "Count given twice";
                goto failed;
            }

            seen |= NGX_HTTP_LFV_DDB_SEEN_COUNT;

            if (ngx_http_lfv_ddb_count(&j, &count,
                                       "Count is not an integer "
                                       "0..2147483647")
                != NGX_OK)
            {
                goto failed;
            }

        } else if (ngx_http_lfv_ddb_is(&name, "ScannedCount")) {

            if (seen & NGX_HTTP_LFV_DDB_SEEN_SCANNED) {
                j.err = "ScannedCount given twice";
                goto failed;
            }

            seen |= NGX_HTTP_LFV_DDB_SEEN_SCANNED;

            if (ngx_http_lfv_ddb_count(&j, &scanned,
                                       "ScannedCount is not an integer "
                                       "0..2147483647")
                != NGX_OK)
            {
                goto failed;
            }

        } else if (ngx_http_lfv_ddb_is(&name, "LastEvaluatedKey")) {

            if (seen & NGX_HTTP_LFV_DDB_SEEN_LAST) {
                j.err = "LastEvaluatedKey given twice";
                goto failed;
            }

            seen |= NGX_HTTP_LFV_DDB_SEEN_LAST;

            if (ngx_http_lfv_ddb_item(&j, &q->last_key) != NGX_OK) {
                goto failed;
            }

            if (q->last_key.nattrs == 0) {
                j.err = "LastEvaluatedKey is empty";
                goto failed;
            }

            q->more = 1;

        } else if (ngx_http_lfv_json_skip_value(&j, 1) != NGX_OK) {
            goto failed;
        }
    }

    if (ngx_http_lfv_ddb_end(&j) != NGX_OK) {
        goto failed;
    }

    if (!(seen & NGX_HTTP_LFV_DDB_SEEN_ITEMS)) {
        j.err = "no Items";
        goto failed;
    }

    if (!(seen & NGX_HTTP_LFV_DDB_SEEN_COUNT)) {
        j.err = "no Count";
        goto failed;
    }

    if (count != q->nitems) {
        j.err = "Count is not the number of Items";
        goto failed;
    }

    if ((seen & NGX_HTTP_LFV_DDB_SEEN_SCANNED) && scanned < count) {
        j.err = "ScannedCount is below Count";
        goto failed;
    }

    q->scanned = scanned;

    return NGX_OK;

failed:

    if (q->items) {
        ngx_memzero(q->items, q->max * sizeof(ngx_http_lfv_ddb_item_t));
    }

    q->nitems = 0;
    q->scanned = 0;
    q->more = 0;
    ngx_memzero(&q->last_key, sizeof(ngx_http_lfv_ddb_item_t));

    *err = j.err;

    return NGX_ERROR;
}


ngx_int_t
ngx_http_lfv_ddb_parse_error(u_char *p, size_t len,
    ngx_http_lfv_ddb_error_t *e, char **err)
{
    ngx_int_t             rc;
    ngx_str_t             name, type;
    ngx_uint_t            n, typed, told;
    ngx_http_lfv_json_t   j;

    ngx_memzero(e, sizeof(ngx_http_lfv_ddb_error_t));
    ngx_str_null(&type);

    typed = 0;
    told = 0;

    if (ngx_http_lfv_ddb_begin(&j, p, len) != NGX_OK) {
        goto failed;
    }

    n = 0;

    for ( ;; ) {
        rc = ngx_http_lfv_ddb_member(&j, &n, &name);

        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            goto failed;
        }

        if (ngx_http_lfv_ddb_is(&name, "__type")) {

            if (typed) {
                j.err = "__type given twice";
                goto failed;
            }

            if (*j.pos != '"') {
                j.err = "__type is not a JSON string";
                goto failed;
            }

            if (ngx_http_lfv_ddb_string(&j, &type) != NGX_OK) {
                goto failed;
            }

            typed = 1;

        } else if (ngx_http_lfv_ddb_is(&name, "message")
                   || ngx_http_lfv_ddb_is(&name, "Message"))
        {
            if (told) {
                j.err = "message given twice";
                goto failed;
            }

            if (*j.pos != '"') {
                j.err = "message is not a JSON string";
                goto failed;
            }

            if (ngx_http_lfv_ddb_string(&j, &e->message) != NGX_OK) {
                goto failed;
            }

            told = 1;

        } else if (ngx_http_lfv_json_skip_value(&j, 1) != NGX_OK) {
            goto failed;
        }
    }

    if (ngx_http_lfv_ddb_end(&j) != NGX_OK) {
        goto failed;
    }

    if (!typed) {
        j.err = "no __type";
        goto failed;
    }

    j.err = ngx_http_lfv_ddb_error_type(&type);

    if (j.err == NULL) {
        e->type = type;
        return NGX_OK;
    }

failed:

    ngx_memzero(e, sizeof(ngx_http_lfv_ddb_error_t));
    *err = j.err;

    return NGX_ERROR;
}


/* the short type: what follows the last "#" */

static char *
ngx_http_lfv_ddb_error_type(ngx_str_t *type)
{
    u_char  *p, *last, *start;

    if (type->len == 0 || type->len > NGX_HTTP_LFV_DDB_TYPE_MAX) {
        return "__type is not 1..256 bytes";
    }

    last = type->data + type->len;
    start = type->data;

    for (p = type->data; p < last; p++) {

        if (*p < 0x21 || *p > 0x7e) {
            return "__type has a byte out of visible ASCII";
        }

        if (*p == '#') {
            start = p + 1;
        }
    }

    if (start == last) {
        return "__type has no name after its \"#\"";
    }

    for (p = start; p < last; p++) {
        if (!ngx_http_lfv_ddb_name_char(*p) || *p == '_') {
            return "__type does not end with a name of [A-Za-z0-9]";
        }
    }

    type->data = start;
    type->len = last - start;

    return NULL;
}


ngx_http_lfv_ddb_attr_t *
ngx_http_lfv_ddb_attr(ngx_http_lfv_ddb_item_t *item, char *name)
{
    ngx_uint_t  i;

    for (i = 0; i < item->nattrs && i < NGX_HTTP_LFV_DDB_ATTRS_MAX; i++) {
        if (ngx_http_lfv_ddb_is(&item->attrs[i].name, name)) {
            return &item->attrs[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_lfv_ddb_begin(ngx_http_lfv_json_t *j, u_char *p, size_t len)
{
    j->pos = ngx_http_lfv_json_space(p, p + len);
    j->last = p + len;
    j->err = NULL;

    /* DynamoDB's strings are any Unicode; UTF-8 is checked when decoded */

    j->any_text = 1;

    if (j->pos == j->last) {
        j->err = "the answer is empty";
        return NGX_ERROR;
    }

    if (*j->pos != '{') {
        j->err = "the answer is not a JSON object";
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_ddb_end(ngx_http_lfv_json_t *j)
{
    j->pos = ngx_http_lfv_json_space(j->pos, j->last);

    if (j->pos != j->last) {
        j->err = "data after the JSON object";
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * With *n 0, on an object's "{": its first member; else, after a
 * member's value, the next one.  The name is decoded, pos is left on
 * the value (not at the end); NGX_DONE past the object's "}".
 */

static ngx_int_t
ngx_http_lfv_ddb_member(ngx_http_lfv_json_t *j, ngx_uint_t *n,
    ngx_str_t *name)
{
    j->pos = ngx_http_lfv_json_space(j->pos, j->last);

    if (j->pos == j->last) {
        goto truncated;
    }

    if (*n == 0) {
        j->pos = ngx_http_lfv_json_space(j->pos + 1, j->last);

        if (j->pos == j->last) {
            goto truncated;
        }

        if (*j->pos == '}') {
            j->pos++;
            return NGX_DONE;
        }

    } else {

        if (*j->pos == '}') {
            j->pos++;
            return NGX_DONE;
        }

        if (*j->pos != ',') {
            goto invalid;
        }

        j->pos = ngx_http_lfv_json_space(j->pos + 1, j->last);

        if (j->pos == j->last) {
            goto truncated;
        }
    }

    if (*j->pos != '"') {
        goto invalid;
    }

    if (ngx_http_lfv_ddb_string(j, name) != NGX_OK) {
        return NGX_ERROR;
    }

    j->pos = ngx_http_lfv_json_space(j->pos, j->last);

    if (j->pos == j->last) {
        goto truncated;
    }

    if (*j->pos != ':') {
        goto invalid;
    }

    j->pos = ngx_http_lfv_json_space(j->pos + 1, j->last);

    if (j->pos == j->last) {
        goto truncated;
    }

    (*n)++;

    return NGX_OK;

truncated:

    j->err = "truncated JSON";
    return NGX_ERROR;

invalid:

    j->err = "invalid JSON";
    return NGX_ERROR;
}


/* an item at pos: a map of names to attribute values */

static ngx_int_t
ngx_http_lfv_ddb_item(ngx_http_lfv_json_t *j, ngx_http_lfv_ddb_item_t *item)
{
    ngx_int_t                 rc;
    ngx_str_t                 name;
    ngx_uint_t                n, i;
    ngx_http_lfv_ddb_attr_t  *attr;

    if (*j->pos != '{') {
        j->err = "an item is not a JSON object";
        return NGX_ERROR;
    }

    item->nattrs = 0;
    n = 0;

    for ( ;; ) {
        rc = ngx_http_lfv_ddb_member(j, &n, &name);

        if (rc == NGX_DONE) {
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        if (item->nattrs == NGX_HTTP_LFV_DDB_ATTRS_MAX) {
            j->err = "an item has more than 16 attributes";
            return NGX_ERROR;
        }

        if (name.len == 0) {
            j->err = "an attribute name is empty";
            return NGX_ERROR;
        }

        if (name.len > NGX_HTTP_LFV_DDB_NAME_MAX) {
            j->err = "an attribute name is longer than 64 bytes";
            return NGX_ERROR;
        }

        if (!ngx_http_lfv_ddb_name_valid(&name)) {
            j->err = "an attribute name has a byte out of [A-Za-z0-9_]";
            return NGX_ERROR;
        }

        for (i = 0; i < item->nattrs; i++) {
            if (item->attrs[i].name.len == name.len
                && ngx_memcmp(item->attrs[i].name.data, name.data, name.len)
                   == 0)
            {
                j->err = "an attribute given twice in an item";
                return NGX_ERROR;
            }
        }

        attr = &item->attrs[item->nattrs];
        attr->name = name;

        if (ngx_http_lfv_ddb_value(j, attr) != NGX_OK) {
            return NGX_ERROR;
        }

        item->nattrs++;
    }
}


/* Query's Items at pos: an array of q->max items at most */

static ngx_int_t
ngx_http_lfv_ddb_items(ngx_http_lfv_json_t *j, ngx_http_lfv_ddb_query_t *q)
{
    if (*j->pos != '[') {
        j->err = "Items is not a JSON array";
        return NGX_ERROR;
    }

    j->pos = ngx_http_lfv_json_space(j->pos + 1, j->last);

    if (j->pos == j->last) {
        goto truncated;
    }

    if (*j->pos == ']') {
        j->pos++;
        return NGX_OK;
    }

    for ( ;; ) {

        if (q->nitems == q->max) {
            j->err = "more Items than asked for";
            return NGX_ERROR;
        }

        if (ngx_http_lfv_ddb_item(j, &q->items[q->nitems]) != NGX_OK) {
            return NGX_ERROR;
        }

        q->nitems++;

        j->pos = ngx_http_lfv_json_space(j->pos, j->last);

        if (j->pos == j->last) {
            goto truncated;
        }

        if (*j->pos == ']') {
            j->pos++;
            return NGX_OK;
        }

        if (*j->pos != ',') {
            j->err = "invalid JSON";
            return NGX_ERROR;
        }

        j->pos = ngx_http_lfv_json_space(j->pos + 1, j->last);

        if (j->pos == j->last) {
            goto truncated;
        }
    }

truncated:

    j->err = "truncated JSON";

    return NGX_ERROR;
}


/* an attribute value at pos: {"S": "..."} or {"N": "..."} */

static ngx_int_t
ngx_http_lfv_ddb_value(ngx_http_lfv_json_t *j, ngx_http_lfv_ddb_attr_t *attr)
{
    ngx_int_t                    rc;
    ngx_str_t                    type;
    ngx_uint_t                   n;
    ngx_http_lfv_ddb_refused_t  *r;

    if (*j->pos != '{') {
        j->err = "an attribute value is not a JSON object";
        return NGX_ERROR;
    }

    n = 0;

    rc = ngx_http_lfv_ddb_member(j, &n, &type);

    if (rc == NGX_DONE) {
        j->err = "an attribute value has no type";
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_lfv_ddb_is(&type, "S")) {
        attr->type = NGX_HTTP_LFV_DDB_S;

    } else if (ngx_http_lfv_ddb_is(&type, "N")) {
        attr->type = NGX_HTTP_LFV_DDB_N;

    } else {

        for (r = ngx_http_lfv_ddb_refused; r->name.len; r++) {
            if (type.len == r->name.len
                && ngx_memcmp(type.data, r->name.data, type.len) == 0)
            {
                j->err = r->err;
                return NGX_ERROR;
            }
        }

        j->err = "an attribute of an unknown type";
        return NGX_ERROR;
    }

    if (*j->pos != '"') {
        j->err = (attr->type == NGX_HTTP_LFV_DDB_S)
                 ? "an S value is not a JSON string"
                 : "an N value is not a JSON string";
        return NGX_ERROR;
    }

    if (ngx_http_lfv_ddb_string(j, &attr->s) != NGX_OK) {
        return NGX_ERROR;
    }

    if (attr->type == NGX_HTTP_LFV_DDB_S) {

        if (attr->s.len > NGX_HTTP_LFV_DDB_S_MAX) {
            j->err = "an S value is longer than 1024 bytes";
            return NGX_ERROR;
        }

    } else {
        j->err = ngx_http_lfv_ddb_number(&attr->s, &attr->n);

        if (j->err) {
            return NGX_ERROR;
        }
    }

    rc = ngx_http_lfv_ddb_member(j, &n, &type);

    if (rc == NGX_OK) {
        j->err = "an attribute value of more than one type";
        return NGX_ERROR;
    }

    return (rc == NGX_DONE) ? NGX_OK : NGX_ERROR;
}


/* a JSON number at pos: an integer 0..NGX_HTTP_LFV_DDB_COUNT_MAX */

static ngx_int_t
ngx_http_lfv_ddb_count(ngx_http_lfv_json_t *j, ngx_uint_t *value,
    char *invalid)
{
    u_char                      *p;
    ngx_http_lfv_json_number_t   n;

    p = ngx_http_lfv_json_number(j->pos, j->last, &n);

    if (n.malformed) {
        j->err = (p == j->last) ? "truncated JSON" : invalid;
        return NGX_ERROR;
    }

    if (n.negative || n.fraction || n.exponent
        || (n.digits[0] == '0' && n.ndigits > 1)
        || n.value > NGX_HTTP_LFV_DDB_COUNT_MAX)
    {
        j->err = invalid;
        return NGX_ERROR;
    }

    j->pos = p;
    *value = (ngx_uint_t) n.value;

    return NGX_OK;
}


/* an N value's text, decoded: -?(0|[1-9][0-9]*) within int64_t */

static char *
ngx_http_lfv_ddb_number(ngx_str_t *s, int64_t *value)
{
    u_char                      *p;
    size_t                       i;
    uint64_t                     v, max, d;
    ngx_http_lfv_json_number_t   n;

    if (s->len == 0) {
        return "an N value is empty";
    }

    p = ngx_http_lfv_json_number(s->data, s->data + s->len, &n);

    if (n.malformed || p != s->data + s->len) {
        return "an N value is not a number";
    }

    if (n.fraction) {
        return "an N value has a fraction (integers only)";
    }

    if (n.exponent) {
        return "an N value has an exponent (integers only)";
    }

    if (n.digits[0] == '0' && n.ndigits > 1) {
        return "an N value has a leading zero";
    }

    if (n.negative && n.digits[0] == '0') {
        return "an N value is -0";
    }

    max = n.negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;

    for (v = 0, i = 0; i < n.ndigits; i++) {
        d = n.digits[i] - '0';

        if (v > (max - d) / 10) {
            return "an N value is out of the int64 range";
        }

        v = v * 10 + d;
    }

    if (!n.negative) {
        *value = (int64_t) v;

    } else if (v == (uint64_t) INT64_MAX + 1) {
        *value = INT64_MIN;

    } else {
        *value = -(int64_t) v;
    }

    return NULL;
}


/*
 * The string at pos (its opening quote), checked by json_string(), then
 * decoded in place: the decoded text is never longer than its JSON.
 */

static ngx_int_t
ngx_http_lfv_ddb_string(ngx_http_lfv_json_t *j, ngx_str_t *s)
{
    u_char    *p, *q, *last, *next, ch;
    size_t     n;
    uint32_t   c, lo;

    p = j->pos + 1;

    if (ngx_http_lfv_json_string(j, NULL, 0, &n) != NGX_OK) {
        return NGX_ERROR;
    }

    /* escapes are well formed: each "\" has its byte, "\u" its 4 digits */

    last = j->pos - 1;
    q = p;

    s->data = p;

    while (p < last) {
        ch = *p;

        if (ch == '\\') {
            ch = p[1];

            if (ch == 'u') {
                c = ngx_http_lfv_ddb_hex4(p + 2);
                p += 6;

                if (c >= 0xd800 && c <= 0xdbff) {

                    if (last - p < 6 || p[0] != '\\' || p[1] != 'u') {
                        j->err = "a lone surrogate in a JSON string";
                        return NGX_ERROR;
                    }

                    lo = ngx_http_lfv_ddb_hex4(p + 2);

                    if (lo < 0xdc00 || lo > 0xdfff) {
                        j->err = "a lone surrogate in a JSON string";
                        return NGX_ERROR;
                    }

                    c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;

                } else if (c >= 0xdc00 && c <= 0xdfff) {
                    j->err = "a lone surrogate in a JSON string";
                    return NGX_ERROR;
                }

                q = ngx_http_lfv_ddb_utf8_put(q, c);
                continue;
            }

            switch (ch) {
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            case 'n':
                ch = '\n';
                break;
            case 'r':
                ch = '\r';
                break;
            case 't':
                ch = '\t';
                break;
            default: /* '"', '\\', '/' */
                break;
            }

            *q++ = ch;
            p += 2;
            continue;
        }

        if (ch < 0x80) {
            *q++ = *p++;
            continue;
        }

        next = ngx_http_lfv_ddb_utf8(p, last, &c);

        if (next == NULL) {
            j->err = "invalid UTF-8 in a JSON string";
            return NGX_ERROR;
        }

        while (p < next) {
            *q++ = *p++;
        }
    }

    s->len = q - s->data;

    return NGX_OK;
}


/*
 * One UTF-8 sequence at p, before last: its end and *cp, or NULL when
 * it is not UTF-8 (overlong, a surrogate, past U+10FFFF, cut short).
 */

static u_char *
ngx_http_lfv_ddb_utf8(u_char *p, u_char *last, uint32_t *cp)
{
    u_char      c, lo, hi;
    uint32_t    u;
    ngx_uint_t  i, n;

    c = *p;

    if (c < 0x80) {
        *cp = c;
        return p + 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        u = c & 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        u = c & 0x0f;

        if (c == 0xe0) {
            lo = 0xa0;

        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        u = c & 0x07;

        if (c == 0xf0) {
            lo = 0x90;

        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return NULL;
    }

    if ((size_t) (last - p) <= n) {
        return NULL;
    }

    for (i = 1; i <= n; i++) {
        c = p[i];

        if (c < lo || c > hi) {
            return NULL;
        }

        lo = 0x80;
        hi = 0xbf;

        u = (u << 6) | (c & 0x3f);
    }

    *cp = u;

    return p + n + 1;
}


static u_char *
ngx_http_lfv_ddb_utf8_put(u_char *p, uint32_t c)
{
    if (c < 0x80) {
        *p++ = (u_char) c;

    } else if (c < 0x800) {
        *p++ = (u_char) (0xc0 | (c >> 6));
        *p++ = (u_char) (0x80 | (c & 0x3f));

    } else if (c < 0x10000) {
        *p++ = (u_char) (0xe0 | (c >> 12));
        *p++ = (u_char) (0x80 | ((c >> 6) & 0x3f));
        *p++ = (u_char) (0x80 | (c & 0x3f));

    } else {
        *p++ = (u_char) (0xf0 | (c >> 18));
        *p++ = (u_char) (0x80 | ((c >> 12) & 0x3f));
        *p++ = (u_char) (0x80 | ((c >> 6) & 0x3f));
        *p++ = (u_char) (0x80 | (c & 0x3f));
    }

    return p;
}


/* four hex digits, checked by json_string() */

static uint32_t
ngx_http_lfv_ddb_hex4(u_char *p)
{
    u_char      c;
    uint32_t    v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            v = v * 16 + (c - '0');

        } else {
            v = v * 16 + ((c | 0x20) - 'a' + 10);
        }
    }

    return v;
}


static ngx_uint_t
ngx_http_lfv_ddb_is(ngx_str_t *s, char *word)
{
    size_t  n;

    n = ngx_strlen(word);

    return s->len == n && ngx_strncmp(s->data, word, n) == 0;
}


static ngx_uint_t
ngx_http_lfv_ddb_name_valid(ngx_str_t *s)
{
    size_t  i;

    if (s->len == 0 || s->len > NGX_HTTP_LFV_DDB_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        if (!ngx_http_lfv_ddb_name_char(s->data[i])) {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_http_lfv_ddb_placeholder_valid(ngx_str_t *s, u_char prefix)
{
    size_t  i;

    if (s->len < 2 || s->len > NGX_HTTP_LFV_DDB_PLACEHOLDER_MAX
        || s->data[0] != prefix)
    {
        return 0;
    }

    for (i = 1; i < s->len; i++) {
        if (!ngx_http_lfv_ddb_name_char(s->data[i])) {
            return 0;
        }
    }

    return 1;
}


size_t
ngx_http_lfv_ddb_request_len(ngx_http_lfv_ddb_request_t *req, char **err)
{
    ngx_http_lfv_ddb_out_t  o;

    o.pos = NULL;
    o.len = 0;
    o.err = NULL;

    ngx_http_lfv_ddb_emit(&o, req);

    if (o.err) {
        *err = o.err;
        return 0;
    }

    return o.len;
}


u_char *
ngx_http_lfv_ddb_write_request(u_char *p, ngx_http_lfv_ddb_request_t *req)
{
    ngx_http_lfv_ddb_out_t  o;

    /* checked first, so that nothing is written of a refused request */

    o.pos = NULL;
    o.len = 0;
    o.err = NULL;

    ngx_http_lfv_ddb_emit(&o, req);

    if (o.err) {
        return p;
    }

    o.pos = p;
    o.len = 0;

    ngx_http_lfv_ddb_emit(&o, req);

    return o.pos;
}


ngx_str_t *
ngx_http_lfv_ddb_target(ngx_http_lfv_ddb_op_e op)
{
    if ((ngx_uint_t) op > NGX_HTTP_LFV_DDB_QUERY) {
        return NULL;
    }

    return &ngx_http_lfv_ddb_ops[op].target;
}


/* the request's body; each rule is checked on the way, o->err on the first */

static void
ngx_http_lfv_ddb_emit(ngx_http_lfv_ddb_out_t *o,
    ngx_http_lfv_ddb_request_t *req)
{
    ngx_uint_t              set;
    ngx_http_lfv_ddb_op_t  *op;

    if ((ngx_uint_t) req->op > NGX_HTTP_LFV_DDB_QUERY) {
        ngx_http_lfv_ddb_fail(o, "an unknown operation");
        return;
    }

    op = &ngx_http_lfv_ddb_ops[req->op];
    set = ngx_http_lfv_ddb_fields(req);

    if (set & ~op->takes) {
        ngx_http_lfv_ddb_fail(o, "a field the operation does not take");
        return;
    }

    if ((set & op->needs) != op->needs) {
        ngx_http_lfv_ddb_fail(o, "a field the operation needs is missing");
        return;
    }

    if ((ngx_uint_t) req->ret > NGX_HTTP_LFV_DDB_RETURN_UPDATED_NEW
        || (req->ret != NGX_HTTP_LFV_DDB_RETURN_NONE && !op->any_return
            && req->ret != NGX_HTTP_LFV_DDB_RETURN_ALL_OLD))
    {
        ngx_http_lfv_ddb_fail(o, "ReturnValues the operation does not take");
        return;
    }

    if (req->table.len < NGX_HTTP_LFV_DDB_TABLE_MIN
        || req->table.len > NGX_HTTP_LFV_DDB_TABLE_MAX)
    {
        ngx_http_lfv_ddb_fail(o, "the table name is not 3..255 bytes");
        return;
    }

    if (!ngx_http_lfv_ddb_table_name(&req->table)) {
        ngx_http_lfv_ddb_fail(o, "the table name has a byte out of "
                                 "[A-Za-z0-9_.-]");
        return;
    }

    /* an index's names are a table's; DynamoDB reads a GSI eventually */

    if ((set & NGX_HTTP_LFV_DDB_F_INDEX)
        && (req->index.len < NGX_HTTP_LFV_DDB_TABLE_MIN
            || req->index.len > NGX_HTTP_LFV_DDB_TABLE_MAX
            || !ngx_http_lfv_ddb_table_name(&req->index)))
    {
        ngx_http_lfv_ddb_fail(o, "the index name is not 3..255 bytes of "
                                 "[A-Za-z0-9_.-]");
        return;
    }

    if ((set & NGX_HTTP_LFV_DDB_F_INDEX)
        && (set & NGX_HTTP_LFV_DDB_F_CONSISTENT))
    {
        ngx_http_lfv_ddb_fail(o, "a consistent read of an index");
        return;
    }

    ngx_http_lfv_ddb_literal(o, "{\"TableName\":");
    ngx_http_lfv_ddb_emit_string(o, &req->table);

    if (set & NGX_HTTP_LFV_DDB_F_INDEX) {
        ngx_http_lfv_ddb_literal(o, ",\"IndexName\":");
        ngx_http_lfv_ddb_emit_string(o, &req->index);
    }

    if (set & NGX_HTTP_LFV_DDB_F_KEY) {
        ngx_http_lfv_ddb_emit_key(o, req);
    }

    if (set & NGX_HTTP_LFV_DDB_F_UPDATE) {
        ngx_http_lfv_ddb_emit_expr(o, ",\"UpdateExpression\":",
                                   sizeof(",\"UpdateExpression\":") - 1,
                                   &req->update);
    }

    if (set & NGX_HTTP_LFV_DDB_F_KEY_COND) {
        ngx_http_lfv_ddb_emit_expr(o, ",\"KeyConditionExpression\":",
                                   sizeof(",\"KeyConditionExpression\":") - 1,
                                   &req->key_condition);
    }

    if (set & NGX_HTTP_LFV_DDB_F_CONDITION) {
        ngx_http_lfv_ddb_emit_expr(o, ",\"ConditionExpression\":",
                                   sizeof(",\"ConditionExpression\":") - 1,
                                   &req->condition);
    }

    if ((set & NGX_HTTP_LFV_DDB_F_NAMES) && req->nnames) {
        ngx_http_lfv_ddb_emit_names(o, req);
    }

    if ((set & NGX_HTTP_LFV_DDB_F_VALUES) && req->values->nattrs) {
        ngx_http_lfv_ddb_literal(o, ",\"ExpressionAttributeValues\":{");
        ngx_http_lfv_ddb_emit_attrs(o, req->values, ':', 0);
        ngx_http_lfv_ddb_literal(o, "}");
    }

    if (set & NGX_HTTP_LFV_DDB_F_START) {

        if (req->start->nattrs == 0) {
            ngx_http_lfv_ddb_fail(o, "ExclusiveStartKey is empty");
            return;
        }

        ngx_http_lfv_ddb_literal(o, ",\"ExclusiveStartKey\":{");
        ngx_http_lfv_ddb_emit_attrs(o, req->start, 0, 0);
        ngx_http_lfv_ddb_literal(o, "}");
    }

    if (set & NGX_HTTP_LFV_DDB_F_LIMIT) {

        if ((uint64_t) req->limit > NGX_HTTP_LFV_DDB_COUNT_MAX) {
            ngx_http_lfv_ddb_fail(o, "Limit is over 2147483647");
            return;
        }

        ngx_http_lfv_ddb_literal(o, ",\"Limit\":");
        ngx_http_lfv_ddb_emit_number(o, (int64_t) req->limit, 0);
    }

    if (set & NGX_HTTP_LFV_DDB_F_RETURN) {
        ngx_http_lfv_ddb_literal(o, ",\"ReturnValues\":\"");
        ngx_http_lfv_ddb_out(o, ngx_http_lfv_ddb_returns[req->ret].data,
                             ngx_http_lfv_ddb_returns[req->ret].len);
        ngx_http_lfv_ddb_literal(o, "\"");
    }

    if (set & NGX_HTTP_LFV_DDB_F_CONSISTENT) {
        ngx_http_lfv_ddb_literal(o, ",\"ConsistentRead\":true");
    }

    ngx_http_lfv_ddb_literal(o, "}");
}


/* a table's or an index's name: [A-Za-z0-9_.-] */

static ngx_uint_t
ngx_http_lfv_ddb_table_name(ngx_str_t *name)
{
    size_t  i;

    for (i = 0; i < name->len; i++) {
        if (!ngx_http_lfv_ddb_name_char(name->data[i])
            && name->data[i] != '.' && name->data[i] != '-')
        {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_http_lfv_ddb_fields(ngx_http_lfv_ddb_request_t *req)
{
    ngx_uint_t  set;

    set = 0;

    if (req->pk.len || req->sk.len) {
        set |= NGX_HTTP_LFV_DDB_F_KEY;
    }

    if (req->item) {
        set |= NGX_HTTP_LFV_DDB_F_ITEM;
    }

    if (req->update.len) {
        set |= NGX_HTTP_LFV_DDB_F_UPDATE;
    }

    if (req->key_condition.len) {
        set |= NGX_HTTP_LFV_DDB_F_KEY_COND;
    }

    if (req->condition.len) {
        set |= NGX_HTTP_LFV_DDB_F_CONDITION;
    }

    if (req->names || req->nnames) {
        set |= NGX_HTTP_LFV_DDB_F_NAMES;
    }

    if (req->values) {
        set |= NGX_HTTP_LFV_DDB_F_VALUES;
    }

    if (req->start) {
        set |= NGX_HTTP_LFV_DDB_F_START;
    }

    if (req->limit) {
        set |= NGX_HTTP_LFV_DDB_F_LIMIT;
    }

    if (req->ret != NGX_HTTP_LFV_DDB_RETURN_NONE) {
        set |= NGX_HTTP_LFV_DDB_F_RETURN;
    }

    if (req->consistent) {
        set |= NGX_HTTP_LFV_DDB_F_CONSISTENT;
    }

    if (req->index.len) {
        set |= NGX_HTTP_LFV_DDB_F_INDEX;
    }

    return set;
}


/* Key, or PutItem's Item: pk and sk, then the item's other attributes */

static void
ngx_http_lfv_ddb_emit_key(ngx_http_lfv_ddb_out_t *o,
    ngx_http_lfv_ddb_request_t *req)
{
    ngx_uint_t                i;
    ngx_http_lfv_ddb_item_t  *item;

    if (req->pk.len == 0 || req->sk.len == 0) {
        ngx_http_lfv_ddb_fail(o, "a key value is empty");
        return;
    }

    if (req->pk.len > NGX_HTTP_LFV_DDB_S_MAX
        || req->sk.len > NGX_HTTP_LFV_DDB_S_MAX)
    {
        ngx_http_lfv_ddb_fail(o, "a key value is longer than 1024 bytes");
        return;
    }

    if (req->op == NGX_HTTP_LFV_DDB_PUT_ITEM) {
        ngx_http_lfv_ddb_literal(o, ",\"Item\":{\"pk\":{\"S\":");

    } else {
        ngx_http_lfv_ddb_literal(o, ",\"Key\":{\"pk\":{\"S\":");
    }

    ngx_http_lfv_ddb_emit_string(o, &req->pk);
    ngx_http_lfv_ddb_literal(o, "},\"sk\":{\"S\":");
    ngx_http_lfv_ddb_emit_string(o, &req->sk);
    ngx_http_lfv_ddb_literal(o, "}");

    item = req->item;

    if (item) {

        if (item->nattrs > NGX_HTTP_LFV_DDB_ATTRS_MAX - 2) {
            ngx_http_lfv_ddb_fail(o, "an item has more than 16 attributes");
            return;
        }

        for (i = 0; i < item->nattrs; i++) {
            if (ngx_http_lfv_ddb_is(&item->attrs[i].name, NGX_HTTP_LFV_DDB_PK)
                || ngx_http_lfv_ddb_is(&item->attrs[i].name,
                                       NGX_HTTP_LFV_DDB_SK))
            {
                ngx_http_lfv_ddb_fail(o, "an attribute given twice in an "
                                         "item");
                return;
            }
        }

        ngx_http_lfv_ddb_emit_attrs(o, item, 0, 1);
    }

    ngx_http_lfv_ddb_literal(o, "}");
}


static void
ngx_http_lfv_ddb_emit_expr(ngx_http_lfv_ddb_out_t *o, char *member,
    size_t len, ngx_str_t *expr)
{
    if (expr->len > NGX_HTTP_LFV_DDB_EXPR_MAX) {
        ngx_http_lfv_ddb_fail(o, "an expression is longer than 4096 bytes");
        return;
    }

    ngx_http_lfv_ddb_out(o, member, len);
    ngx_http_lfv_ddb_emit_string(o, expr);
}


static void
ngx_http_lfv_ddb_emit_names(ngx_http_lfv_ddb_out_t *o,
    ngx_http_lfv_ddb_request_t *req)
{
    ngx_uint_t                i, k;
    ngx_http_lfv_ddb_name_t  *names;

    names = req->names;

    if (names == NULL) {
        ngx_http_lfv_ddb_fail(o, "ExpressionAttributeNames without names");
        return;
    }

    if (req->nnames > NGX_HTTP_LFV_DDB_NAMES_MAX) {
        ngx_http_lfv_ddb_fail(o, "ExpressionAttributeNames has more than "
                                 "16 names");
        return;
    }

    ngx_http_lfv_ddb_literal(o, ",\"ExpressionAttributeNames\":{");

    for (i = 0; i < req->nnames; i++) {

        if (!ngx_http_lfv_ddb_placeholder_valid(&names[i].placeholder, '#')) {
            ngx_http_lfv_ddb_fail(o, "a name placeholder is not \"#\" and "
                                     "1..63 of [A-Za-z0-9_]");
            return;
        }

        if (!ngx_http_lfv_ddb_name_valid(&names[i].name)) {
            ngx_http_lfv_ddb_fail(o, "an attribute name is not 1..64 bytes "
                                     "of [A-Za-z0-9_]");
            return;
        }

        for (k = 0; k < i; k++) {
            if (names[k].placeholder.len == names[i].placeholder.len
                && ngx_memcmp(names[k].placeholder.data,
                              names[i].placeholder.data,
                              names[i].placeholder.len)
                   == 0)
            {
                ngx_http_lfv_ddb_fail(o, "a placeholder given twice");
                return;
            }
        }

        if (i) {
            ngx_http_lfv_ddb_literal(o, ",");
        }

        ngx_http_lfv_ddb_emit_string(o, &names[i].placeholder);
        ngx_http_lfv_ddb_literal(o, ":");
        ngx_http_lfv_ddb_emit_string(o, &names[i].name);
    }

    ngx_http_lfv_ddb_literal(o, "}");
}


/* attributes, named as the item's rule says or ":x" (prefix ':') */

static void
ngx_http_lfv_ddb_emit_attrs(ngx_http_lfv_ddb_out_t *o,
    ngx_http_lfv_ddb_item_t *item, u_char prefix, ngx_uint_t comma)
{
    ngx_uint_t                i, k;
    ngx_http_lfv_ddb_attr_t  *a;

    if (item->nattrs > NGX_HTTP_LFV_DDB_ATTRS_MAX) {
        ngx_http_lfv_ddb_fail(o, "an item has more than 16 attributes");
        return;
    }

    for (i = 0; i < item->nattrs; i++) {
        a = &item->attrs[i];

        if (prefix) {
            if (!ngx_http_lfv_ddb_placeholder_valid(&a->name, prefix)) {
                ngx_http_lfv_ddb_fail(o, "a value placeholder is not \":\" "
                                         "and 1..63 of [A-Za-z0-9_]");
                return;
            }

        } else if (!ngx_http_lfv_ddb_name_valid(&a->name)) {
            ngx_http_lfv_ddb_fail(o, "an attribute name is not 1..64 bytes "
                                     "of [A-Za-z0-9_]");
            return;
        }

        for (k = 0; k < i; k++) {
            if (item->attrs[k].name.len == a->name.len
                && ngx_memcmp(item->attrs[k].name.data, a->name.data,
                              a->name.len)
                   == 0)
            {
                ngx_http_lfv_ddb_fail(o, prefix ? "a placeholder given twice"
                                      : "an attribute given twice in an item");
                return;
            }
        }

        if (comma || i) {
            ngx_http_lfv_ddb_literal(o, ",");
        }

        ngx_http_lfv_ddb_emit_string(o, &a->name);

        switch (a->type) {

        case NGX_HTTP_LFV_DDB_S:

            if (a->s.len > NGX_HTTP_LFV_DDB_S_MAX) {
                ngx_http_lfv_ddb_fail(o, "an S value is longer than 1024 "
                                         "bytes");
                return;
            }

            ngx_http_lfv_ddb_literal(o, ":{\"S\":");
            ngx_http_lfv_ddb_emit_string(o, &a->s);
            break;

        case NGX_HTTP_LFV_DDB_N:
            ngx_http_lfv_ddb_literal(o, ":{\"N\":");
            ngx_http_lfv_ddb_emit_number(o, a->n, 1);
            break;

        default:
            ngx_http_lfv_ddb_fail(o, "an attribute of an unknown type");
            return;
        }

        ngx_http_lfv_ddb_literal(o, "}");
    }
}


/* a JSON string, ASCII only; s must be UTF-8 */

static void
ngx_http_lfv_ddb_emit_string(ngx_http_lfv_ddb_out_t *o, ngx_str_t *s)
{
    u_char    *p, *last, *start, ch, esc[2];
    uint32_t   c;

    ngx_http_lfv_ddb_literal(o, "\"");

    /* an empty string may have no data at all */

    p = s->data;
    last = s->len ? p + s->len : p;

    while (p < last) {

        /* a run of bytes written as they are */

        for (start = p; p < last; p++) {
            if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
                break;
            }
        }

        ngx_http_lfv_ddb_out(o, start, p - start);

        if (p == last) {
            break;
        }

        ch = *p;

        if (ch >= 0x80) {
            p = ngx_http_lfv_ddb_utf8(p, last, &c);

            if (p == NULL) {
                ngx_http_lfv_ddb_fail(o, "a string is not UTF-8");
                return;
            }

            if (c >= 0x10000) {
                c -= 0x10000;
                ngx_http_lfv_ddb_emit_u(o, 0xd800 + (c >> 10));
                ngx_http_lfv_ddb_emit_u(o, 0xdc00 + (c & 0x3ff));

            } else {
                ngx_http_lfv_ddb_emit_u(o, c);
            }

            continue;
        }

        p++;
        esc[0] = '\\';

        switch (ch) {
        case '"':
        case '\\':
            esc[1] = ch;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            ngx_http_lfv_ddb_emit_u(o, ch);
            continue;
        }

        ngx_http_lfv_ddb_out(o, esc, 2);
    }

    ngx_http_lfv_ddb_literal(o, "\"");
}


static void
ngx_http_lfv_ddb_emit_u(ngx_http_lfv_ddb_out_t *o, uint32_t c)
{
    u_char               buf[6];
    static const u_char  hex[] = "0123456789abcdef";

    buf[0] = '\\';
    buf[1] = 'u';
    buf[2] = hex[(c >> 12) & 0xf];
    buf[3] = hex[(c >> 8) & 0xf];
    buf[4] = hex[(c >> 4) & 0xf];
    buf[5] = hex[c & 0xf];

    ngx_http_lfv_ddb_out(o, buf, 6);
}


/* decimal, in a JSON string when quoted (an N value) */

static void
ngx_http_lfv_ddb_emit_number(ngx_http_lfv_ddb_out_t *o, int64_t n,
    ngx_uint_t quoted)
{
    u_char    buf[NGX_INT64_LEN + 2], *p, *last;
    uint64_t  v;

    last = buf + sizeof(buf);
    p = last;

    if (quoted) {
        *--p = '"';
    }

    /* INT64_MIN's magnitude, without a signed overflow */

    v = (n < 0) ? (uint64_t) 0 - (uint64_t) n : (uint64_t) n;

    do {
        *--p = (u_char) ('0' + v % 10);
        v /= 10;
    } while (v);

    if (n < 0) {
        *--p = '-';
    }

    if (quoted) {
        *--p = '"';
    }

    ngx_http_lfv_ddb_out(o, p, last - p);
}


static void
ngx_http_lfv_ddb_out(ngx_http_lfv_ddb_out_t *o, void *data, size_t len)
{
    if (o->pos) {
        o->pos = ngx_cpymem(o->pos, data, len);
    }

    o->len += len;
}


static void
ngx_http_lfv_ddb_fail(ngx_http_lfv_ddb_out_t *o, char *err)
{
    if (o->err == NULL) {
        o->err = err;
    }
}
