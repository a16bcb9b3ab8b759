
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_sts_doc.h"
#include "ngx_http_lfv_time.h"


/* the root is level 1; an element below level 16 is refused */
#define NGX_HTTP_LFV_STS_DEPTH         16

/* attributes of an element or of the XML declaration */
#define NGX_HTTP_LFV_STS_ATTRS         16

/* Expiration with a 9-digit fraction and an offset is 35 bytes */
#define NGX_HTTP_LFV_STS_FIELD_MAX     64

/* the documents that a known element is in */

#define NGX_HTTP_LFV_STS_DOC_ROLE      0x01
#define NGX_HTTP_LFV_STS_DOC_WEB       0x02
#define NGX_HTTP_LFV_STS_DOC_CREDS     0x03
#define NGX_HTTP_LFV_STS_DOC_ERROR     0x04

/* the known elements: the root's parent, containers, then values */

#define NGX_HTTP_LFV_STS_NONE          0
#define NGX_HTTP_LFV_STS_ROOT          1
#define NGX_HTTP_LFV_STS_RESULT        2
#define NGX_HTTP_LFV_STS_USER          3
#define NGX_HTTP_LFV_STS_CREDENTIALS   4
#define NGX_HTTP_LFV_STS_METADATA      5
#define NGX_HTTP_LFV_STS_ERROR         6

#define NGX_HTTP_LFV_STS_VALUES        7

#define NGX_HTTP_LFV_STS_ARN           7
#define NGX_HTTP_LFV_STS_AKID          8
#define NGX_HTTP_LFV_STS_SECRET        9
#define NGX_HTTP_LFV_STS_TOKEN         10
#define NGX_HTTP_LFV_STS_EXPIRATION    11
#define NGX_HTTP_LFV_STS_REQUEST_ID    12
#define NGX_HTTP_LFV_STS_TYPE          13
#define NGX_HTTP_LFV_STS_CODE          14
#define NGX_HTTP_LFV_STS_MESSAGE       15


typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  docs;
    ngx_uint_t                  id;
    ngx_uint_t                  parent;         /* the parent's id */
    char                       *duplicate;
    char                       *missing;        /* NULL: optional */
    char                       *too_long;       /* values only */
    char                       *invalid;
} ngx_http_lfv_sts_node_t;


typedef struct {
    ngx_str_t                   name;
    ngx_http_lfv_sts_node_t    *node;           /* NULL: skipped */
} ngx_http_lfv_sts_element_t;


typedef struct {
    u_char                     *pos;
    u_char                     *last;
    char                       *err;
    ngx_uint_t                  docs;           /* the one parsed */
    ngx_uint_t                  seen;           /* 1 << id */
    ngx_http_lfv_sts_doc_t     *doc;
    ngx_http_lfv_sts_error_t   *error;
} ngx_http_lfv_sts_xml_t;


static ngx_int_t ngx_http_lfv_sts_parse(ngx_http_lfv_sts_xml_t *x);
static ngx_int_t ngx_http_lfv_sts_prolog(ngx_http_lfv_sts_xml_t *x);
static ngx_int_t ngx_http_lfv_sts_markup(ngx_http_lfv_sts_xml_t *x);
static ngx_int_t ngx_http_lfv_sts_start_tag(ngx_http_lfv_sts_xml_t *x,
    ngx_str_t *name, ngx_uint_t *empty);
static ngx_int_t ngx_http_lfv_sts_end_tag(ngx_http_lfv_sts_xml_t *x,
    ngx_str_t *name);
static ngx_int_t ngx_http_lfv_sts_attributes(ngx_http_lfv_sts_xml_t *x);
static ngx_int_t ngx_http_lfv_sts_text(ngx_http_lfv_sts_xml_t *x,
    u_char *dst, size_t size, size_t *len);
static u_char *ngx_http_lfv_sts_reference(ngx_http_lfv_sts_xml_t *x,
    u_char *p, u_char *ch);
static ngx_http_lfv_sts_node_t *ngx_http_lfv_sts_lookup(
    ngx_http_lfv_sts_xml_t *x, ngx_uint_t parent, ngx_str_t *name);
