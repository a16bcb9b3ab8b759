
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_upstream.h"
#include "ngx_http_lfv_variables.h"


static ngx_int_t ngx_http_lfv_upstream_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_lfv_upstream_secret(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_lfv_upstream_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_str_t *value);


#define ngx_http_lfv_signed(field)  offsetof(ngx_http_lfv_ctx_t, field)


/*
 * The signed request, as lfv_proxy_params sends it.  Not cacheable: a
 * value must never outlive the request line proxy_pass builds with it.
 */

static ngx_http_variable_t  ngx_http_lfv_upstream_vars[] = {

    { ngx_string("lfv_host"), NULL, ngx_http_lfv_upstream_variable,
      ngx_http_lfv_signed(header[NGX_HTTP_LFV_H_HOST]),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_content_type"), NULL, ngx_http_lfv_upstream_variable,
      ngx_http_lfv_signed(header[NGX_HTTP_LFV_H_CONTENT_TYPE]),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_amz_date"), NULL, ngx_http_lfv_upstream_variable,
      ngx_http_lfv_signed(header[NGX_HTTP_LFV_H_AMZ_DATE]),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    /* secrets: only while proxy_pass builds the request to AWS */

    { ngx_string("lfv_security_token"), NULL, ngx_http_lfv_upstream_secret,
      ngx_http_lfv_signed(header[NGX_HTTP_LFV_H_SECURITY_TOKEN]),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("lfv_authorization"), NULL, ngx_http_lfv_upstream_secret,
      ngx_http_lfv_signed(authorization),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_lfv_upstream_add_variables(ngx_conf_t *cf)
{
    return ngx_http_lfv_variables_add(cf, ngx_http_lfv_upstream_vars);
}


static ngx_int_t
ngx_http_lfv_upstream_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_lfv_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx == NULL || !ctx->signed_request) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_lfv_upstream_value(r, v,
                                       (ngx_str_t *) ((u_char *) ctx + data));
}


static ngx_int_t
ngx_http_lfv_upstream_secret(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_upstream_t  *u;
    ngx_http_lfv_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);
    u = r->upstream;

    /*
     * Only while proxy_pass builds the request: the upstream has been
     * given the body chain, and the request chain that replaces it is
     * not made yet.  Never in a log line, a header to the client, an
     * error page, a mirror or another subrequest.
     */

    if (ctx == NULL || !ctx->signed_request
        || u == NULL || u->request_sent || r->request_body == NULL
        || u->request_bufs != r->request_body->bufs)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    if (data == ngx_http_lfv_signed(authorization)) {
        ctx->signature_sent = 1;
    }

    return ngx_http_lfv_upstream_value(r, v,
                                       (ngx_str_t *) ((u_char *) ctx + data));
}


static ngx_int_t
ngx_http_lfv_upstream_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_str_t *value)
{
    v->data = value->data;
    v->len = value->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = (value->len == 0);

    return NGX_OK;
}


/*
 * An lfv location signs, but only lfv_proxy_params sends the signature:
 * without a single use of $lfv_authorization no request can be signed.
 */

ngx_int_t
ngx_http_lfv_upstream_check_conf(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_http_variable_t        *v;
    ngx_http_lfv_main_conf_t   *lmcf;
    ngx_http_core_main_conf_t  *cmcf;

    static ngx_str_t  name = ngx_string("lfv_authorization");

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_lfv_module);

    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (v[i].name.len == name.len
            && ngx_strncmp(v[i].name.data, name.data, name.len) == 0)
        {
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"lfv on\" in %s:%ui: the signature is sent nowhere; "
                  "add \"include lfv_proxy_params;\" to its location",
                  lmcf->file, lmcf->line);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_lfv_upstream_log_handler(ngx_http_request_t *r)
{
    ngx_http_lfv_ctx_t       *ctx;
    ngx_http_lfv_loc_conf_t  *llcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lfv_module);

    if (ctx == NULL || !ctx->signed_request || ctx->signature_sent
        || r->upstream == NULL)
    {
        return NGX_OK;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_lfv_module);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "lfv: a signed request went upstream without its "
                  "signature: the location of \"lfv on\" in %s:%ui needs "
                  "\"include lfv_proxy_params;\"", llcf->file, llcf->line);

    return NGX_OK;
}
