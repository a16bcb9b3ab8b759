
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_policy.h"
#include "ngx_http_lfv_sts.h"
#include "ngx_http_lfv_limit.h"


static char *ngx_http_lfv_policy_param(ngx_conf_t *cf,
    ngx_http_lfv_policy_t *policy, ngx_str_t *value);
static char *ngx_http_lfv_policy_regex(ngx_conf_t *cf,
    ngx_http_lfv_policy_t *policy, ngx_str_t *pattern);
static ngx_int_t ngx_http_lfv_policy_number(ngx_str_t *value, size_t skip);


/*
 * lfv_policy team|default [projects=regex] [max_min_units=n]
 *     [max_max_units=n] [rate=n r/s | r/m] [burst=n] [nodelay | delay=n]
 *     [dry_run] [budget=units/time] [role=arn] [role_duration=time]
 *     [running_units=n] [lease=time];
 */

char *
ngx_http_lfv_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lfv_main_conf_t *lmcf = conf;

    char                        *rv;
    ngx_str_t                   *value;
    ngx_uint_t                   i;
    ngx_http_lfv_policy_t       *policy;
    ngx_http_lfv_policy_conf_t  *pcf;

    pcf = &lmcf->policy;
    value = cf->args->elts;

    if (pcf->policies.elts == NULL
        && ngx_array_init(&pcf->policies, cf->pool, 4,
                          sizeof(ngx_http_lfv_policy_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 0 || value[1].len > NGX_HTTP_LFV_TEAM_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid team name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[1].data, "default") == 0) {
        if (pcf->default_policy) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate default policy");
            return NGX_CONF_ERROR;
        }

    } else if (ngx_http_lfv_policy_find(pcf, &value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate policy for team \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    policy = ngx_array_push(&pcf->policies);
    if (policy == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(policy, sizeof(ngx_http_lfv_policy_t));

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_lfv_policy_param(cf, policy, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (policy->burst && policy->rate == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"burst\" needs \"rate\"");
        return NGX_CONF_ERROR;
    }

    if (policy->role_duration && policy->role_arn.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"role_duration\" needs \"role\"");
        return NGX_CONF_ERROR;
    }

    if ((policy->delay || policy->dry_run) && policy->rate == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"nodelay\", \"delay\" and \"dry_run\" need "
                           "\"rate\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lfv_policy_guarded(policy)) {

        /* the cost guard's errors name its first policy */

        if (!lmcf->lease.enabled) {
            lmcf->lease.file = cf->conf_file->file.name.data;
            lmcf->lease.line = cf->conf_file->line;
        }

        lmcf->lease.enabled = 1;
    }

    if (ngx_strcmp(value[1].data, "default") == 0) {
        pcf->default_policy = policy;

    } else {
        policy->team = value[1];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_lfv_policy_param(ngx_conf_t *cf, ngx_http_lfv_policy_t *policy,
    ngx_str_t *value)
{
    u_char     *p;
    size_t      len;
    ngx_int_t   n, scale;
    ngx_str_t   s;

    if (ngx_strncmp(value->data, "projects=", 9) == 0) {
        s.data = value->data + 9;
        s.len = value->len - 9;

        return ngx_http_lfv_policy_regex(cf, policy, &s);
    }

    if (ngx_strncmp(value->data, "max_min_units=", 14) == 0) {
        policy->max_min_units = ngx_http_lfv_policy_number(value, 14);
        if (policy->max_min_units <= 0) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "max_max_units=", 14) == 0) {
        policy->max_max_units = ngx_http_lfv_policy_number(value, 14);
        if (policy->max_max_units <= 0) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "rate=", 5) == 0) {

        /* as limit_req: "r/s" or "r/m", kept in milli-requests a second */

        len = value->len;
        p = value->data + len - 3;
        scale = 1;

        if (len > 8 && ngx_strncmp(p, "r/s", 3) == 0) {
            len -= 3;

        } else if (len > 8 && ngx_strncmp(p, "r/m", 3) == 0) {
            scale = 60;
            len -= 3;
        }

        n = ngx_atoi(value->data + 5, len - 5);
        if (n <= 0 || n > 1000000) {
            goto invalid;
        }

        policy->rate = n * 1000 / scale;

        if (policy->rate == 0) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "burst=", 6) == 0) {
        n = ngx_http_lfv_policy_number(value, 6);
        if (n <= 0) {
            goto invalid;
        }

        policy->burst = n * 1000;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "delay=", 6) == 0) {
        n = ngx_http_lfv_policy_number(value, 6);
        if (n <= 0) {
            goto invalid;
        }

        policy->delay = n * 1000;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value->data, "nodelay") == 0) {
        policy->delay = NGX_MAX_INT_T_VALUE;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value->data, "dry_run") == 0) {
        policy->dry_run = 1;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "role=", 5) == 0) {
        policy->role_arn.data = value->data + 5;
        policy->role_arn.len = value->len - 5;

        if (ngx_http_lfv_sts_check_role_arn(&policy->role_arn) != NGX_OK) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "role_duration=", 14) == 0) {
        s.data = value->data + 14;
        s.len = value->len - 14;

        /*
         * what STS takes for a role session: 15 minutes to 12 hours
         * (NGX_ERROR is below them)
         */

        policy->role_duration = ngx_parse_time(&s, 1);
        if (policy->role_duration < 900 || policy->role_duration > 43200) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "running_units=", 14) == 0) {
        n = ngx_http_lfv_policy_number(value, 14);
        if (n <= 0) {
            goto invalid;
        }

        policy->running_units = n;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "lease=", 6) == 0) {
        s.data = value->data + 6;
        s.len = value->len - 6;

        policy->lease = ngx_parse_time(&s, 1);
        if (policy->lease == (time_t) NGX_ERROR || policy->lease == 0) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "budget=", 7) == 0) {

        /* units/time: budget=100/1h */

        p = ngx_strlchr(value->data + 7, value->data + value->len, '/');
        if (p == NULL) {
            goto invalid;
        }

        n = ngx_atoi(value->data + 7, p - value->data - 7);
        if (n <= 0) {
            goto invalid;
        }

        policy->budget = n;

        s.data = p + 1;
        s.len = value->data + value->len - s.data;

        policy->window = ngx_parse_time(&s, 1);
        if (policy->window == (time_t) NGX_ERROR || policy->window == 0) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    s.data = value->data;
    p = ngx_strlchr(value->data, value->data + value->len, '=');
    s.len = p ? (size_t) (p - value->data) : value->len;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown policy parameter \"%V\"", &s);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", value);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_lfv_policy_regex(ngx_conf_t *cf, ngx_http_lfv_policy_t *policy,
    ngx_str_t *pattern)
{
#if (NGX_PCRE)
    ngx_regex_compile_t  rc;
    u_char               errstr[NGX_MAX_CONF_ERRSTR];

    /* the project name must match as a whole */

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern.len = pattern->len + sizeof("^(?:)$") - 1;
    rc.pattern.data = ngx_pnalloc(cf->pool, rc.pattern.len);
    if (rc.pattern.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(rc.pattern.data, "^(?:%V)$", pattern);

    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V in projects=\"%V\"",
                           &rc.err, pattern);
        return NGX_CONF_ERROR;
    }

    policy->projects = rc.regex;

    return NGX_CONF_OK;

