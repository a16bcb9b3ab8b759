
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
static char *ngx_http_lfv_credentials_fixed(ngx_conf_t *cf,
    ngx_http_lfv_creds_t *creds);
static ngx_int_t ngx_http_lfv_credentials_getenv(ngx_conf_t *cf, char *name,
    ngx_str_t *value);
static ngx_flag_t ngx_http_lfv_credentials_env_true(char *name);
static char *ngx_http_lfv_credentials_container(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf);
static char *ngx_http_lfv_credentials_imds(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf);
static char *ngx_http_lfv_credentials_web_identity(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf, ngx_uint_t required);
static char *ngx_http_lfv_credentials_endpoint(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf, ngx_str_t *url);
static ngx_int_t ngx_http_lfv_credentials_allowed(ngx_addr_t *addr);


static ngx_conf_enum_t  ngx_http_lfv_providers[] = {
    { ngx_string("static"), NGX_HTTP_LFV_CREDS_STATIC },
    { ngx_string("env"), NGX_HTTP_LFV_CREDS_ENV },
    { ngx_string("container"), NGX_HTTP_LFV_CREDS_CONTAINER },
    { ngx_string("imds"), NGX_HTTP_LFV_CREDS_IMDS },
    { ngx_string("web_identity"), NGX_HTTP_LFV_CREDS_WEB_IDENTITY },
    { ngx_string("auto"), NGX_HTTP_LFV_CREDS_AUTO },
    { ngx_null_string, 0 }
};


/* $lfv_credential_source, indexed by the source */

static ngx_str_t  ngx_http_lfv_source_names[] = {
    ngx_string("none"),
    ngx_string("static"),
    ngx_string("env"),
    ngx_string("container"),
    ngx_string("imds"),
    ngx_string("web_identity"),
    ngx_string("assume_role"),
};


/*
 * lfv_credentials static access_key_id=... secret_access_key=...
 *                        [session_token=...];
 * lfv_credentials container [endpoint=http://...];
 * lfv_credentials imds [endpoint=http://...];
 * lfv_credentials web_identity [role_arn=...] [token_file=...]
 *                              [session_name=...] [region=...]
 *                              [endpoint=https://...];
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

    for (i = 2; i < cf->args->nelts; i++) {

        if (ccf->provider == NGX_HTTP_LFV_CREDS_STATIC) {

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
        }

        if ((ccf->provider == NGX_HTTP_LFV_CREDS_CONTAINER
             || ccf->provider == NGX_HTTP_LFV_CREDS_IMDS)
            && ngx_strncmp(value[i].data, "endpoint=", 9) == 0)
        {
            ccf->endpoint.url.data = value[i].data + 9;
            ccf->endpoint.url.len = value[i].len - 9;
            continue;
        }

        if (ccf->provider == NGX_HTTP_LFV_CREDS_WEB_IDENTITY) {

            if (ngx_strncmp(value[i].data, "role_arn=", 9) == 0) {
                ccf->role.arn.data = value[i].data + 9;
                ccf->role.arn.len = value[i].len - 9;
                continue;
            }

            if (ngx_strncmp(value[i].data, "token_file=", 11) == 0) {
                ccf->token_file.data = value[i].data + 11;
                ccf->token_file.len = value[i].len - 11;

                if (ngx_conf_full_name(cf->cycle, &ccf->token_file, 1)
                    != NGX_OK)
                {
                    return NGX_CONF_ERROR;
                }

                continue;
            }

            if (ngx_strncmp(value[i].data, "session_name=", 13) == 0) {
                ccf->role.session_name.data = value[i].data + 13;
                ccf->role.session_name.len = value[i].len - 13;
                continue;
            }

            if (ngx_strncmp(value[i].data, "region=", 7) == 0) {
                ccf->sts_region.data = value[i].data + 7;
                ccf->sts_region.len = value[i].len - 7;
                continue;
            }

            if (ngx_strncmp(value[i].data, "endpoint=", 9) == 0) {
                if (ccf->sts_url.len) {
                    return "has endpoint= with \"lfv_sts_endpoint\"";
                }

                ccf->sts_url.data = value[i].data + 9;
                ccf->sts_url.len = value[i].len - 9;
                continue;
            }
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

    if (ccf->provider != NGX_HTTP_LFV_CREDS_STATIC) {
        return NGX_CONF_OK;
    }

    if (creds->access_key_id.len == 0 || creds->secret_access_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lfv_credentials static\" needs access_key_id= "
                           "and secret_access_key=");
        return NGX_CONF_ERROR;
    }

    return ngx_http_lfv_credentials_fixed(cf, creds);
}


/*
 * The provider is resolved here, in the master, as the SDKs' chain does:
 * the environment, then the container endpoint, then IMDS.  Workers see
 * only the variables that the "env" directive names, so the environment
 * is read now.
 */