static ngx_int_t ngx_http_lfv_sts_value(ngx_http_lfv_sts_xml_t *x,
    ngx_http_lfv_sts_node_t *node, ngx_uint_t empty);
static ngx_int_t ngx_http_lfv_sts_check(u_char *p, size_t len,
    ngx_uint_t id);
static u_char *ngx_http_lfv_sts_space(u_char *p, u_char *last);
static u_char *ngx_http_lfv_sts_name(u_char *p, u_char *last);


#define ngx_http_lfv_sts_is_space(c)                                         \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

/* C0 controls other than tab, LF and CR are no XML characters */
#define ngx_http_lfv_sts_is_control(c)                                       \
    ((c) < 0x20 && (c) != '\t' && (c) != '\n' && (c) != '\r')

/* names of ASCII only: [A-Za-z_:][A-Za-z0-9_:.-]* */

#define ngx_http_lfv_sts_name_start(c)                                       \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                \
     || (c) == '_' || (c) == ':')

#define ngx_http_lfv_sts_name_char(c)                                        \
    (ngx_http_lfv_sts_name_start(c) || ((c) >= '0' && (c) <= '9')            \
     || (c) == '-' || (c) == '.')


/* in the order in which a missing one is reported */

static ngx_http_lfv_sts_node_t  ngx_http_lfv_sts_nodes[] = {

    /* a root is looked up once: it cannot be a duplicate */

    { ngx_string("AssumeRoleResponse"),
      NGX_HTTP_LFV_STS_DOC_ROLE,
      NGX_HTTP_LFV_STS_ROOT, NGX_HTTP_LFV_STS_NONE,
      NULL, NULL, NULL, NULL },

    { ngx_string("AssumeRoleWithWebIdentityResponse"),
      NGX_HTTP_LFV_STS_DOC_WEB,
      NGX_HTTP_LFV_STS_ROOT, NGX_HTTP_LFV_STS_NONE,
      NULL, NULL, NULL, NULL },

    { ngx_string("AssumeRoleResult"),
      NGX_HTTP_LFV_STS_DOC_ROLE,
      NGX_HTTP_LFV_STS_RESULT, NGX_HTTP_LFV_STS_ROOT,
      "duplicate AssumeRoleResult", "no AssumeRoleResult", NULL, NULL },

    { ngx_string("AssumeRoleWithWebIdentityResult"),
      NGX_HTTP_LFV_STS_DOC_WEB,
      NGX_HTTP_LFV_STS_RESULT, NGX_HTTP_LFV_STS_ROOT,
      "duplicate AssumeRoleWithWebIdentityResult",
      "no AssumeRoleWithWebIdentityResult", NULL, NULL },

    { ngx_string("AssumedRoleUser"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_USER, NGX_HTTP_LFV_STS_RESULT,
      "duplicate AssumedRoleUser", NULL, NULL, NULL },

    { ngx_string("Arn"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_ARN, NGX_HTTP_LFV_STS_USER,
      "duplicate Arn", NULL, "Arn too long", "invalid Arn" },

    { ngx_string("Credentials"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_CREDENTIALS, NGX_HTTP_LFV_STS_RESULT,
      "duplicate Credentials", "no Credentials", NULL, NULL },

    { ngx_string("AccessKeyId"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_AKID, NGX_HTTP_LFV_STS_CREDENTIALS,
      "duplicate AccessKeyId", "no AccessKeyId",
      "AccessKeyId too long", "invalid AccessKeyId" },

    { ngx_string("SecretAccessKey"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_SECRET, NGX_HTTP_LFV_STS_CREDENTIALS,
      "duplicate SecretAccessKey", "no SecretAccessKey",
      "SecretAccessKey too long", "invalid SecretAccessKey" },

    { ngx_string("SessionToken"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_TOKEN, NGX_HTTP_LFV_STS_CREDENTIALS,
      "duplicate SessionToken", "no SessionToken",
      "SessionToken too long", "invalid SessionToken" },

    { ngx_string("Expiration"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_EXPIRATION, NGX_HTTP_LFV_STS_CREDENTIALS,
      "duplicate Expiration", "no Expiration",
      "invalid Expiration", "invalid Expiration" },

    { ngx_string("ResponseMetadata"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_METADATA, NGX_HTTP_LFV_STS_ROOT,
      "duplicate ResponseMetadata", NULL, NULL, NULL },

    { ngx_string("RequestId"),
      NGX_HTTP_LFV_STS_DOC_CREDS,
      NGX_HTTP_LFV_STS_REQUEST_ID, NGX_HTTP_LFV_STS_METADATA,
      "duplicate RequestId", NULL, "RequestId too long",
      "invalid RequestId" },

    { ngx_string("ErrorResponse"),
      NGX_HTTP_LFV_STS_DOC_ERROR,
      NGX_HTTP_LFV_STS_ROOT, NGX_HTTP_LFV_STS_NONE,
      NULL, NULL, NULL, NULL },

    { ngx_string("Error"),
      NGX_HTTP_LFV_STS_DOC_ERROR,
      NGX_HTTP_LFV_STS_ERROR, NGX_HTTP_LFV_STS_ROOT,
      "duplicate Error", "no Error", NULL, NULL },

    { ngx_string("Type"),
      NGX_HTTP_LFV_STS_DOC_ERROR,
      NGX_HTTP_LFV_STS_TYPE, NGX_HTTP_LFV_STS_ERROR,
      "duplicate Type", NULL, "Type too long", "invalid Type" },

    { ngx_string("Code"),
      NGX_HTTP_LFV_STS_DOC_ERROR,
      NGX_HTTP_LFV_STS_CODE, NGX_HTTP_LFV_STS_ERROR,
      "duplicate Code", "no Code", "Code too long", "invalid Code" },

    { ngx_string("Message"),
      NGX_HTTP_LFV_STS_DOC_ERROR,
      NGX_HTTP_LFV_STS_MESSAGE, NGX_HTTP_LFV_STS_ERROR,
      "duplicate Message", NULL, "Message too long", "invalid Message" },

    { ngx_string("RequestId"),
      NGX_HTTP_LFV_STS_DOC_ERROR,
      NGX_HTTP_LFV_STS_REQUEST_ID, NGX_HTTP_LFV_STS_ROOT,
      "duplicate RequestId", NULL, "RequestId too long",
      "invalid RequestId" },

    { ngx_null_string, 0, 0, 0, NULL, NULL, NULL, NULL }
};


ngx_int_t
ngx_http_lfv_parse_sts_credentials(u_char *p, size_t len,
    ngx_http_lfv_sts_action_e action, ngx_http_lfv_sts_doc_t *doc,
    char **err)
{
    ngx_http_lfv_sts_xml_t  x;

    ngx_memzero(doc, sizeof(ngx_http_lfv_sts_doc_t));

    x.pos = p;
    x.last = p + len;
    x.err = "invalid XML";
    x.seen = 0;
    x.doc = doc;
    x.error = NULL;

    switch (action) {

    case NGX_HTTP_LFV_STS_ASSUME_ROLE:
        x.docs = NGX_HTTP_LFV_STS_DOC_ROLE;
        break;

    case NGX_HTTP_LFV_STS_WEB_IDENTITY:
        x.docs = NGX_HTTP_LFV_STS_DOC_WEB;
        break;

    default:
        x.err = "unknown STS action";
        goto failed;
    }

    if (ngx_http_lfv_sts_parse(&x) == NGX_OK) {
        return NGX_OK;
    }

failed:

    ngx_explicit_memzero(doc, sizeof(ngx_http_lfv_sts_doc_t));

    *err = x.err;

    return NGX_ERROR;
}


ngx_int_t
ngx_http_lfv_parse_sts_error(u_char *p, size_t len,
    ngx_http_lfv_sts_error_t *e, char **err)
{
    ngx_http_lfv_sts_xml_t  x;

    ngx_memzero(e, sizeof(ngx_http_lfv_sts_error_t));

    x.pos = p;
    x.last = p + len;
    x.err = "invalid XML";
    x.docs = NGX_HTTP_LFV_STS_DOC_ERROR;
    x.seen = 0;
    x.doc = NULL;
    x.error = e;

    if (ngx_http_lfv_sts_parse(&x) == NGX_OK) {
        return NGX_OK;
    }

    ngx_explicit_memzero(e, sizeof(ngx_http_lfv_sts_error_t));

    *err = x.err;

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_lfv_sts_parse(ngx_http_lfv_sts_xml_t *x)
{
    u_char                      *p;
    size_t                       n;
    ngx_str_t                    name;
    ngx_uint_t                   depth, empty;
    ngx_http_lfv_sts_node_t     *node, *parent;
    ngx_http_lfv_sts_element_t   stack[NGX_HTTP_LFV_STS_DEPTH];

    if (ngx_http_lfv_sts_prolog(x) != NGX_OK) {
        return NGX_ERROR;
    }

    depth = 0;

    for ( ;; ) {

        /* on a "<": each turn takes one tag and the text after it */

        p = x->pos;

        if (p + 1 == x->last) {
            x->err = "truncated XML";
            return NGX_ERROR;
        }

        if (p[1] == '!' || p[1] == '?') {
            return ngx_http_lfv_sts_markup(x);
        }

        if (p[1] == '/') {

            if (depth == 0) {
                x->err = "invalid XML";
                return NGX_ERROR;
            }

            if (ngx_http_lfv_sts_end_tag(x, &stack[depth - 1].name)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (--depth == 0) {
                break;
            }

        } else {

            if (ngx_http_lfv_sts_start_tag(x, &name, &empty) != NGX_OK) {
                return NGX_ERROR;
            }

            if (depth == NGX_HTTP_LFV_STS_DEPTH) {
                x->err = "XML nested too deeply";
                return NGX_ERROR;
            }

            if (depth == 0) {
                node = ngx_http_lfv_sts_lookup(x, NGX_HTTP_LFV_STS_NONE,
                                               &name);
                if (node == NULL) {
                    x->err = "unexpected root element";
                    return NGX_ERROR;
                }

            } else {

                /* below an unknown element, everything is unknown */

                parent = stack[depth - 1].node;

                node = parent ? ngx_http_lfv_sts_lookup(x, parent->id, &name)
                              : NULL;
            }

            if (node) {

                if (x->seen & (1 << node->id)) {
                    x->err = node->duplicate;
                    return NGX_ERROR;
                }

                x->seen |= 1 << node->id;

                if (node->id >= NGX_HTTP_LFV_STS_VALUES
                    && ngx_http_lfv_sts_value(x, node, empty) != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }

            if (empty) {

                if (depth == 0) {
                    break;
                }

            } else {
                stack[depth].name = name;
                stack[depth].node = node;
                depth++;
            }
        }

        /* a value has been read up to its end tag: no text is left */

        if (ngx_http_lfv_sts_text(x, NULL, 0, &n) != NGX_OK) {
            return NGX_ERROR;
        }

        if (n && stack[depth - 1].node) {
            x->err = "unexpected XML text";
            return NGX_ERROR;
        }
    }

    /* after the root, whitespace only */

    p = ngx_http_lfv_sts_space(x->pos, x->last);

    if (p != x->last) {

        if (*p == '<' && p + 1 < x->last && (p[1] == '!' || p[1] == '?')) {
            x->pos = p;
            return ngx_http_lfv_sts_markup(x);
        }

        x->err = "trailing data after XML";
        return NGX_ERROR;
    }

    /* the first required element missing, in the table's order */

    for (node = ngx_http_lfv_sts_nodes; node->name.len; node++) {

        if ((node->docs & x->docs)
            && node->missing
            && !(x->seen & (1 << node->id)))
        {
            x->err = node->missing;
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_sts_prolog(ngx_http_lfv_sts_xml_t *x)
{
    u_char  *p, *last;

    p = x->pos;
    last = x->last;

    if (last - p >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
        x->err = "a byte order mark is not accepted";
        return NGX_ERROR;
    }

    /* "<?xml" S pseudo-attributes S? "?>", only at the first byte */

    if (last - p >= 6
        && ngx_strncmp(p, "<?xml", 5) == 0
        && ngx_http_lfv_sts_is_space(p[5]))
    {
        x->pos = p + 5;

        if (ngx_http_lfv_sts_attributes(x) != NGX_OK) {
            return NGX_ERROR;
        }

        p = x->pos;

        if (last - p < 2) {
            x->err = "truncated XML";
            return NGX_ERROR;
        }

        if (p[0] != '?' || p[1] != '>') {
            x->err = "invalid XML declaration";
            return NGX_ERROR;
        }

        p += 2;
    }

    p = ngx_http_lfv_sts_space(p, last);

    if (p == last) {
        x->err = "no XML root element";
        return NGX_ERROR;
    }

    x->pos = p;

    if (*p != '<') {
        x->err = "invalid XML";
        return NGX_ERROR;
    }

    if (p + 1 < last && (p[1] == '!' || p[1] == '?')) {
        return ngx_http_lfv_sts_markup(x);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_sts_markup(ngx_http_lfv_sts_xml_t *x)
{
    u_char  *p;
    size_t   n;

    /* on "<!" or "<?": none of it is accepted */

    p = x->pos;
    n = x->last - p;

    if (p[1] == '?') {
        x->err = "a processing instruction is not accepted";

    } else if (n >= 4 && ngx_strncmp(p, "<!--", 4) == 0) {
        x->err = "a comment is not accepted";

    } else if (n >= 9 && ngx_strncmp(p, "<![CDATA[", 9) == 0) {
        x->err = "a CDATA section is not accepted";

    } else if (n >= 9 && ngx_strncmp(p, "<!DOCTYPE", 9) == 0) {
        x->err = "a DOCTYPE is not accepted";

    } else {
        x->err = "invalid XML";
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_lfv_sts_start_tag(ngx_http_lfv_sts_xml_t *x, ngx_str_t *name,
    ngx_uint_t *empty)
{
    u_char  *p, *q;

    /* "<" Name (S Attribute)* S? "/"? ">" */

    p = x->pos + 1;
    q = ngx_http_lfv_sts_name(p, x->last);

    if (q == p) {
        x->err = "invalid XML";
        return NGX_ERROR;
    }

    name->data = p;
    name->len = q - p;

    x->pos = q;

    if (ngx_http_lfv_sts_attributes(x) != NGX_OK) {
        return NGX_ERROR;
    }

    p = x->pos;

    if (*p == '>') {
        *empty = 0;
        x->pos = p + 1;
        return NGX_OK;
    }

    if (*p == '/') {

        if (p + 1 == x->last) {
            x->err = "truncated XML";
            return NGX_ERROR;
        }

        if (p[1] == '>') {
            *empty = 1;
            x->pos = p + 2;
            return NGX_OK;
        }
    }

    x->err = "invalid XML";

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_lfv_sts_end_tag(ngx_http_lfv_sts_xml_t *x, ngx_str_t *name)
{
    u_char  *p, *q;

    /* "</" Name S? ">", the name of the element it ends */

    p = x->pos + 2;
    q = ngx_http_lfv_sts_name(p, x->last);

    if (q == x->last) {
        x->err = "truncated XML";
        return NGX_ERROR;
    }

    if (q == p) {
        x->err = "invalid XML";
        return NGX_ERROR;
    }

    if ((size_t) (q - p) != name->len
        || ngx_strncmp(p, name->data, name->len) != 0)
    {
        x->err = "mismatched XML end tag";
        return NGX_ERROR;
    }

    p = ngx_http_lfv_sts_space(q, x->last);

    if (p == x->last) {
        x->err = "truncated XML";
        return NGX_ERROR;
    }

    if (*p != '>') {
        x->err = "invalid XML";
        return NGX_ERROR;
    }

    x->pos = p + 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_sts_attributes(ngx_http_lfv_sts_xml_t *x)
{
    u_char      *p, *q, *last, quote, ch;
    ngx_uint_t   n;

    /*
     * (S Name S? "=" S? ("'" ... "'" | '"' ... '"'))* S?, checked and
     * skipped; stops on the first other byte, which is there
     */

    p = x->pos;
    last = x->last;

    for (n = 0; /* void */; n++) {

        q = p;
        p = ngx_http_lfv_sts_space(p, last);

        if (p == last) {
            x->err = "truncated XML";
            return NGX_ERROR;
        }

        if (!ngx_http_lfv_sts_name_start(*p)) {
            x->pos = p;
            return NGX_OK;
        }

        if (p == q) {
            x->err = "invalid XML";
            return NGX_ERROR;
        }

        if (n == NGX_HTTP_LFV_STS_ATTRS) {
            x->err = "too many XML attributes";
            return NGX_ERROR;
        }

        p = ngx_http_lfv_sts_name(p, last);
        p = ngx_http_lfv_sts_space(p, last);

        if (p == last) {
            x->err = "truncated XML";
            return NGX_ERROR;
        }

        if (*p != '=') {
            x->err = "invalid XML";
            return NGX_ERROR;
        }

        p = ngx_http_lfv_sts_space(p + 1, last);

        if (p == last) {
            x->err = "truncated XML";
            return NGX_ERROR;
        }

        if (*p != '"' && *p != '\'') {
            x->err = "invalid XML";
            return NGX_ERROR;
        }

        quote = *p++;

        for ( ;; ) {

            if (p == last) {
                x->err = "truncated XML";
                return NGX_ERROR;
            }

            ch = *p;

            if (ch == quote) {
                p++;
                break;
            }

            if (ch == '<') {
                x->err = "unescaped < in XML";
                return NGX_ERROR;
            }

            if (ch == '&') {
                p = ngx_http_lfv_sts_reference(x, p, &ch);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                continue;
            }

            if (ngx_http_lfv_sts_is_control(ch)) {
                x->err = "control character in XML";
                return NGX_ERROR;
            }

            p++;
        }
    }
}


static ngx_int_t
ngx_http_lfv_sts_text(ngx_http_lfv_sts_xml_t *x, u_char *dst, size_t size,
    size_t *len)
{
    u_char      *p, *start, *last, ch;
    size_t       n, end;
    ngx_uint_t   space;

    /*
     * character data up to the next "<", references decoded into dst up
     * to size bytes (dst NULL: only checked), raw whitespace trimmed at
     * both ends; *len is the whole trimmed length, more than size if it
     * did not fit
     */

    p = x->pos;
    start = p;
    last = x->last;

    n = 0;
    end = 0;

    for ( ;; ) {

        if (p == last) {
            x->err = "truncated XML";
            return NGX_ERROR;
        }

        ch = *p;

        if (ch == '<') {
            break;
        }

        if (ch == '&') {
            p = ngx_http_lfv_sts_reference(x, p, &ch);
            if (p == NULL) {
                return NGX_ERROR;
            }

            space = 0;

        } else {

            if (ngx_http_lfv_sts_is_control(ch)) {
                x->err = "control character in XML";
                return NGX_ERROR;
            }

            /* "]]>" ends a CDATA section, there is none to end */

            if (ch == '>' && p - start >= 2 && p[-1] == ']' && p[-2] == ']') {
                x->err = "invalid XML";
                return NGX_ERROR;
            }

            p++;

            space = ngx_http_lfv_sts_is_space(ch);
        }

        if (space && n == 0) {
            continue;
        }

        if (n < size) {
            dst[n] = ch;
        }

        n++;

        if (!space) {
            end = n;
        }
    }

    x->pos = p;
    *len = end;

    return NGX_OK;
}


static u_char *
ngx_http_lfv_sts_reference(ngx_http_lfv_sts_xml_t *x, u_char *p, u_char *ch)
{
    u_char      *start, *last, c;
    size_t       n;
    ngx_uint_t   value, base, digit;

    /* on "&": the character of "&lt;", "&#60;" or "&#x3c;", past ";" */

    last = x->last;
    p++;

    if (p < last && *p == '#') {
        p++;
        base = 10;

        if (p < last && *p == 'x') {
            base = 16;
            p++;
        }

        for (start = p, value = 0; p < last && *p != ';'; p++) {
            c = *p;

            if (c >= '0' && c <= '9') {
                digit = c - '0';

            } else if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                digit = (c | 0x20) - 'a' + 10;

            } else {
                x->err = "invalid XML character reference";
                return NULL;
            }

            /* ASCII only: the value never grows past 0x7f * 16 + 15 */

            value = value * base + digit;

            if (value > 0x7f) {
                x->err = "invalid XML character reference";
                return NULL;
            }
        }

        if (p == last) {
            x->err = "truncated XML";
            return NULL;
        }

        if (p == start || ngx_http_lfv_sts_is_control(value)) {
            x->err = "invalid XML character reference";
            return NULL;
        }

        *ch = (u_char) value;

        return p + 1;
    }

    start = p;
    p = ngx_http_lfv_sts_name(p, last);

    if (p == last) {
        x->err = "truncated XML";
        return NULL;
    }

    if (p == start || *p != ';') {
        x->err = "unescaped & in XML";
        return NULL;
    }

    n = p - start;

    if (n == 2 && ngx_strncmp(start, "lt", 2) == 0) {
        *ch = '<';

    } else if (n == 2 && ngx_strncmp(start, "gt", 2) == 0) {
        *ch = '>';

    } else if (n == 3 && ngx_strncmp(start, "amp", 3) == 0) {
        *ch = '&';

    } else if (n == 4 && ngx_strncmp(start, "quot", 4) == 0) {
        *ch = '"';

    } else if (n == 4 && ngx_strncmp(start, "apos", 4) == 0) {
        *ch = '\'';

    } else {
        x->err = "unknown XML entity";
        return NULL;
    }

    return p + 1;
}


static ngx_http_lfv_sts_node_t *
ngx_http_lfv_sts_lookup(ngx_http_lfv_sts_xml_t *x, ngx_uint_t parent,
    ngx_str_t *name)
{
    ngx_http_lfv_sts_node_t  *node;

    for (node = ngx_http_lfv_sts_nodes; node->name.len; node++) {

        if ((node->docs & x->docs)
            && node->parent == parent
            && node->name.len == name->len
            && ngx_strncmp(node->name.data, name->data, name->len) == 0)
        {
            return node;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_lfv_sts_value(ngx_http_lfv_sts_xml_t *x,
    ngx_http_lfv_sts_node_t *node, ngx_uint_t empty)
{
    u_char                    *p, *dst;
    u_char                     field[NGX_HTTP_LFV_STS_FIELD_MAX];
    size_t                     n, size, *lenp;
    time_t                     t;
    ngx_http_lfv_sts_doc_t    *doc;
    ngx_http_lfv_sts_error_t  *e;

    /* a node is looked up in its own documents only */

    doc = x->doc;

    if (doc) {

        switch (node->id) {

        case NGX_HTTP_LFV_STS_ARN:
            dst = doc->arn;
            size = NGX_HTTP_LFV_STS_ARN_MAX;
            lenp = &doc->arn_len;
            break;

        case NGX_HTTP_LFV_STS_AKID:
            dst = doc->creds.access_key_id;
            size = NGX_HTTP_LFV_AKID_MAX;
            lenp = &doc->creds.access_key_id_len;
            break;

        case NGX_HTTP_LFV_STS_SECRET:
            dst = doc->creds.secret_access_key;
            size = NGX_HTTP_LFV_SECRET_MAX;
            lenp = &doc->creds.secret_access_key_len;
            break;

        case NGX_HTTP_LFV_STS_TOKEN:
            dst = doc->creds.session_token;
            size = NGX_HTTP_LFV_TOKEN_MAX;
            lenp = &doc->creds.session_token_len;
            break;

        case NGX_HTTP_LFV_STS_REQUEST_ID:
            dst = doc->request_id;
            size = NGX_HTTP_LFV_STS_ID_MAX;
            lenp = &doc->request_id_len;
            break;

        default: /* NGX_HTTP_LFV_STS_EXPIRATION */
            dst = field;
            size = sizeof(field);
            lenp = NULL;
            break;
        }

    } else {

        e = x->error;

        switch (node->id) {

        case NGX_HTTP_LFV_STS_TYPE:
            dst = e->type;
            size = sizeof(e->type);
            lenp = &e->type_len;
            break;

        case NGX_HTTP_LFV_STS_CODE:
            dst = e->code;
            size = NGX_HTTP_LFV_STS_CODE_MAX;
            lenp = &e->code_len;
            break;

        case NGX_HTTP_LFV_STS_MESSAGE:
            dst = e->message;
            size = NGX_HTTP_LFV_STS_MESSAGE_MAX;
            lenp = &e->message_len;
            break;

        default: /* NGX_HTTP_LFV_STS_REQUEST_ID */
            dst = e->request_id;
            size = NGX_HTTP_LFV_STS_ID_MAX;
            lenp = &e->request_id_len;
            break;
        }
    }

    n = 0;

    if (!empty) {

        if (ngx_http_lfv_sts_text(x, dst, size, &n) != NGX_OK) {
            return NGX_ERROR;
        }

        /* on "<": only the end tag may follow a value */

        p = x->pos;

        if (p + 1 == x->last) {
            x->err = "truncated XML";
            return NGX_ERROR;
        }

        if (p[1] == '!' || p[1] == '?') {
            return ngx_http_lfv_sts_markup(x);
        }

        if (p[1] != '/') {
            x->err = ngx_http_lfv_sts_name_start(p[1])
                     ? "element inside a value" : "invalid XML";
            return NGX_ERROR;
        }
    }

    if (n > size) {
        x->err = node->too_long;
        return NGX_ERROR;
    }

    if (ngx_http_lfv_sts_check(dst, n, node->id) != NGX_OK) {
        x->err = node->invalid;
        return NGX_ERROR;
    }

    if (lenp) {
        *lenp = n;
        return NGX_OK;
    }

    t = ngx_http_lfv_parse_rfc3339(field, n);

    /* 0 stands for "no expiration" in the document */

    if (t == NGX_ERROR || t == 0) {
        x->err = node->invalid;
        return NGX_ERROR;
    }

    doc->creds.expiration = t;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_sts_check(u_char *p, size_t len, ngx_uint_t id)
{
    u_char  *last, low;

    last = p + len;

    switch (id) {

    case NGX_HTTP_LFV_STS_AKID:

        /* [A-Z0-9]+ */

        if (len == 0) {
            return NGX_ERROR;
        }

        for ( /* void */ ; p < last; p++) {
            if (!(*p >= '0' && *p <= '9') && !(*p >= 'A' && *p <= 'Z')) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;

    case NGX_HTTP_LFV_STS_EXPIRATION:

        /* checked when parsed */

        return NGX_OK;

    default:

        /*
         * visible ASCII, no spaces: the secret, the token and the code
         * are never empty; a message may hold spaces
         */

        if (len == 0
            && (id == NGX_HTTP_LFV_STS_SECRET || id == NGX_HTTP_LFV_STS_TOKEN
                || id == NGX_HTTP_LFV_STS_CODE))
        {
            return NGX_ERROR;
        }

        low = (id == NGX_HTTP_LFV_STS_MESSAGE) ? 0x20 : 0x21;

        for ( /* void */ ; p < last; p++) {
            if (*p < low || *p > 0x7e) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }
}


static u_char *
ngx_http_lfv_sts_space(u_char *p, u_char *last)
{
    while (p < last && ngx_http_lfv_sts_is_space(*p)) {
        p++;
    }

    return p;
}


static u_char *
ngx_http_lfv_sts_name(u_char *p, u_char *last)
{
    if (p == last || !ngx_http_lfv_sts_name_start(*p)) {
        return p;
    }

    for (p++; p < last && ngx_http_lfv_sts_name_char(*p); p++) {
        /* void */
    }

    return p;
}