#else
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "projects= needs nginx built with PCRE");
    return NGX_CONF_ERROR;
#endif
}


static ngx_int_t
ngx_http_lfv_policy_number(ngx_str_t *value, size_t skip)
{
    if (value->len <= skip) {
        return NGX_ERROR;
    }

    return ngx_atoi(value->data + skip, value->len - skip);
}


/* lfv_policy_zone name:size [state=path]; */

char *
ngx_http_lfv_policy_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lfv_main_conf_t *lmcf = conf;

    u_char                    *p;
    ssize_t                    size;
    ngx_str_t                 *value, name, s;
    ngx_http_lfv_limit_ctx_t  *ctx;

    if (lmcf->policy.zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", use name:size", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    if (name.len == sizeof("lfv_credentials") - 1
        && ngx_strncmp(name.data, "lfv_credentials", name.len) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone name \"lfv_credentials\" is reserved "
                           "for the module's credentials");
        return NGX_CONF_ERROR;
    }

    if (name.len >= sizeof("lfv_role_") - 1
        && ngx_strncmp(name.data, "lfv_role_", sizeof("lfv_role_") - 1) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone names \"lfv_role_...\" are reserved "
                           "for the credentials of the teams' roles");
        return NGX_CONF_ERROR;
    }

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    lmcf->policy.zone = ngx_http_lfv_limit_zone_add(cf, &name, size,
                                                    &lmcf->policy);
    if (lmcf->policy.zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "state=", 6) != 0 || value[2].len == 6) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    ctx = lmcf->policy.zone->data;

    ctx->state.data = value[2].data + 6;
    ctx->state.len = value[2].len - 6;

    if (ngx_conf_full_name(cf->cycle, &ctx->state, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_lfv_policy_init_conf(ngx_conf_t *cf, ngx_http_lfv_main_conf_t *lmcf)
{
    ngx_uint_t                   i;
    ngx_http_lfv_policy_t       *policy;
    ngx_http_lfv_policy_conf_t  *pcf;

    pcf = &lmcf->policy;
    policy = pcf->policies.elts;

    for (i = 0; i < pcf->policies.nelts; i++) {

        /* the array may have moved since the default was pushed */

        if (policy[i].team.len == 0) {
            pcf->default_policy = &policy[i];
        }

        if ((policy[i].rate || policy[i].budget) && pcf->zone == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rate= and budget= need \"lfv_policy_zone\"");
            return NGX_CONF_ERROR;
        }
    }

    if (lmcf->lease.enabled && pcf->zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "running_units= and lease= of \"lfv_policy\" in "
                      "%s:%ui need \"lfv_policy_zone\"",
                      lmcf->lease.file, lmcf->lease.line);
        return NGX_CONF_ERROR;
    }

    /*
     * A restart without the state file forgets which models to stop;
     * the store keeps them itself
     */

    if (lmcf->lease.enabled && !lmcf->store.enabled
        && ((ngx_http_lfv_limit_ctx_t *) pcf->zone->data)->state.len == 0)
    {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "running_units= and lease= of \"lfv_policy\" in "
                      "%s:%ui without \"state=\" on \"lfv_policy_zone\": "
                      "a restart forgets the leases, and their models are "
                      "never stopped", lmcf->lease.file, lmcf->lease.line);
    }

    return NGX_CONF_OK;
}


