
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_error.h"
#include "ngx_http_lfv_variables.h"


static ngx_int_t ngx_http_lfv_variable_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_lfv_variable_units(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_lfv_variable_decision(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_lfv_variable_reason(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_lfv_variable_operation(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void ngx_http_lfv_variable_set(ngx_http_variable_value_t *v,
    u_char *data, size_t len);


static ngx_http_variable_t  ngx_http_lfv_vars[] = {

    { ngx_string("lfv_operation"), NULL, ngx_http_lfv_variable_operation,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_team"), NULL, ngx_http_lfv_variable_str,
      offsetof(ngx_http_lfv_audit_t, team), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_project"), NULL, ngx_http_lfv_variable_str,
      offsetof(ngx_http_lfv_audit_t, project), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_model_version"), NULL, ngx_http_lfv_variable_str,
      offsetof(ngx_http_lfv_audit_t, version), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_client_token"), NULL, ngx_http_lfv_variable_str,
      offsetof(ngx_http_lfv_audit_t, client_token), NGX_HTTP_VAR_NOCACHEABLE,
      0 },

    { ngx_string("lfv_access_key_id"), NULL, ngx_http_lfv_variable_str,
      offsetof(ngx_http_lfv_audit_t, access_key_id), NGX_HTTP_VAR_NOCACHEABLE,
      0 },

    { ngx_string("lfv_credential_source"), NULL, ngx_http_lfv_variable_str,
      offsetof(ngx_http_lfv_audit_t, source), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_min_units"), NULL, ngx_http_lfv_variable_units,
      offsetof(ngx_http_lfv_audit_t, min_units), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_max_units"), NULL, ngx_http_lfv_variable_units,
      offsetof(ngx_http_lfv_audit_t, max_units), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_decision"), NULL, ngx_http_lfv_variable_decision,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("lfv_reason"), NULL, ngx_http_lfv_variable_reason,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_lfv_add_variables(ngx_conf_t *cf)
{
    return ngx_http_lfv_variables_add(cf, ngx_http_lfv_vars);
}


/* a null-terminated table of variables, as nginx's modules keep them */

ngx_int_t
ngx_http_lfv_variables_add(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* StartModel, StopModel, DescribeModel, ListModels; empty: none */

static ngx_int_t
ngx_http_lfv_variable_operation(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *name;
    ngx_http_lfv_audit_t  *audit;

    audit = ngx_http_lfv_get_audit(r);

    if (audit == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = ngx_http_lfv_operation_name(audit->operation);

    ngx_http_lfv_variable_set(v, name->data, name->len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_variable_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t              s;
    ngx_http_lfv_audit_t  *audit;

    audit = ngx_http_lfv_get_audit(r);

    if (audit == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* a team name or a refused segment is the client's bytes */

    s = *(ngx_str_t *) ((u_char *) audit + data);

    if (ngx_http_lfv_utf8(r->pool, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_lfv_variable_set(v, s.data, s.len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_variable_units(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    ngx_int_t            units;
    ngx_http_lfv_audit_t  *audit;

    audit = ngx_http_lfv_get_audit(r);

    if (audit == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    units = *(ngx_int_t *) ((u_char *) audit + data);

    if (units <= 0) {
        ngx_http_lfv_variable_set(v, NULL, 0);
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_http_lfv_variable_set(v, p, ngx_sprintf(p, "%i", units) - p);

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_variable_decision(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_lfv_audit_t  *audit;

    audit = ngx_http_lfv_get_audit(r);

    if (audit == NULL || !ngx_http_lfv_decided(audit)) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_lfv_forwarded(audit)) {
        ngx_http_lfv_variable_set(v, (u_char *) "forwarded", 9);

    } else {
        ngx_http_lfv_variable_set(v, (u_char *) "rejected", 8);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_lfv_variable_reason(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_lfv_audit_t   *audit;
    ngx_http_lfv_reason_t  *rs;

    audit = ngx_http_lfv_get_audit(r);

    if (audit == NULL || !ngx_http_lfv_decided(audit)) {
        v->not_found = 1;
        return NGX_OK;
    }

    rs = ngx_http_lfv_reason(audit->reason);

    ngx_http_lfv_variable_set(v, rs->name.data, rs->name.len);

    return NGX_OK;
}


static void
ngx_http_lfv_variable_set(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
}
