
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_creds_doc.h"
#include "ngx_http_lfv_json.h"
#include "ngx_http_lfv_time.h"


/* longer than any known member name: longer names are unknown ones */
#define NGX_HTTP_LFV_NAME_MAX          32

/* Expiration with a 9-digit fraction and an offset is 35 bytes */
#define NGX_HTTP_LFV_FIELD_MAX         64

#define NGX_HTTP_LFV_CREDS_AKID        0
#define NGX_HTTP_LFV_CREDS_SECRET      1
#define NGX_HTTP_LFV_CREDS_TOKEN       2
#define NGX_HTTP_LFV_CREDS_EXPIRATION  3
#define NGX_HTTP_LFV_CREDS_CODE        4
#define NGX_HTTP_LFV_CREDS_UNKNOWN     5


typedef struct {
    ngx_str_t                   name;
    char                       *duplicate;
    char                       *not_string;
    char                       *too_long;
    char                       *invalid;
} ngx_http_lfv_creds_member_t;


static ngx_int_t ngx_http_lfv_json_member(ngx_http_lfv_json_t *j,
    ngx_http_lfv_creds_doc_t *doc, ngx_uint_t *seen);
static ngx_int_t ngx_http_lfv_json_check(u_char *p, size_t len,
    ngx_uint_t member);


#define ngx_http_lfv_digit(c)  ((c) >= '0' && (c) <= '9')


static ngx_http_lfv_creds_member_t  ngx_http_lfv_creds_members[] = {

    { ngx_string("AccessKeyId"),
      "duplicate AccessKeyId",
      "AccessKeyId is not a string",
      "AccessKeyId too long",
      "invalid AccessKeyId" },

    { ngx_string("SecretAccessKey"),
      "duplicate SecretAccessKey",
      "SecretAccessKey is not a string",
      "SecretAccessKey too long",
      "invalid SecretAccessKey" },

    { ngx_string("Token"),
      "duplicate Token",
      "Token is not a string",
      "Token too long",
      "invalid Token" },

    { ngx_string("Expiration"),
      "duplicate Expiration",
      "Expiration is not a string",
      "invalid Expiration",
      "invalid Expiration" },

    { ngx_string("Code"),
      "duplicate Code",
      "Code is not a string",
      "Code is not \"Success\"",
      "Code is not \"Success\"" }
};