char *
ngx_http_lfv_credentials_init_conf(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf)
{
    char  *rv;

    if (ccf->provider == NGX_CONF_UNSET_UINT) {
        ccf->provider = NGX_HTTP_LFV_CREDS_AUTO;
    }

    /* a metadata service is on the host, STS across the internet */

    ngx_conf_init_msec_value(ccf->timeout,
                             ccf->provider == NGX_HTTP_LFV_CREDS_WEB_IDENTITY
                             ? 5000 : 1000);
    ngx_conf_init_value(ccf->grace, 300);
    ngx_conf_init_msec_value(ccf->wait, 2000);

    switch (ccf->provider) {

    case NGX_HTTP_LFV_CREDS_STATIC:
        ccf->source = NGX_HTTP_LFV_CREDS_STATIC;
        break;

    case NGX_HTTP_LFV_CREDS_ENV:
        rv = ngx_http_lfv_credentials_env(cf, &ccf->fixed, 1);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        ccf->source = NGX_HTTP_LFV_CREDS_ENV;
        break;

    case NGX_HTTP_LFV_CREDS_CONTAINER:
        rv = ngx_http_lfv_credentials_container(cf, ccf);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        if (ccf->source == NGX_HTTP_LFV_CREDS_NONE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"lfv_credentials container\" needs "
                               "endpoint= or "
                               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or "
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI");
            return NGX_CONF_ERROR;
        }

        break;

    case NGX_HTTP_LFV_CREDS_WEB_IDENTITY:
        rv = ngx_http_lfv_credentials_web_identity(cf, ccf, 1);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        break;

    case NGX_HTTP_LFV_CREDS_IMDS:
        if (ngx_http_lfv_credentials_env_true("AWS_EC2_METADATA_DISABLED")) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"lfv_credentials imds\" is disabled by "
                               "AWS_EC2_METADATA_DISABLED");
            return NGX_CONF_ERROR;
        }

        rv = ngx_http_lfv_credentials_imds(cf, ccf);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        break;

    default: /* NGX_HTTP_LFV_CREDS_AUTO */

        rv = ngx_http_lfv_credentials_env(cf, &ccf->fixed, 0);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        if (ccf->fixed.access_key_id.len) {
            ccf->source = NGX_HTTP_LFV_CREDS_ENV;
            break;
        }

        rv = ngx_http_lfv_credentials_web_identity(cf, ccf, 0);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        if (ccf->source != NGX_HTTP_LFV_CREDS_NONE) {
            break;
        }

        rv = ngx_http_lfv_credentials_container(cf, ccf);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        if (ccf->source != NGX_HTTP_LFV_CREDS_NONE) {
            break;
        }

        if (!ngx_http_lfv_credentials_env_true("AWS_EC2_METADATA_DISABLED")) {
            rv = ngx_http_lfv_credentials_imds(cf, ccf);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            break;
        }

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"lfv_credentials auto\" found no credentials: "
                           "no AWS keys in the environment, no container "
                           "endpoint, and AWS_EC2_METADATA_DISABLED; "
                           "every request will be refused with 503");
        break;
    }

    ccf->fixed.source = ngx_http_lfv_source_names[ccf->source];
    ccf->local.source = ccf->fixed.source;

    if (ccf->source == NGX_HTTP_LFV_CREDS_CONTAINER
        || ccf->source == NGX_HTTP_LFV_CREDS_IMDS)
    {
        ccf->endpoint_name = ccf->endpoint.addrs[0].name;
        return ngx_http_lfv_credentials_zone(cf, ccf, NULL);
    }

    if (ccf->source == NGX_HTTP_LFV_CREDS_WEB_IDENTITY) {
        ccf->endpoint_name = ccf->sts.url;
        return ngx_http_lfv_credentials_zone(cf, ccf, NULL);
    }

    return NGX_CONF_OK;
}


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

    return ngx_http_lfv_credentials_fixed(cf, creds);
}


