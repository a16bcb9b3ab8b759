
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_DDB_DOC_H_INCLUDED_
#define _NGX_HTTP_LFV_DDB_DOC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * DynamoDB's JSON 1.0 protocol for the team state's table (partition key
 * "pk", sort key "sk", both S): the answers read strictly and the
 * requests written, as pure functions on buffers (no pools), so that
 * tests and fuzzers call them.
 *
 * An item of the table holds attributes of type S (a string) and N (an
 * integer) only, NGX_HTTP_LFV_DDB_ATTRS_MAX at most; a name is 1..64
 * bytes of [A-Za-z0-9_]; an S value is 0..1024 bytes of UTF-8, decoded;
 * an N value is an integer of int64_t, written as DynamoDB writes it:
 * -?(0|[1-9][0-9]*), in a JSON string ("-0", a leading zero, a sign
 * "+", a fraction, an exponent, spaces are refused).
 */

#define NGX_HTTP_LFV_DDB_ATTRS_MAX     16
#define NGX_HTTP_LFV_DDB_NAME_MAX      64
#define NGX_HTTP_LFV_DDB_S_MAX         1024

/* the table's keys; a key value is 1..NGX_HTTP_LFV_DDB_S_MAX bytes */
#define NGX_HTTP_LFV_DDB_PK            "pk"
#define NGX_HTTP_LFV_DDB_SK            "sk"

/* the requests' limits: ExpressionAttributeNames, expressions */
#define NGX_HTTP_LFV_DDB_NAMES_MAX     16
#define NGX_HTTP_LFV_DDB_EXPR_MAX      4096

/* an error's __type as a whole, its short type (after the last "#") */
#define NGX_HTTP_LFV_DDB_TYPE_MAX      256


typedef enum {
    NGX_HTTP_LFV_DDB_GET_ITEM = 0,
    NGX_HTTP_LFV_DDB_PUT_ITEM,
    NGX_HTTP_LFV_DDB_UPDATE_ITEM,
    NGX_HTTP_LFV_DDB_DELETE_ITEM,
    NGX_HTTP_LFV_DDB_QUERY
} ngx_http_lfv_ddb_op_e;


typedef enum {
    NGX_HTTP_LFV_DDB_S = 1,
    NGX_HTTP_LFV_DDB_N
} ngx_http_lfv_ddb_type_e;


/* ReturnValues; NONE is not written (it is DynamoDB's default) */

typedef enum {
    NGX_HTTP_LFV_DDB_RETURN_NONE = 0,
    NGX_HTTP_LFV_DDB_RETURN_ALL_OLD,
    NGX_HTTP_LFV_DDB_RETURN_UPDATED_OLD,
    NGX_HTTP_LFV_DDB_RETURN_ALL_NEW,
    NGX_HTTP_LFV_DDB_RETURN_UPDATED_NEW
} ngx_http_lfv_ddb_return_e;


typedef struct {
    ngx_str_t                   name;
    ngx_http_lfv_ddb_type_e     type;
    ngx_str_t                   s;              /* S; N: its text */
    int64_t                     n;              /* N */
} ngx_http_lfv_ddb_attr_t;


typedef struct {
    ngx_uint_t                  nattrs;
    ngx_http_lfv_ddb_attr_t     attrs[NGX_HTTP_LFV_DDB_ATTRS_MAX];
} ngx_http_lfv_ddb_item_t;


/* the caller sets items (room for max items) and max */

typedef struct {
    ngx_http_lfv_ddb_item_t    *items;
    ngx_uint_t                  max;
    ngx_uint_t                  nitems;         /* Count */
    ngx_uint_t                  scanned;        /* ScannedCount, or 0 */
    ngx_uint_t                  more;           /* LastEvaluatedKey given */
    ngx_http_lfv_ddb_item_t     last_key;
} ngx_http_lfv_ddb_query_t;


typedef struct {
    ngx_str_t                   type;           /* after the last "#" */
    ngx_str_t                   message;        /* empty when none */
} ngx_http_lfv_ddb_error_t;


/*
 * The parsers.  The whole input is one JSON object, whitespace around
 * it allowed: NGX_OK, or NGX_ERROR with *err a static message.
 *
 * Strings are decoded in place: THE BUFFER IS CHANGED (also when the
 * answer is refused), and the strings of the result point into it.
 * Escapes are decoded, \uXXXX (surrogate pairs too) to UTF-8; a lone
 * surrogate and raw bytes that are not UTF-8 are refused.  A member
 * other than the ones read is checked as JSON (ngx_http_lfv_json.c,
 * NGX_HTTP_LFV_JSON_DEPTH levels counting the answer's) and skipped,
 * its bytes not checked as UTF-8; a member read twice, an attribute
 * given twice in an item and an attribute value of more than one type
 * are refused.  On error the result is zeroed.
 */

/*
 * GetItem's answer ("Item"), or PutItem's, UpdateItem's, DeleteItem's
 * ("Attributes"), as op says: {} gives *found 0, an item *found 1.
 */
