
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_handler.h"
#include "ngx_http_lfv_sign.h"
#include "ngx_http_lfv_variables.h"
#include "ngx_http_lfv_refresh.h"
#include "ngx_http_lfv_status.h"
#include "ngx_http_lfv_roles.h"
#include "ngx_http_lfv_envelope.h"
#include "ngx_http_lfv_error.h"
#include "ngx_http_lfv_body.h"
#include "ngx_http_lfv_upstream.h"


#define NGX_HTTP_LFV_BODY_MAX  65536


static ngx_int_t ngx_http_lfv_init_process(ngx_cycle_t *cycle);
static void ngx_http_lfv_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_lfv_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_lfv_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_lfv_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_lfv_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_lfv_create_loc_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_lfv_route_message(ngx_conf_t *cf,
    ngx_http_lfv_loc_conf_t *llcf);
static char *ngx_http_lfv_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_lfv(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_lfv_region(ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_lfv_lease_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_lfv_crypto_cleanup(void *data);


static ngx_conf_post_handler_pt  ngx_http_lfv_region_post =
    ngx_http_lfv_region;

static ngx_conf_num_bounds_t  ngx_http_lfv_body_max_bounds = {
    ngx_conf_check_num_bounds, 1, NGX_HTTP_LFV_BODY_MAX
};


static ngx_conf_bitmask_t  ngx_http_lfv_operations[] = {
    { ngx_string("start"), 1 << NGX_HTTP_LFV_OP_START },
    { ngx_string("stop"), 1 << NGX_HTTP_LFV_OP_STOP },
    { ngx_string("describe"), 1 << NGX_HTTP_LFV_OP_DESCRIBE },
    { ngx_string("list"), 1 << NGX_HTTP_LFV_OP_LIST },
    { ngx_null_string, 0 }
};


/* indexed by ngx_http_lfv_op_e: $lfv_operation, the audit line */

static ngx_str_t  ngx_http_lfv_operation_names[] = {
    ngx_null_string,
    ngx_string("StartModel"),
    ngx_string("StopModel"),
    ngx_string("DescribeModel"),
    ngx_string("ListModels")
};


static ngx_conf_enum_t  ngx_http_lfv_error_formats[] = {
    { ngx_string("aws"), NGX_HTTP_LFV_FORMAT_AWS },
    { ngx_string("envelope"), NGX_HTTP_LFV_FORMAT_ENVELOPE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_lfv_commands[] = {

    { ngx_string("lfv"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_lfv,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lfv_loc_conf_t, enable),
      NULL },

    { ngx_string("lfv_region"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lfv_loc_conf_t, region),
      &ngx_http_lfv_region_post },

    { ngx_string("lfv_host"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lfv_loc_conf_t, host),
      NULL },

    { ngx_string("lfv_body_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lfv_loc_conf_t, body_max_size),
      &ngx_http_lfv_body_max_bounds },

    { ngx_string("lfv_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_lfv_credentials,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lfv_team"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lfv_loc_conf_t, team),
      NULL },

    { ngx_string("lfv_policy"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_lfv_policy,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lfv_policy_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_lfv_policy_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lfv_operations"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lfv_loc_conf_t, operations),
      &ngx_http_lfv_operations },

    { ngx_string("lfv_error_format"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lfv_loc_conf_t, error_format),
      &ngx_http_lfv_error_formats },

    { ngx_string("lfv_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_lfv_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lfv_credentials_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lfv_main_conf_t, creds.timeout),
      NULL },

    { ngx_string("lfv_credentials_grace"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lfv_main_conf_t, creds.grace),
      NULL },

    { ngx_string("lfv_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lfv_main_conf_t, creds.ca),
      NULL },

    { ngx_string("lfv_policy_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_lfv_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lfv_lease_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lfv_main_conf_t, lease.endpoint_url),
      NULL },

    { ngx_string("lfv_lease_reconcile"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lfv_main_conf_t, lease.reconcile),
      NULL },

    { ngx_string("lfv_lease_retry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lfv_main_conf_t, lease.retry),
      NULL },

    { ngx_string("lfv_lease_log"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_lfv_lease_log,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lfv_sts_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lfv_main_conf_t, creds.sts_url),
      NULL },

    { ngx_string("lfv_credentials_wait"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_lfv_main_conf_t, creds.wait),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_lfv_module_ctx = {
    ngx_http_lfv_preconfiguration,         /* preconfiguration */
    ngx_http_lfv_postconfiguration,        /* postconfiguration */

    ngx_http_lfv_create_main_conf,         /* create main configuration */
    ngx_http_lfv_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_lfv_create_loc_conf,          /* create location configuration */
    ngx_http_lfv_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_lfv_module = {
    NGX_MODULE_V1,
    &ngx_http_lfv_module_ctx,              /* module context */
    ngx_http_lfv_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_lfv_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_lfv_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};



static ngx_int_t
ngx_http_lfv_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_lfv_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_lfv_upstream_add_variables(cf);
}


static ngx_int_t
ngx_http_lfv_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_pool_cleanup_t         *cln;
    ngx_http_lfv_main_conf_t   *lmcf;
    ngx_http_core_main_conf_t  *cmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_lfv_module);

    if (!lmcf->enabled) {
        return NGX_OK;
    }

    if (lmcf->file && ngx_http_lfv_upstream_check_conf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_lfv_envelope_init(cf) != NGX_OK
        || ngx_http_lfv_lease_filter_init(cf) != NGX_OK
        || ngx_http_lfv_error_init(cf) != NGX_OK
        || ngx_http_lfv_body_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_lfv_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_lfv_upstream_log_handler;

    if (ngx_http_lfv_sigv4_crypto_init(&lmcf->crypto) != NGX_OK) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "lfv: SHA-256 or HMAC is not available");
        ngx_http_lfv_sign_cleanup(lmcf);
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_http_lfv_sign_cleanup(lmcf);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_lfv_crypto_cleanup;
    cln->data = lmcf;

    return NGX_OK;
}


static void
ngx_http_lfv_crypto_cleanup(void *data)
{
    ngx_http_lfv_main_conf_t  *lmcf = data;

    ngx_http_lfv_sign_cleanup(lmcf);
}


static ngx_int_t
ngx_http_lfv_init_process(ngx_cycle_t *cycle)
{
    ngx_http_lfv_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_lfv_module);

    if (lmcf == NULL) {
        return NGX_OK;
    }

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (lmcf->creds.sh
        && ngx_http_lfv_refresh_init_worker(cycle, &lmcf->creds) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_lfv_roles_init_worker(cycle, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_lfv_sweep_init_worker(cycle);
}


static void
ngx_http_lfv_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_lfv_sweep_exit_worker(cycle);
}


static void *
ngx_http_lfv_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_lfv_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_lfv_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lmcf->creds.fixed = { 0 };
     *     lmcf->keys = { 0 };
     *     lmcf->enabled = 0;
     */

    lmcf->creds.provider = NGX_CONF_UNSET_UINT;
    lmcf->creds.timeout = NGX_CONF_UNSET_MSEC;
    lmcf->creds.grace = NGX_CONF_UNSET;
    lmcf->creds.wait = NGX_CONF_UNSET_MSEC;
    lmcf->lease.reconcile = NGX_CONF_UNSET;
    lmcf->lease.retry = NGX_CONF_UNSET;

    return lmcf;
}


static char *
ngx_http_lfv_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_lfv_main_conf_t *lmcf = conf;

    ngx_uint_t              i;
    ngx_http_lfv_policy_t  *policy;

    if (!lmcf->enabled) {
        return NGX_CONF_OK;
    }

    if (ngx_http_lfv_policy_init_conf(cf, lmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    policy = lmcf->policy.policies.elts;

    for (i = 0; i < lmcf->policy.policies.nelts; i++) {

        /* STS is across the internet: its steps get more time */

        if (policy[i].role_arn.len
            && lmcf->creds.timeout == NGX_CONF_UNSET_MSEC)
        {
            lmcf->creds.timeout = 5000;
        }
    }

    if (ngx_http_lfv_credentials_init_conf(cf, &lmcf->creds) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_roles_init_conf(cf, lmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_lease_init_conf(cf, &lmcf->lease, &lmcf->creds.ca)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_http_lfv_store_init_conf(cf, lmcf);
}


/* lfv_lease_log path: the cost guard's own audit lines */

static char *
ngx_http_lfv_lease_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lfv_main_conf_t *lmcf = conf;

    ngx_str_t  *value;

    if (lmcf->lease.log) {
        return "is duplicate";
    }

    value = cf->args->elts;

    lmcf->lease.log = ngx_conf_open_file(cf->cycle, &value[1]);
    if (lmcf->lease.log == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_lfv_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_lfv_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_lfv_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     llcf->region = { 0, NULL };
     *     llcf->host = { 0, NULL };
     *     llcf->endpoint = { 0, NULL };
     *     llcf->file = NULL;
     *     llcf->line = 0;
     */

    llcf->enable = NGX_CONF_UNSET;
    llcf->body_max_size = NGX_CONF_UNSET_SIZE;
    llcf->team = NGX_CONF_UNSET_PTR;
    llcf->error_format = NGX_CONF_UNSET_UINT;

    return llcf;
}


static char *
ngx_http_lfv_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_lfv_loc_conf_t *prev = parent;
    ngx_http_lfv_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->region, prev->region, "");
    ngx_conf_merge_str_value(conf->host, prev->host, "");
    ngx_conf_merge_size_value(conf->body_max_size, prev->body_max_size, 1024);

    /* StartModel alone unless the location says more */

    ngx_conf_merge_bitmask_value(conf->operations, prev->operations,
                                 (NGX_CONF_BITMASK_SET
                                  | 1 << NGX_HTTP_LFV_OP_START));

    if (ngx_http_lfv_route_message(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_ptr_value(conf->team, prev->team, NULL);
    ngx_conf_merge_uint_value(conf->error_format, prev->error_format,
                              NGX_HTTP_LFV_FORMAT_AWS);

    if (conf->file == NULL) {
        conf->file = prev->file;
        conf->line = prev->line;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->region.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"lfv_region\" is not set for \"lfv on\" in %s:%ui",
                      conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->host.len) {
        conf->endpoint = conf->host;
        return NGX_CONF_OK;
    }

    /*
     * The regional endpoint, as the SDKs build it; of this level's
     * region, not inherited: a location may sign for another region.
     */

    conf->endpoint.len = sizeof("lookoutvision..amazonaws.com") - 1
                         + conf->region.len;
    conf->endpoint.data = ngx_pnalloc(cf->pool, conf->endpoint.len);
    if (conf->endpoint.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(conf->endpoint.data, "lookoutvision.%V.amazonaws.com",
                &conf->region);

    return NGX_CONF_OK;
}


static char *
ngx_http_lfv(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_http_lfv_loc_conf_t   *llcf = conf;
    ngx_http_lfv_main_conf_t  *lmcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK || !llcf->enable) {
        return rv;
    }

    /* where "lfv on" is, for the errors that concern its location */

    llcf->file = cf->conf_file->file.name.data;
    llcf->line = cf->conf_file->line;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_lfv_module);

    lmcf->enabled = 1;

    if (lmcf->file == NULL) {
        lmcf->file = llcf->file;
        lmcf->line = llcf->line;
    }

    return rv;
}


static char *
ngx_http_lfv_region(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *region = data;

    u_char  *p, *last;

    /* a region is a DNS label: it becomes part of the host name */

    last = region->data + region->len;

    for (p = region->data; p < last; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
            || (*p == '-' && p != region->data && p + 1 != last))
        {
            continue;
        }

        return "has an invalid region name";
    }

    if (region->len == 0 || region->len > 63) {
        return "has an invalid region name";
    }

    return NGX_CONF_OK;
}


/*
 * What an unknown route is told: the operations this location serves.
 * StartModel alone keeps the error table's message.
 */

static ngx_int_t
ngx_http_lfv_route_message(ngx_conf_t *cf, ngx_http_lfv_loc_conf_t *llcf)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   op, n;

    if ((llcf->operations & ~NGX_CONF_BITMASK_SET)
        == 1 << NGX_HTTP_LFV_OP_START)
    {
        ngx_str_null(&llcf->route_message);
        return NGX_OK;
    }

    len = sizeof("only  of /2020-11-20/projects/{projectName}/models are "
                 "served here") - 1;

    for (op = NGX_HTTP_LFV_OP_START; op < NGX_HTTP_LFV_OP_LAST; op++) {
        len += ngx_http_lfv_operation_names[op].len + sizeof(", ") - 1;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    llcf->route_message.data = p;
    p = ngx_cpymem(p, "only ", 5);

    for (op = NGX_HTTP_LFV_OP_START, n = 0; op < NGX_HTTP_LFV_OP_LAST; op++) {
        if (llcf->operations & (1 << op)) {
            if (n++) {
                p = ngx_cpymem(p, ", ", 2);
            }

            p = ngx_cpymem(p, ngx_http_lfv_operation_names[op].data,
                           ngx_http_lfv_operation_names[op].len);
        }
    }

    p = ngx_cpymem(p, " of /2020-11-20/projects/{projectName}/models are "
                   "served here", sizeof(" of /2020-11-20/projects/"
                                         "{projectName}/models are "
                                         "served here") - 1);

    llcf->route_message.len = p - llcf->route_message.data;

    return NGX_OK;
}


ngx_str_t *
ngx_http_lfv_operation_name(ngx_http_lfv_op_e op)
{
    if (op >= NGX_HTTP_LFV_OP_LAST) {
        op = NGX_HTTP_LFV_OP_NONE;
    }

    return &ngx_http_lfv_operation_names[op];
}