ngx_http_lfv_policy_t *
ngx_http_lfv_policy_find(ngx_http_lfv_policy_conf_t *pcf, ngx_str_t *team)
{
    ngx_uint_t              i;
    ngx_http_lfv_policy_t  *policy;

    /* a linear search: teams are few, and compared by length first */

    policy = pcf->policies.elts;

    for (i = 0; i < pcf->policies.nelts; i++) {
        if (policy[i].team.len == team->len
            && team->len
            && ngx_strncmp(policy[i].team.data, team->data, team->len) == 0)
        {
            return &policy[i];
        }
    }

    return NULL;
}


ngx_http_lfv_reason_e
ngx_http_lfv_policy_check_project(ngx_http_request_t *r,
    ngx_http_lfv_policy_t *policy, ngx_str_t *project)
{
#if (NGX_PCRE)
    ngx_int_t  rc;

    if (policy->projects == NULL) {
        return NGX_HTTP_LFV_OK;
    }

    rc = ngx_regex_exec(policy->projects, project, NULL, 0);

    if (rc == NGX_REGEX_NO_MATCHED) {
        return NGX_HTTP_LFV_PROJECT_DENIED;
    }

    if (rc < 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      ngx_regex_exec_n " failed: %i on \"%V\"", rc, project);
        return NGX_HTTP_LFV_INTERNAL;
    }
#endif

    return NGX_HTTP_LFV_OK;
}


ngx_http_lfv_reason_e
ngx_http_lfv_policy_check_units(ngx_http_lfv_policy_t *policy,
    ngx_int_t min_units, ngx_int_t max_units)
{
    if (policy->max_min_units && min_units > policy->max_min_units) {
        return NGX_HTTP_LFV_MIN_UNITS_CAP;
    }

    /* without MaxInferenceUnits, the model scales to MinInferenceUnits */

    if (max_units < 0) {
        max_units = min_units;
    }

    if (policy->max_max_units && max_units > policy->max_max_units) {
        return NGX_HTTP_LFV_MAX_UNITS_CAP;
    }

    return NGX_HTTP_LFV_OK;
}
