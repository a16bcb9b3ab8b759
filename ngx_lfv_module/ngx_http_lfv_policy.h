
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_POLICY_H_INCLUDED_
#define _NGX_HTTP_LFV_POLICY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_reason.h"


#define NGX_HTTP_LFV_TEAM_MAX  128


/* what one team may do; rates are in milli-requests, as in limit_req */

typedef struct {
    ngx_str_t                   team;           /* empty: the default */
    ngx_regex_t                *projects;
    ngx_int_t                   max_min_units;  /* 0: no cap */
    ngx_int_t                   max_max_units;
    ngx_uint_t                  rate;           /* 0: no rate limit */
    ngx_uint_t                  burst;
    ngx_uint_t                  delay;
    ngx_flag_t                  dry_run;
    ngx_uint_t                  budget;         /* 0: no budget */
    time_t                      window;

    /* the cost guard: units running at once, how long a model may run */
    ngx_uint_t                  running_units;  /* 0: no cap */
    time_t                      lease;          /* 0: no lease */

    /* role=: the team's requests are signed by its own role session */
    ngx_str_t                   role_arn;
    time_t                      role_duration;
    void                       *role;           /* its credentials */
} ngx_http_lfv_policy_t;


#define ngx_http_lfv_policy_guarded(p)  ((p)->running_units || (p)->lease)


typedef struct {
    ngx_array_t                 policies;       /* ngx_http_lfv_policy_t */
    ngx_http_lfv_policy_t      *default_policy;
    ngx_shm_zone_t             *zone;           /* lfv_policy_zone */
} ngx_http_lfv_policy_conf_t;


char *ngx_http_lfv_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_lfv_policy_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
struct ngx_http_lfv_main_conf_s;
char *ngx_http_lfv_policy_init_conf(ngx_conf_t *cf,
    struct ngx_http_lfv_main_conf_s *lmcf);

ngx_http_lfv_policy_t *ngx_http_lfv_policy_find(
    ngx_http_lfv_policy_conf_t *pcf, ngx_str_t *team);
ngx_http_lfv_reason_e ngx_http_lfv_policy_check_project(
    ngx_http_request_t *r, ngx_http_lfv_policy_t *policy, ngx_str_t *project);
ngx_http_lfv_reason_e ngx_http_lfv_policy_check_units(
    ngx_http_lfv_policy_t *policy, ngx_int_t min_units, ngx_int_t max_units);


#endif /* _NGX_HTTP_LFV_POLICY_H_INCLUDED_ */