ngx_int_t
ngx_http_lfv_parse_credentials(u_char *p, size_t len,
    ngx_http_lfv_creds_doc_t *doc, char **err)
{
    ngx_uint_t           seen;
    ngx_http_lfv_json_t  j;

    ngx_memzero(doc, sizeof(ngx_http_lfv_creds_doc_t));

    j.pos = p;
    j.last = p + len;
    j.err = "invalid JSON";
    j.any_text = 0;

    seen = 0;

    j.pos = ngx_http_lfv_json_space(j.pos, j.last);

    if (j.pos == j.last || *j.pos != '{') {
        j.err = "credentials are not a JSON object";
        goto failed;
    }

    j.pos++;

    j.pos = ngx_http_lfv_json_space(j.pos, j.last);

    if (j.pos < j.last && *j.pos == '}') {
        j.pos++;
        goto done;
    }

    for ( ;; ) {

        if (ngx_http_lfv_json_member(&j, doc, &seen) != NGX_OK) {
            goto failed;
        }

        j.pos = ngx_http_lfv_json_space(j.pos, j.last);

        if (j.pos == j.last) {
            j.err = "truncated JSON";
            goto failed;
        }

        if (*j.pos == '}') {
            j.pos++;
            break;
        }

        if (*j.pos != ',') {
            j.err = "invalid JSON";
            goto failed;
        }

        j.pos++;

        j.pos = ngx_http_lfv_json_space(j.pos, j.last);
    }

done:

    j.pos = ngx_http_lfv_json_space(j.pos, j.last);

    if (j.pos != j.last) {
        j.err = "trailing data after JSON";
        goto failed;
    }

    if (!(seen & (1 << NGX_HTTP_LFV_CREDS_AKID))) {
        j.err = "missing AccessKeyId";
        goto failed;
    }

    if (!(seen & (1 << NGX_HTTP_LFV_CREDS_SECRET))) {
        j.err = "missing SecretAccessKey";
        goto failed;
    }

    return NGX_OK;

failed:

    ngx_explicit_memzero(doc, sizeof(ngx_http_lfv_creds_doc_t));

    *err = j.err;

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_lfv_json_member(ngx_http_lfv_json_t *j,
    ngx_http_lfv_creds_doc_t *doc, ngx_uint_t *seen)
{
    u_char                       *dst;
    u_char                        name[NGX_HTTP_LFV_NAME_MAX];
    u_char                        field[NGX_HTTP_LFV_FIELD_MAX];
    size_t                        n, size, *lenp;
    time_t                        t;
    ngx_uint_t                    i;
    ngx_http_lfv_creds_member_t  *m;

    if (j->pos == j->last || *j->pos != '"') {
        j->err = (j->pos == j->last) ? "truncated JSON" : "invalid JSON";
        return NGX_ERROR;
    }

    /* names are compared decoded: "Access\u004beyId" is AccessKeyId */

    if (ngx_http_lfv_json_string(j, name, sizeof(name), &n) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_LFV_CREDS_UNKNOWN; i++) {
        m = &ngx_http_lfv_creds_members[i];

        if (n == m->name.len && ngx_strncmp(name, m->name.data, n) == 0) {
            break;
        }
    }

    j->pos = ngx_http_lfv_json_space(j->pos, j->last);

    if (j->pos == j->last || *j->pos != ':') {
        j->err = (j->pos == j->last) ? "truncated JSON" : "invalid JSON";
        return NGX_ERROR;
    }

    j->pos++;

    j->pos = ngx_http_lfv_json_space(j->pos, j->last);

    if (i == NGX_HTTP_LFV_CREDS_UNKNOWN) {
        return ngx_http_lfv_json_skip_value(j, 1);
    }

    m = &ngx_http_lfv_creds_members[i];

    if (*seen & (1 << i)) {
        j->err = m->duplicate;
        return NGX_ERROR;
    }

    *seen |= 1 << i;

    if (j->pos == j->last) {
        j->err = "truncated JSON";
        return NGX_ERROR;
    }

    if (i == NGX_HTTP_LFV_CREDS_TOKEN && *j->pos == 'n') {

        /* "Token": null, as if absent */

        return ngx_http_lfv_json_literal(j, "null", sizeof("null") - 1);
    }

    if (*j->pos != '"') {
        j->err = m->not_string;
        return NGX_ERROR;
    }

    switch (i) {

    case NGX_HTTP_LFV_CREDS_AKID:
        dst = doc->access_key_id;
        size = NGX_HTTP_LFV_AKID_MAX;
        lenp = &doc->access_key_id_len;
        break;

    case NGX_HTTP_LFV_CREDS_SECRET:
        dst = doc->secret_access_key;
        size = NGX_HTTP_LFV_SECRET_MAX;
        lenp = &doc->secret_access_key_len;
        break;

    case NGX_HTTP_LFV_CREDS_TOKEN:
        dst = doc->session_token;
        size = NGX_HTTP_LFV_TOKEN_MAX;
        lenp = &doc->session_token_len;
        break;

    default: /* NGX_HTTP_LFV_CREDS_EXPIRATION, NGX_HTTP_LFV_CREDS_CODE */
        dst = field;
        size = sizeof(field);
        lenp = NULL;
        break;
    }

    if (ngx_http_lfv_json_string(j, dst, size, &n) != NGX_OK) {
        return NGX_ERROR;
    }

    if (n > size) {
        j->err = m->too_long;
        return NGX_ERROR;
    }

    if (ngx_http_lfv_json_check(dst, n, i) != NGX_OK) {
        j->err = m->invalid;
        return NGX_ERROR;
    }

    if (lenp) {
        *lenp = n;
        return NGX_OK;
    }

    if (i == NGX_HTTP_LFV_CREDS_EXPIRATION) {
        t = ngx_http_lfv_parse_rfc3339(field, n);

        /* 0 stands for "no expiration" in the document */

        if (t == NGX_ERROR || t == 0) {
            j->err = m->invalid;
            return NGX_ERROR;
        }

        doc->expiration = t;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_json_check(u_char *p, size_t len, ngx_uint_t member)
{
    u_char  *last;

    last = p + len;

    switch (member) {

    case NGX_HTTP_LFV_CREDS_AKID:

        /* [A-Z0-9]+ */

        if (len == 0) {
            return NGX_ERROR;
        }

        for ( /* void */ ; p < last; p++) {
            if (!ngx_http_lfv_digit(*p) && !(*p >= 'A' && *p <= 'Z')) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;

    case NGX_HTTP_LFV_CREDS_SECRET:
    case NGX_HTTP_LFV_CREDS_TOKEN:

        /*
         * visible ASCII, no spaces: the token goes into a header
         * that would lose leading and trailing ones
         */

        if (len == 0 && member == NGX_HTTP_LFV_CREDS_SECRET) {
            return NGX_ERROR;
        }

        for ( /* void */ ; p < last; p++) {
            if (*p < 0x21 || *p > 0x7e) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;

    case NGX_HTTP_LFV_CREDS_CODE:

        if (len == sizeof("Success") - 1
            && ngx_strncmp(p, "Success", len) == 0)
        {
            return NGX_OK;
        }

        return NGX_ERROR;

    default: /* NGX_HTTP_LFV_CREDS_EXPIRATION, checked when parsed */
        return NGX_OK;
    }
}


ngx_int_t
ngx_http_lfv_check_header_value(u_char *p, size_t len)
{
    u_char  *last;

    for (last = p + len; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
