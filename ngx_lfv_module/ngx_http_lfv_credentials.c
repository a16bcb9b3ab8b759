
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_credentials.h"


static char *ngx_http_lfv_credentials_env(ngx_conf_t *cf,
    ngx_http_lfv_creds_t *creds, ngx_uint_t required);
static ngx_int_t ngx_http_lfv_credentials_getenv(ngx_conf_t *cf, char *name,
    ngx_str_t *value);


static ngx_conf_enum_t  ngx_http_lfv_providers[] = {
    { ngx_string("static"), NGX_HTTP_LFV_CREDS_STATIC },
    { ngx_string("env"), NGX_HTTP_LFV_CREDS_ENV },
    { ngx_string("auto"), NGX_HTTP_LFV_CREDS_AUTO },
    { ngx_null_string, 0 }
};


/*
 * lfv_credentials static access_key_id=... secret_access_key=...
 *                        [session_token=...];
 * lfv_credentials env | auto;
 */

char *
ngx_http_lfv_credentials(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lfv_main_conf_t *lmcf = conf;

    ngx_str_t                  *value, s;
    ngx_uint_t                  i;
    ngx_conf_enum_t            *e;
    ngx_http_lfv_creds_t       *creds;
    ngx_http_lfv_creds_conf_t  *ccf;

    ccf = &lmcf->creds;

    if (ccf->provider != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = ngx_http_lfv_providers; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcmp(e->name.data, value[1].data) == 0)
        {
            break;
        }
    }

    if (e->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid credentials provider \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    ccf->provider = e->value;
    creds = &ccf->fixed;

    if (ccf->provider != NGX_HTTP_LFV_CREDS_STATIC) {
        if (cf->args->nelts > 2) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "access_key_id=", 14) == 0) {
            creds->access_key_id.data = value[i].data + 14;
            creds->access_key_id.len = value[i].len - 14;
            continue;
        }

        if (ngx_strncmp(value[i].data, "secret_access_key=", 18) == 0) {
            creds->secret_access_key.data = value[i].data + 18;
            creds->secret_access_key.len = value[i].len - 18;
            continue;
        }

        if (ngx_strncmp(value[i].data, "session_token=", 14) == 0) {
            creds->session_token.data = value[i].data + 14;
            creds->session_token.len = value[i].len - 14;
            continue;
        }

        /* do not echo a value that may hold a secret */

        s.data = value[i].data;

        for (s.len = 0; s.len < value[i].len; s.len++) {
            if (s.data[s.len] == '=') {
                break;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &s);
        return NGX_CONF_ERROR;
    }

    if (creds->access_key_id.len == 0 || creds->secret_access_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lfv_credentials static\" needs access_key_id= "
                           "and secret_access_key=");
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&creds->source, "static");
    creds->generation = 1;

    return NGX_CONF_OK;
}


char *
ngx_http_lfv_credentials_init_conf(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf)
{
    if (ccf->provider == NGX_CONF_UNSET_UINT) {
        ccf->provider = NGX_HTTP_LFV_CREDS_AUTO;
    }

    switch (ccf->provider) {

    case NGX_HTTP_LFV_CREDS_ENV:
        return ngx_http_lfv_credentials_env(cf, &ccf->fixed, 1);

    case NGX_HTTP_LFV_CREDS_AUTO:
        return ngx_http_lfv_credentials_env(cf, &ccf->fixed, 0);

    default:
        return NGX_CONF_OK;
    }
}


/*
 * Workers see only the variables that the "env" directive names, so the
 * environment is read here, in the master, while parsing configuration.
 */

static char *
ngx_http_lfv_credentials_env(ngx_conf_t *cf, ngx_http_lfv_creds_t *creds,
    ngx_uint_t required)
{
    ngx_int_t  akid, secret;

    akid = ngx_http_lfv_credentials_getenv(cf, "AWS_ACCESS_KEY_ID",
                                           &creds->access_key_id);
    secret = ngx_http_lfv_credentials_getenv(cf, "AWS_SECRET_ACCESS_KEY",
                                             &creds->secret_access_key);

    if (akid == NGX_ERROR || secret == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (akid == NGX_DECLINED || secret == NGX_DECLINED) {
        ngx_str_null(&creds->access_key_id);
        ngx_str_null(&creds->secret_access_key);

        if (!required) {
            return NGX_CONF_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lfv_credentials env\" needs AWS_ACCESS_KEY_ID "
                           "and AWS_SECRET_ACCESS_KEY in nginx's environment");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_credentials_getenv(cf, "AWS_SESSION_TOKEN",
                                        &creds->session_token)
        == NGX_ERROR)
    {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&creds->source, "env");
    creds->generation = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_lfv_credentials_getenv(ngx_conf_t *cf, char *name, ngx_str_t *value)
{
    char  *v;

    v = getenv(name);

    if (v == NULL || *v == '\0') {
        ngx_str_null(value);
        return NGX_DECLINED;
    }

    /* a copy: the environment may be replaced after a reload */

    value->len = ngx_strlen(v);
    value->data = ngx_pnalloc(cf->pool, value->len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, v, value->len);

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_credentials_get(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_t **creds)
{
    if (ccf->fixed.access_key_id.len) {
        *creds = &ccf->fixed;
        return NGX_OK;
    }

    return NGX_DECLINED;
}