/* static and env credentials fit the buffers fetched ones use */

static char *
ngx_http_lfv_credentials_fixed(ngx_conf_t *cf, ngx_http_lfv_creds_t *creds)
{
    if (creds->access_key_id.len > NGX_HTTP_LFV_AKID_MAX
        || creds->secret_access_key.len > NGX_HTTP_LFV_SECRET_MAX
        || creds->session_token.len > NGX_HTTP_LFV_TOKEN_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "AWS credentials are too long");
        return NGX_CONF_ERROR;
    }

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

    /* null-terminated: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is opened */

    value->len = ngx_strlen(v);
    value->data = ngx_pnalloc(cf->pool, value->len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(value->data, (u_char *) v, value->len + 1);

    return NGX_OK;
}


static ngx_flag_t
ngx_http_lfv_credentials_env_true(char *name)
{
    char  *v;

    v = getenv(name);

    return (v && ngx_strcasecmp((u_char *) v, (u_char *) "true") == 0);
}


static char *
ngx_http_lfv_credentials_container(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf)
{
    char       *rv;
    ngx_str_t   url, relative, full;

    if (ccf->endpoint.url.len) {
        url = ccf->endpoint.url;

    } else {
        if (ngx_http_lfv_credentials_getenv(cf,
                                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                    &relative)
            == NGX_ERROR
            || ngx_http_lfv_credentials_getenv(cf,
                                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                    &full)
               == NGX_ERROR)
        {
            return NGX_CONF_ERROR;
        }

        if (relative.len) {
            url.len = sizeof("http://169.254.170.2") - 1 + relative.len;
            url.data = ngx_pnalloc(cf->pool, url.len);
            if (url.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_sprintf(url.data, "http://169.254.170.2%V", &relative);

        } else if (full.len) {
            url = full;

        } else {
            return NGX_CONF_OK;
        }
    }

    rv = ngx_http_lfv_credentials_endpoint(cf, ccf, &url);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* the token goes only to hosts the SDKs trust over plain HTTP */

    if (ngx_http_lfv_credentials_allowed(ccf->endpoint.addrs) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "container credentials endpoint \"%V\" is not "
                           "a loopback address, 169.254.170.2, "
                           "169.254.170.23 or fd00:ec2::23", &url);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_credentials_getenv(cf, "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                        &ccf->auth_token)
        == NGX_ERROR
        || ngx_http_lfv_credentials_getenv(cf,
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                     &ccf->auth_token_file)
           == NGX_ERROR)
    {
        return NGX_CONF_ERROR;
    }

    ccf->source = NGX_HTTP_LFV_CREDS_CONTAINER;

    return NGX_CONF_OK;
}


static char *
ngx_http_lfv_credentials_imds(ngx_conf_t *cf, ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_str_t  url;

    if (ccf->endpoint.url.len) {
        url = ccf->endpoint.url;

    } else {
        if (ngx_http_lfv_credentials_getenv(cf,
                                          "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                          &url)
            == NGX_ERROR)
        {
            return NGX_CONF_ERROR;
        }

        if (url.len == 0) {
            ngx_str_set(&url, "http://169.254.169.254");
        }
    }

    ccf->v1_disabled =
        ngx_http_lfv_credentials_env_true("AWS_EC2_METADATA_V1_DISABLED");

    ccf->source = NGX_HTTP_LFV_CREDS_IMDS;

    return ngx_http_lfv_credentials_endpoint(cf, ccf, &url);
}


/*
 * IAM roles for service accounts (EKS): the role and the token file
 * that Kubernetes rotates, as parameters or in the environment the pod
 * identity webhook sets
 */

static char *
ngx_http_lfv_credentials_web_identity(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf, ngx_uint_t required)
{
    if (ccf->role.arn.len == 0
        && ngx_http_lfv_credentials_getenv(cf, "AWS_ROLE_ARN", &ccf->role.arn)
           == NGX_ERROR)
    {
        return NGX_CONF_ERROR;
    }

    if (ccf->token_file.len == 0
        && ngx_http_lfv_credentials_getenv(cf, "AWS_WEB_IDENTITY_TOKEN_FILE",
                                           &ccf->token_file)
           == NGX_ERROR)
    {
        return NGX_CONF_ERROR;
    }

    if (ccf->role.arn.len == 0 || ccf->token_file.len == 0) {

        if (!required) {
            ngx_str_null(&ccf->role.arn);
            ngx_str_null(&ccf->token_file);
            return NGX_CONF_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lfv_credentials web_identity\" needs %s",
                           ccf->role.arn.len ? "token_file= or "
                                               "AWS_WEB_IDENTITY_TOKEN_FILE"
                                             : "role_arn= or AWS_ROLE_ARN");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_sts_check_role_arn(&ccf->role.arn) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid role ARN \"%V\"", &ccf->role.arn);
        return NGX_CONF_ERROR;
    }

    if (ccf->role.session_name.len == 0
        && ngx_http_lfv_credentials_getenv(cf, "AWS_ROLE_SESSION_NAME",
                                           &ccf->role.session_name)
           == NGX_ERROR)
    {
        return NGX_CONF_ERROR;
    }

    if (ccf->role.session_name.len == 0) {
        ngx_str_set(&ccf->role.session_name, "ngx_lfv_module");
    }

    if (ngx_http_lfv_sts_check_name(&ccf->role.session_name) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid role session name \"%V\": STS takes "
                           "2 to 64 of a-z, A-Z, 0-9 and _+=,.@-",
                           &ccf->role.session_name);
        return NGX_CONF_ERROR;
    }

    ccf->source = NGX_HTTP_LFV_CREDS_WEB_IDENTITY;

    return ngx_http_lfv_credentials_sts(cf, ccf);
}


