
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_roles.h"
#include "ngx_http_lfv_refresh.h"


#define NGX_HTTP_LFV_ROLE_DURATION  3600


static ngx_int_t ngx_http_lfv_roles_names(ngx_conf_t *cf,
    ngx_http_lfv_creds_conf_t *ccf);
static u_char *ngx_http_lfv_roles_map(u_char *dst, ngx_str_t *team,
    size_t max, ngx_uint_t tag);


static ngx_str_t  ngx_http_lfv_default_team = ngx_string("default");


char *
ngx_http_lfv_roles_init_conf(ngx_conf_t *cf, ngx_http_lfv_main_conf_t *lmcf)
{
    char                        *rv;
    ngx_str_t                    name;
    ngx_uint_t                   i;
    ngx_http_lfv_policy_t       *policy;
    ngx_http_lfv_creds_conf_t   *ccf, *base, **role;

    base = &lmcf->creds;
    policy = lmcf->policy.policies.elts;

    for (i = 0; i < lmcf->policy.policies.nelts; i++) {

        if (policy[i].role_arn.len == 0) {
            continue;
        }

        if (lmcf->roles.elts == NULL
            && ngx_array_init(&lmcf->roles, cf->pool, 4,
                              sizeof(ngx_http_lfv_creds_conf_t *))
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        /* one STS for all: web_identity's, or set up now */

        rv = ngx_http_lfv_credentials_sts(cf, base);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        ccf = ngx_pcalloc(cf->pool, sizeof(ngx_http_lfv_creds_conf_t));
        if (ccf == NULL) {
            return NGX_CONF_ERROR;
        }

        ccf->provider = NGX_HTTP_LFV_CREDS_ASSUME_ROLE;
        ccf->source = NGX_HTTP_LFV_CREDS_ASSUME_ROLE;
        ccf->base = base;
        ccf->crypto = &lmcf->crypto;
        ccf->timeout = base->timeout;
        ccf->grace = base->grace;
        ccf->wait = base->wait;
        ccf->sts = base->sts;
        ccf->ca = base->ca;
        ccf->endpoint_name = base->sts.url;

        ccf->team = policy[i].team.len ? policy[i].team
                                       : ngx_http_lfv_default_team;
        ccf->role.arn = policy[i].role_arn;
        ccf->role.duration = policy[i].role_duration
                             ? policy[i].role_duration
                             : NGX_HTTP_LFV_ROLE_DURATION;

        if (ngx_http_lfv_roles_names(cf, ccf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ccf->fixed.source = *ngx_http_lfv_credentials_source_name(ccf->source);
        ccf->local.source = ccf->fixed.source;

        /* a zone of its own: the record of one set of keys */

        name.len = sizeof("lfv_role_") - 1 + ccf->team.len;
        name.data = ngx_pnalloc(cf->pool, name.len);
        if (name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(name.data, "lfv_role_%V", &ccf->team);

        rv = ngx_http_lfv_credentials_zone(cf, ccf, &name);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        role = ngx_array_push(&lmcf->roles);
        if (role == NULL) {
            return NGX_CONF_ERROR;
        }

        *role = ccf;
        policy[i].role = ccf;
    }

    return NGX_CONF_OK;
}


/*
 * What CloudTrail shows of the team: RoleSessionName "lfv-TEAM" and
 * SourceIdentity "TEAM" in STS's [\w+=,.@-]{2,64}, the session tag
 * "lfv-team" in its value characters; any other byte becomes "-" or "_"
 */

static ngx_int_t
ngx_http_lfv_roles_names(ngx_conf_t *cf, ngx_http_lfv_creds_conf_t *ccf)
{
    u_char                   *p;
    ngx_http_lfv_sts_role_t  *role;

    role = &ccf->role;

    p = ngx_pnalloc(cf->pool, 3 * NGX_HTTP_LFV_SESSION_MAX
                              + NGX_HTTP_LFV_TEAM_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    role->session_name.data = p;
    p = ngx_cpymem(p, "lfv-", 4);
    p = ngx_http_lfv_roles_map(p, &ccf->team, NGX_HTTP_LFV_SESSION_MAX - 4, 0);
    role->session_name.len = p - role->session_name.data;

    role->source_identity.data = p;
    p = ngx_http_lfv_roles_map(p, &ccf->team, NGX_HTTP_LFV_SESSION_MAX, 0);

    if (p - role->source_identity.data < 2) {
        *p++ = '-';
    }

    role->source_identity.len = p - role->source_identity.data;

    role->tag.data = p;
    p = ngx_http_lfv_roles_map(p, &ccf->team, NGX_HTTP_LFV_TEAM_MAX, 1);
    role->tag.len = p - role->tag.data;

    return NGX_OK;
}


static u_char *
ngx_http_lfv_roles_map(u_char *dst, ngx_str_t *team, size_t max,
    ngx_uint_t tag)
{
    u_char  c, *p, *last;

    last = team->data + ngx_min(team->len, max);

    for (p = team->data; p < last; p++) {
        c = *p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '_' || c == '.' || c == '=' || c == '+' || c == '@'
            || c == '-'
            || (tag ? (c == ':' || c == '/') : (c == ',')))
        {
            *dst++ = c;

        } else {
            *dst++ = tag ? '_' : '-';
        }
    }

    return dst;
}


ngx_int_t
ngx_http_lfv_roles_init_worker(ngx_cycle_t *cycle,
    ngx_http_lfv_main_conf_t *lmcf)
{
    ngx_uint_t                   i;
    ngx_http_lfv_creds_conf_t  **role;

    role = lmcf->roles.elts;

    for (i = 0; i < lmcf->roles.nelts; i++) {
        if (ngx_http_lfv_refresh_init_worker(cycle, role[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