ngx_int_t ngx_http_lfv_ddb_parse_item(u_char *p, size_t len,
    ngx_http_lfv_ddb_op_e op, ngx_http_lfv_ddb_item_t *item,
    ngx_uint_t *found, char **err);

/*
 * Query's answer: "Items" (up to q->max) and "Count" (their number)
 * required; "ScannedCount" (0..2^31-1, not below Count) and
 * "LastEvaluatedKey" (an item of 1.. attributes) optional.
 */
ngx_int_t ngx_http_lfv_ddb_parse_query(u_char *p, size_t len,
    ngx_http_lfv_ddb_query_t *q, char **err);

/*
 * An error's answer (HTTP 400 or 500): "__type" required, visible ASCII
 * of 1..NGX_HTTP_LFV_DDB_TYPE_MAX bytes ending with [A-Za-z0-9]+ after
 * its last "#" (or without any "#"); "message" or "Message" (one of
 * them) optional, any UTF-8.
 */
ngx_int_t ngx_http_lfv_ddb_parse_error(u_char *p, size_t len,
    ngx_http_lfv_ddb_error_t *e, char **err);

/* the attribute of this name in the item, or NULL */
ngx_http_lfv_ddb_attr_t *ngx_http_lfv_ddb_attr(ngx_http_lfv_ddb_item_t *item,
    char *name);


/*
 * A request.  Each operation takes these (others must be left empty,
 * zero or NULL):
 *
 *   GetItem     table, pk, sk; consistent
 *   PutItem     table, pk, sk, item (the other attributes of the Item);
 *               condition, names, values, ret (ALL_OLD)
 *   UpdateItem  table, pk, sk, update; condition, names, values, ret
 *   DeleteItem  table, pk, sk; condition, names, values, ret (ALL_OLD)
 *   Query       table, key_condition, limit (1..2147483647); index
 *               (IndexName: a table name's rules; never consistent),
 *               names, values, start (ExclusiveStartKey), consistent
 *
 * table is 3..255 bytes of [A-Za-z0-9_.-]; pk and sk 1..1024 bytes of
 * UTF-8; expressions 1..4096 bytes of UTF-8; names maps "#x" to an
 * attribute name (16 at most), values ":x" to an S or N (placeholders
 * are "#" or ":" and 1..63 of [A-Za-z0-9_], each once); item, values
 * and start keep the item's rules (an Item of PutItem is pk, sk and
 * item's attributes: 16 at most, none of them named pk or sk).  An
 * empty item, values or names is not written (DynamoDB refuses an
 * empty map); an empty start is refused.
 */

typedef struct {
    ngx_str_t                   placeholder;    /* "#x" */
    ngx_str_t                   name;
} ngx_http_lfv_ddb_name_t;


typedef struct {
    ngx_http_lfv_ddb_op_e       op;
    ngx_str_t                   table;
    ngx_str_t                   index;          /* IndexName */
    ngx_str_t                   pk;             /* Key, S */
    ngx_str_t                   sk;
    ngx_http_lfv_ddb_item_t    *item;
    ngx_str_t                   update;         /* UpdateExpression */
    ngx_str_t                   key_condition;  /* KeyConditionExpression */
    ngx_str_t                   condition;      /* ConditionExpression */
    ngx_http_lfv_ddb_name_t    *names;          /* ExpressionAttributeNames */
    ngx_uint_t                  nnames;
    ngx_http_lfv_ddb_item_t    *values;         /* ExpressionAttributeValues */
    ngx_http_lfv_ddb_item_t    *start;          /* ExclusiveStartKey */
    ngx_uint_t                  limit;
    ngx_http_lfv_ddb_return_e   ret;            /* ReturnValues */
    ngx_uint_t                  consistent;     /* ConsistentRead true */
} ngx_http_lfv_ddb_request_t;


/*
 * The exact length of the request's JSON body, or 0 with *err a static
 * message when the request breaks a rule above.
 */
size_t ngx_http_lfv_ddb_request_len(ngx_http_lfv_ddb_request_t *req,
    char **err);

/*
 * Writes the body, exactly ngx_http_lfv_ddb_request_len() bytes, and
 * returns its end; a request refused there is not written: p is
 * returned.  Compact JSON, ASCII only: every string escaped ("\"",
 * "\\", \b \f \n \r \t, other controls, DEL and non-ASCII as \uXXXX,
 * surrogate pairs above U+FFFF), numbers as DynamoDB's strings.
 */
u_char *ngx_http_lfv_ddb_write_request(u_char *p,
    ngx_http_lfv_ddb_request_t *req);

/* "DynamoDB_20120810.GetItem" and so on: X-Amz-Target; NULL if unknown */
ngx_str_t *ngx_http_lfv_ddb_target(ngx_http_lfv_ddb_op_e op);


#endif /* _NGX_HTTP_LFV_DDB_DOC_H_INCLUDED_ */