/*
 * STS's region: region=, else AWS_REGION, else AWS_DEFAULT_REGION,
 * else the http block's lfv_region; its names need nginx's resolver
 */

char *
ngx_http_lfv_credentials_sts(ngx_conf_t *cf, ngx_http_lfv_creds_conf_t *ccf)
{
    u_char                    *p;
    ngx_str_t                 *region;
    ngx_resolver_t            *resolver;
    ngx_http_lfv_loc_conf_t   *llcf;
    ngx_http_core_loc_conf_t  *clcf;

    if (ccf->sts.host.len) {

        /* set up already: web_identity's, which the roles share */

        return NGX_CONF_OK;
    }

    region = &ccf->sts.region;
    *region = ccf->sts_region;

    if (region->len == 0
        && (ngx_http_lfv_credentials_getenv(cf, "AWS_REGION", region)
            == NGX_ERROR
            || (region->len == 0
                && ngx_http_lfv_credentials_getenv(cf, "AWS_DEFAULT_REGION",
                                                   region)
                   == NGX_ERROR)))
    {
        return NGX_CONF_ERROR;
    }

    if (region->len == 0) {
        llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_lfv_module);
        *region = llcf->region;
    }

    if (region->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "STS needs a region: region= of \"lfv_credentials "
                           "web_identity\", AWS_REGION, AWS_DEFAULT_REGION "
                           "or \"lfv_region\" in the http block");
        return NGX_CONF_ERROR;
    }

    for (p = region->data; p < region->data + region->len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid STS region \"%V\"", region);
            return NGX_CONF_ERROR;
        }
    }

    if (ccf->ca.len == 0) {
        ngx_str_set(&ccf->ca, "/etc/ssl/certs/ca-certificates.crt");
    }

    /*
     * The http block's resolver, merged by now: without a "resolver"
     * directive it is nginx's dummy one, with no server to ask
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    resolver = clcf->resolver;

    if (resolver && resolver->connections.nelts == 0) {
        resolver = NULL;
    }

    /* the http block's own values are not merged: unset is the default */

    return ngx_http_lfv_sts_init_conf(cf, &ccf->sts, &ccf->sts_url, &ccf->ca,
                                      resolver,
                                      clcf->resolver_timeout
                                      == NGX_CONF_UNSET_MSEC
                                      ? 30000 : clcf->resolver_timeout);
}


static char *
ngx_http_lfv_credentials_endpoint(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf, ngx_str_t *url)
{
    u_char     *p;
    ngx_url_t  *u;

    u = &ccf->endpoint;

    if (url->len <= 7 || ngx_strncasecmp(url->data, (u_char *) "http://", 7)
                         != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credentials endpoint \"%V\" must be an http:// URL",
                           url);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(u, sizeof(ngx_url_t));

    u->url.data = url->data + 7;
    u->url.len = url->len - 7;
    u->default_port = 80;
    u->uri_part = 1;

    if (ngx_parse_url(cf->pool, u) != NGX_OK) {
        if (u->err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in credentials endpoint \"%V\"",
                               u->err, url);
        }

        return NGX_CONF_ERROR;
    }

    if (u->naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credentials endpoint \"%V\" has no address", url);
        return NGX_CONF_ERROR;
    }

    ccf->path = u->uri;

    if (ccf->path.len == 0) {
        ngx_str_set(&ccf->path, "/");
    }

    /* the Host header: the name as written, with a port unless it is 80 */

    ccf->host.data = ngx_pnalloc(cf->pool, u->host.len + 2 + NGX_INT_T_LEN);
    if (ccf->host.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(ccf->host.data, u->host.data, u->host.len);

    if (u->port != 80) {
        p = ngx_sprintf(p, ":%d", (int) u->port);
    }

    ccf->host.len = p - ccf->host.data;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_lfv_credentials_allowed(ngx_addr_t *addr)
{
    u_char                *a;
    struct sockaddr_in    *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6   *sin6;
    static u_char          ecs6[16] = { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 0x23 };
#endif

    switch (addr->sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) addr->sockaddr;

        if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)
            || ngx_memcmp(sin6->sin6_addr.s6_addr, ecs6, 16) == 0)
        {
            return NGX_OK;
        }

        return NGX_DECLINED;
#endif

    case AF_INET:
        sin = (struct sockaddr_in *) addr->sockaddr;
        a = (u_char *) &sin->sin_addr.s_addr;

        if (a[0] == 127
            || (a[0] == 169 && a[1] == 254 && a[2] == 170
                && (a[3] == 2 || a[3] == 23)))
        {
            return NGX_OK;
        }

        return NGX_DECLINED;

    default:
        return NGX_DECLINED;
    }
}


ngx_str_t *
ngx_http_lfv_credentials_source_name(ngx_uint_t source)
{
    if (source > NGX_HTTP_LFV_CREDS_ASSUME_ROLE) {
        source = NGX_HTTP_LFV_CREDS_NONE;
    }

    return &ngx_http_lfv_source_names[source];
}
