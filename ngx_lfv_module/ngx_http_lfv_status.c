
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_error.h"
#include "ngx_http_lfv_limit.h"
#include "ngx_http_lfv_status.h"


#define NGX_HTTP_LFV_STATUS_LINE  2048
#define NGX_HTTP_LFV_STATUS_BUF   ((size_t) 2 * NGX_HTTP_LFV_STATUS_LINE)


/* the first of the cost guard's families in ngx_http_lfv_families[] */
#define NGX_HTTP_LFV_GUARD_FAMILY  6


/* the page grows in buffers of its own; nothing here calls AWS */

typedef struct {
    ngx_http_request_t         *request;
    ngx_chain_t                *out;
    ngx_chain_t               **last;
    ngx_buf_t                  *buf;
    ngx_uint_t                  prometheus;
    ngx_uint_t                  family;
    ngx_uint_t                  teams;
    ngx_int_t                   rc;
} ngx_http_lfv_status_page_t;


static ngx_int_t ngx_http_lfv_status_handler(ngx_http_request_t *r);
static void ngx_http_lfv_status_credentials(ngx_http_lfv_status_page_t *pg,
    ngx_uint_t ready);
static void ngx_http_lfv_status_roles(ngx_http_lfv_status_page_t *pg);
static void ngx_http_lfv_status_team(ngx_http_lfv_status_page_t *pg,
    ngx_http_lfv_limit_stat_t *node);
static void ngx_http_lfv_status_guard(ngx_http_lfv_status_page_t *pg,
    ngx_http_lfv_limit_stat_t *node);
static void ngx_http_lfv_status_leases(ngx_http_lfv_status_page_t *pg,
    ngx_array_t *leases);
static void ngx_http_lfv_status_state(ngx_http_lfv_status_page_t *pg);
static void ngx_http_lfv_status_store(ngx_http_lfv_status_page_t *pg,
    ngx_http_lfv_store_health_t *h);
static ngx_uint_t ngx_http_lfv_status_cap(ngx_http_lfv_status_page_t *pg,
    ngx_str_t *team);
static void ngx_http_lfv_status_reasons(ngx_http_lfv_status_page_t *pg,
    ngx_http_lfv_limit_stat_t *node, ngx_str_t *op, ngx_uint_t *count);
static ngx_uint_t ngx_http_lfv_status_requests(
    ngx_http_lfv_limit_stat_t *node, ngx_uint_t op);
static void ngx_http_lfv_status_printf(ngx_http_lfv_status_page_t *pg,
    const char *fmt, ...);
static void ngx_http_lfv_status_escaped(ngx_http_lfv_status_page_t *pg,
    ngx_str_t *team);
static void ngx_http_lfv_status_append(ngx_http_lfv_status_page_t *pg,
    u_char *data, size_t len);
static u_char *ngx_http_lfv_status_escape(ngx_http_lfv_status_page_t *pg,
    u_char *dst, u_char *src, size_t len);


/* the per-team families of the Prometheus text, in this order */

static ngx_str_t  ngx_http_lfv_families[] = {
    ngx_string("# HELP lfv_forwarded_total Starts signed and forwarded.\n"
               "# TYPE lfv_forwarded_total counter\n"),
    ngx_string("# HELP lfv_throttled_total Starts over the rate or "
               "budget.\n"
               "# TYPE lfv_throttled_total counter\n"),
    ngx_string("# HELP lfv_units_started_total Inference units started.\n"
               "# TYPE lfv_units_started_total counter\n"),
    ngx_string("# HELP lfv_rejected_total Requests refused, by reason.\n"
               "# TYPE lfv_rejected_total counter\n"),
    ngx_string("# HELP lfv_operation_forwarded_total Requests signed and "
               "forwarded, by operation.\n"
               "# TYPE lfv_operation_forwarded_total counter\n"),
    ngx_string("# HELP lfv_operation_rejected_total Requests refused, by "
               "operation and reason.\n"
               "# TYPE lfv_operation_rejected_total counter\n"),
    ngx_string("# HELP lfv_running_units Inference units of the models the "
               "cost guard records as running.\n"
               "# TYPE lfv_running_units gauge\n"),
    ngx_string("# HELP lfv_running_units_cap The team's running_units=.\n"
               "# TYPE lfv_running_units_cap gauge\n"),
    ngx_string("# HELP lfv_leases Models recorded as running.\n"
               "# TYPE lfv_leases gauge\n"),
    ngx_string("# HELP lfv_lease_outcomes_total What came of the cost "
               "guard's calls and of stops, by outcome.\n"
               "# TYPE lfv_lease_outcomes_total counter\n"),
    ngx_null_string
};


static char  *ngx_http_lfv_lease_states[] = {
    "starting", "running", "stopping", "overdue"
};


char *
ngx_http_lfv_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_lfv_main_conf_t  *lmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_lfv_status_handler;

    /* the credentials it reports must be set up even without "lfv on" */

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_lfv_module);
    lmcf->enabled = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_lfv_status_handler(ngx_http_request_t *r)
{
    off_t                        len;
    ngx_int_t                    rc;
    ngx_str_t                    format;
    time_t                       retry_after;
    ngx_uint_t                   i, ready, has_store;
    ngx_http_lfv_store_health_t  store;
    ngx_array_t                 *teams, *leases;
    ngx_chain_t                 *cl;
    ngx_http_lfv_limit_stat_t   *stat;
    ngx_http_lfv_creds_t        *creds;
    ngx_http_lfv_main_conf_t    *lmcf;
    ngx_http_lfv_status_page_t   pg;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lfv_module);

    ngx_memzero(&pg, sizeof(ngx_http_lfv_status_page_t));

    pg.request = r;
    pg.last = &pg.out;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK
        && format.len == 10
        && ngx_strncmp(format.data, "prometheus", 10) == 0)
    {
        pg.prometheus = 1;
    }

    /* ready: a request arriving now could be signed */

    ready = (ngx_http_lfv_credentials_get(&lmcf->creds, &creds, &retry_after)
             == NGX_OK);

    /* with a store, starts can be decided only while it answers */

    has_store = (ngx_http_lfv_store_health(lmcf, &store) == NGX_OK);

    if (has_store && store.failing) {
        ready = 0;
    }

    /* one copy of every team's counters, taken at once, then formatted */

    teams = NULL;
    leases = NULL;

    if (lmcf->policy.zone) {
        teams = ngx_http_lfv_limit_snapshot(lmcf->policy.zone, r->pool);
        if (teams == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        leases = ngx_http_lfv_lease_snapshot(lmcf->policy.zone, r->pool);
        if (leases == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_http_lfv_status_credentials(&pg, ready);
    ngx_http_lfv_status_roles(&pg);

    if (pg.prometheus) {

        /* the text format wants each family's samples together */

        for (pg.family = 0; ngx_http_lfv_families[pg.family].len; pg.family++)
        {
            if (pg.family >= NGX_HTTP_LFV_GUARD_FAMILY && !lmcf->lease.enabled)
            {
                break;
            }

            ngx_http_lfv_status_printf(&pg, "%V",
                                       &ngx_http_lfv_families[pg.family]);

            for (i = 0; teams && i < teams->nelts; i++) {
                stat = teams->elts;
                ngx_http_lfv_status_team(&pg, &stat[i]);
            }
        }

        ngx_http_lfv_status_state(&pg);

        if (has_store) {
            ngx_http_lfv_status_store(&pg, &store);
        }

    } else {
        ngx_http_lfv_status_printf(&pg, ",\"teams\":{");

        for (i = 0; teams && i < teams->nelts; i++) {
            stat = teams->elts;
            ngx_http_lfv_status_team(&pg, &stat[i]);
        }

        ngx_http_lfv_status_printf(&pg, "}");

        /* leases a reload left without a guard are still shown */

        if (leases && (lmcf->lease.enabled || leases->nelts)) {
            ngx_http_lfv_status_leases(&pg, leases);
        }

        ngx_http_lfv_status_state(&pg);

        if (has_store) {
            ngx_http_lfv_status_store(&pg, &store);
        }

        ngx_http_lfv_status_printf(&pg, "}\n");
    }

    if (pg.rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 0;

    for (cl = pg.out; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    pg.buf->last_buf = 1;
    pg.buf->last_in_chain = 1;

    /* a scraper needs 200 to read lfv_ready; a health check the status */

    r->headers_out.status = (ready || pg.prometheus)
                            ? NGX_HTTP_OK : NGX_HTTP_SERVICE_UNAVAILABLE;
    r->headers_out.content_length_n = len;

    if (pg.prometheus) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4");

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, pg.out);
}


static void
ngx_http_lfv_status_credentials(ngx_http_lfv_status_page_t *pg,
    ngx_uint_t ready)
{
    time_t                       expires_in;
    ngx_str_t                    akid, error, *source;
    ngx_http_lfv_main_conf_t    *lmcf;
    ngx_http_lfv_creds_state_t   st;

    lmcf = ngx_http_get_module_main_conf(pg->request, ngx_http_lfv_module);

    /* one consistent copy of the record; only the public key id */

    ngx_http_lfv_credentials_state(&lmcf->creds, &st);

    source = &lmcf->creds.fixed.source;

    akid.data = st.access_key_id;
    akid.len = st.access_key_id_len;

    error.data = st.error;
    error.len = st.error_len;

    expires_in = st.expiration ? st.expiration - ngx_time() : -1;

    if (pg->prometheus) {
        ngx_http_lfv_status_printf(pg,
            "# HELP lfv_ready 1 when requests can be signed.\n"
            "# TYPE lfv_ready gauge\n"
            "lfv_ready %ui\n"
            "# HELP lfv_credentials_info The credentials in use.\n"
            "# TYPE lfv_credentials_info gauge\n"
            "lfv_credentials_info{source=\"%V\",access_key_id=\"%V\"} 1\n"
            "# HELP lfv_credentials_expiry_seconds Seconds until they "
            "expire, -1 for never.\n"
            "# TYPE lfv_credentials_expiry_seconds gauge\n",
            ready, source, &akid);

        /* no sample while there are no credentials to expire */

        if (st.has_keys) {
            ngx_http_lfv_status_printf(pg, "lfv_credentials_expiry_seconds "
                                       "%T\n", expires_in);
        }

        ngx_http_lfv_status_printf(pg,
            "# HELP lfv_credentials_last_refresh_timestamp_seconds Last "
            "successful fetch.\n"
            "# TYPE lfv_credentials_last_refresh_timestamp_seconds gauge\n"
            "lfv_credentials_last_refresh_timestamp_seconds %T\n"
            "# HELP lfv_credentials_last_error_timestamp_seconds Last "
            "failed fetch.\n"
            "# TYPE lfv_credentials_last_error_timestamp_seconds gauge\n"
            "lfv_credentials_last_error_timestamp_seconds %T\n"
            "# HELP lfv_credentials_failures Failed fetches in a row.\n"
            "# TYPE lfv_credentials_failures gauge\n"
            "lfv_credentials_failures %ui\n"
            "# HELP lfv_credentials_fetches_total Metadata service "
            "requests.\n"
            "# TYPE lfv_credentials_fetches_total counter\n"
            "lfv_credentials_fetches_total %ui\n",
            st.refreshed, st.failed, st.failures, st.fetches);
        return;
    }

    ngx_http_lfv_status_printf(pg,
        "{\"ready\":%s,\"credentials\":{\"source\":\"%V\","
        "\"access_key_id\":\"%V\",\"expires_in\":",
        ready ? "true" : "false", source, &akid);

    if (st.has_keys) {
        ngx_http_lfv_status_printf(pg, "%T", expires_in);

    } else {
        ngx_http_lfv_status_printf(pg, "null");
    }

    ngx_http_lfv_status_printf(pg,
        ",\"last_refresh\":%T,\"last_error_time\":%T,"
        "\"failures\":%ui,\"fetches\":%ui,\"last_error\":\"",
        st.refreshed, st.failed, st.failures, st.fetches);

    /* our own text, but it may quote what a metadata service said */

    ngx_http_lfv_status_escaped(pg, &error);
    ngx_http_lfv_status_printf(pg, "\"}");
}


/* the credentials of the teams' roles: their state, never a secret */

static void
ngx_http_lfv_status_roles(ngx_http_lfv_status_page_t *pg)
{
    time_t                       expires_in;
    ngx_str_t                    akid, error;
    ngx_uint_t                   i, family;
    ngx_http_lfv_main_conf_t    *lmcf;
    ngx_http_lfv_creds_conf_t  **role;
    ngx_http_lfv_creds_state_t   st;

    static char  *families[] = {
        "# HELP lfv_role_credentials_expiry_seconds Seconds until the "
        "credentials of a team's role expire.\n"
        "# TYPE lfv_role_credentials_expiry_seconds gauge\n",
        "# HELP lfv_role_credentials_failures Failed AssumeRole calls in a "
        "row.\n"
        "# TYPE lfv_role_credentials_failures gauge\n"
    };

    lmcf = ngx_http_get_module_main_conf(pg->request, ngx_http_lfv_module);

    role = lmcf->roles.elts;

    if (pg->prometheus) {

        for (family = 0; lmcf->roles.nelts && family < 2; family++) {
            ngx_http_lfv_status_printf(pg, "%s", families[family]);

            for (i = 0; i < lmcf->roles.nelts; i++) {
                ngx_http_lfv_credentials_state(role[i], &st);

                if (family == 0 && !st.has_keys) {
                    continue;
                }

                ngx_http_lfv_status_printf(pg, "lfv_role_credentials_%s"
                                           "{team=\"",
                                           family ? "failures"
                                                  : "expiry_seconds");
                ngx_http_lfv_status_escaped(pg, &role[i]->team);
                ngx_http_lfv_status_printf(pg, "\"} %T\n",
                                           family ? (time_t) st.failures
                                           : st.expiration - ngx_time());
            }
        }

        return;
    }

    ngx_http_lfv_status_printf(pg, ",\"roles\":{");

    for (i = 0; i < lmcf->roles.nelts; i++) {
        ngx_http_lfv_credentials_state(role[i], &st);

        akid.data = st.access_key_id;
        akid.len = st.access_key_id_len;
        error.data = st.error;
        error.len = st.error_len;
        expires_in = st.expiration - ngx_time();

        ngx_http_lfv_status_printf(pg, "%s\"", i ? "," : "");
        ngx_http_lfv_status_escaped(pg, &role[i]->team);
        ngx_http_lfv_status_printf(pg, "\":{\"role_arn\":\"");
        ngx_http_lfv_status_escaped(pg, &role[i]->role.arn);
        ngx_http_lfv_status_printf(pg, "\",\"session\":\"%V\","
                                   "\"access_key_id\":\"%V\","
                                   "\"expires_in\":",
                                   &role[i]->role.session_name, &akid);

        if (st.has_keys) {
            ngx_http_lfv_status_printf(pg, "%T", expires_in);

        } else {
            ngx_http_lfv_status_printf(pg, "null");
        }

        ngx_http_lfv_status_printf(pg, ",\"last_refresh\":%T,"
                                   "\"failures\":%ui,\"last_error\":\"",
                                   st.refreshed, st.failures);
        ngx_http_lfv_status_escaped(pg, &error);
        ngx_http_lfv_status_printf(pg, "\"}");
    }

    ngx_http_lfv_status_printf(pg, "}");
}


static void
ngx_http_lfv_status_team(ngx_http_lfv_status_page_t *pg,
    ngx_http_lfv_limit_stat_t *node)
{
    ngx_uint_t   i, n;
    ngx_str_t   *op;

    static char  *counters[] = {
        "lfv_forwarded_total", "lfv_throttled_total",
        "lfv_units_started_total"
    };

    if (pg->prometheus) {

        if (pg->family < 3) {
            ngx_http_lfv_status_printf(pg, "%s{team=\"",
                                       counters[pg->family]);
            ngx_http_lfv_status_escaped(pg, &node->team);
            ngx_http_lfv_status_printf(pg, "\"} %ui\n",
                                       pg->family == 0 ? node->forwarded
                                       : pg->family == 1 ? node->throttled
                                       : node->units_started);
            return;
        }

        if (pg->family == 3) {
            ngx_http_lfv_status_reasons(pg, node, NULL, node->rejected);
            return;
        }

        if (pg->family >= NGX_HTTP_LFV_GUARD_FAMILY) {
            ngx_http_lfv_status_guard(pg, node);
            return;
        }

        /* operations without any request have no sample */

        for (i = 0; i < NGX_HTTP_LFV_OPS; i++) {
            if (ngx_http_lfv_status_requests(node, i) == 0) {
                continue;
            }

            op = ngx_http_lfv_operation_name(i + 1);

            if (pg->family == 5) {
                ngx_http_lfv_status_reasons(pg, node, op,
                                            node->op_rejected[i]);
                continue;
            }

            ngx_http_lfv_status_printf(pg, "lfv_operation_forwarded_total"
                                       "{team=\"");
            ngx_http_lfv_status_escaped(pg, &node->team);
            ngx_http_lfv_status_printf(pg, "\",operation=\"%V\"} %ui\n",
                                       op, node->op_forwarded[i]);
        }

        return;
    }

    ngx_http_lfv_status_printf(pg, "%s\"", pg->teams++ ? "," : "");
    ngx_http_lfv_status_escaped(pg, &node->team);
    ngx_http_lfv_status_printf(pg, "\":{\"forwarded\":%ui,\"throttled\":%ui,"
                               "\"units_started\":%ui,\"rejected\":",
                               node->forwarded, node->throttled,
                               node->units_started);

    ngx_http_lfv_status_reasons(pg, node, NULL, node->rejected);

    ngx_http_lfv_status_printf(pg, ",\"operations\":{");

    for (i = 0, n = 0; i < NGX_HTTP_LFV_OPS; i++) {
        if (ngx_http_lfv_status_requests(node, i) == 0) {
            continue;
        }

        ngx_http_lfv_status_printf(pg, "%s\"%V\":{\"forwarded\":%ui,"
                                   "\"rejected\":",
                                   n++ ? "," : "",
                                   ngx_http_lfv_operation_name(i + 1),
                                   node->op_forwarded[i]);

        ngx_http_lfv_status_reasons(pg, node, NULL, node->op_rejected[i]);

        ngx_http_lfv_status_printf(pg, "}");
    }

    ngx_http_lfv_status_printf(pg, "}");

    ngx_http_lfv_status_guard(pg, node);

    ngx_http_lfv_status_printf(pg, "}");
}


/* a team's running units against its cap, and what came of its leases */

static void
ngx_http_lfv_status_guard(ngx_http_lfv_status_page_t *pg,
    ngx_http_lfv_limit_stat_t *node)
{
    ngx_uint_t                 i, cap;
    ngx_http_lfv_main_conf_t  *lmcf;

    /* only where a policy has the cost guard */

    lmcf = ngx_http_get_module_main_conf(pg->request, ngx_http_lfv_module);

    if (!lmcf->lease.enabled) {
        return;
    }

    cap = ngx_http_lfv_status_cap(pg, &node->team);

    if (!pg->prometheus) {
        ngx_http_lfv_status_printf(pg, ",\"running_units\":%ui,"
                                   "\"reserved_units\":%ui,"
                                   "\"running_units_cap\":",
                                   node->running, node->reserved);

        if (cap) {
            ngx_http_lfv_status_printf(pg, "%ui", cap);
        } else {
            ngx_http_lfv_status_printf(pg, "null");
        }

        ngx_http_lfv_status_printf(pg, ",\"leases\":%ui,\"lease_outcomes\":{",
                                   node->leases);

        for (i = 0; i < NGX_HTTP_LFV_GUARD_LAST; i++) {
            ngx_http_lfv_status_printf(pg, "%s\"%V\":%ui", i ? "," : "",
                                       &ngx_http_lfv_guard_names[i],
                                       node->guard[i]);
        }

        ngx_http_lfv_status_printf(pg, "}");
        return;
    }

    if (pg->family == 7 && cap == 0) {
        return;
    }

    if (pg->family < 9) {
        ngx_http_lfv_status_printf(pg, "%s{team=\"",
                                   pg->family == 6 ? "lfv_running_units"
                                   : pg->family == 7 ? "lfv_running_units_cap"
                                   : "lfv_leases");
        ngx_http_lfv_status_escaped(pg, &node->team);
        ngx_http_lfv_status_printf(pg, "\"} %ui\n",
                                   pg->family == 6 ? node->running
                                   : pg->family == 7 ? cap : node->leases);
        return;
    }

    for (i = 0; i < NGX_HTTP_LFV_GUARD_LAST; i++) {
        ngx_http_lfv_status_printf(pg, "lfv_lease_outcomes_total{team=\"");
        ngx_http_lfv_status_escaped(pg, &node->team);
        ngx_http_lfv_status_printf(pg, "\",outcome=\"%V\"} %ui\n",
                                   &ngx_http_lfv_guard_names[i],
                                   node->guard[i]);
    }
}


static ngx_uint_t
ngx_http_lfv_status_cap(ngx_http_lfv_status_page_t *pg, ngx_str_t *team)
{
    ngx_http_lfv_policy_t     *policy;
    ngx_http_lfv_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(pg->request, ngx_http_lfv_module);

    policy = ngx_http_lfv_policy_find(&lmcf->policy, team);

    if (policy == NULL && team->len == 1 && team->data[0] == '-') {
        policy = lmcf->policy.default_policy;
    }

    return policy ? policy->running_units : 0;
}


static void
ngx_http_lfv_status_leases(ngx_http_lfv_status_page_t *pg,
    ngx_array_t *leases)
{
    time_t                      now;
    ngx_uint_t                  i;
    ngx_http_lfv_lease_stat_t  *st;

    now = ngx_time();
    st = leases->elts;

    ngx_http_lfv_status_printf(pg, ",\"leases\":[");

    for (i = 0; i < leases->nelts; i++) {
        ngx_http_lfv_status_printf(pg, "%s{\"team\":\"", i ? "," : "");
        ngx_http_lfv_status_escaped(pg, &st[i].team);
        ngx_http_lfv_status_printf(pg, "\",\"project\":\"%V\","
                                   "\"model_version\":\"%V\","
                                   "\"units\":%ui,\"state\":\"%s\","
                                   "\"attempts\":%ui,\"ends_in\":",
                                   &st[i].project, &st[i].version,
                                   st[i].units,
                                   ngx_http_lfv_lease_states[st[i].state],
                                   st[i].attempts);

        if (st[i].ends && st[i].state != NGX_HTTP_LFV_LEASE_STARTING) {
            ngx_http_lfv_status_printf(pg, "%T}", st[i].ends - now);
        } else {
            ngx_http_lfv_status_printf(pg, "null}");
        }
    }

    ngx_http_lfv_status_printf(pg, "]");
}


/* the state file: when it was last written, and why it could not be */

static void
ngx_http_lfv_status_state(ngx_http_lfv_status_page_t *pg)
{
    time_t                     saved;
    ngx_str_t                  error;
    ngx_uint_t                 failures, failing;
    ngx_http_lfv_limit_ctx_t  *ctx;
    ngx_http_lfv_main_conf_t  *lmcf;
    u_char                     buf[256];

    lmcf = ngx_http_get_module_main_conf(pg->request, ngx_http_lfv_module);

    if (lmcf->policy.zone == NULL) {
        return;
    }

    ctx = lmcf->policy.zone->data;

    if (ctx->state.len == 0) {
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    saved = ctx->sh->state_saved;
    failing = ctx->sh->state_failing;
    failures = ctx->sh->state_failures;
    error.len = ngx_min(ctx->sh->state_error_len, sizeof(buf));
    error.data = ngx_cpymem(buf, ctx->sh->state_error, error.len) - error.len;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (pg->prometheus) {
        ngx_http_lfv_status_printf(pg, "# HELP lfv_state_write_failures_total "
                                   "Writes of the state file that failed.\n"
                                   "# TYPE lfv_state_write_failures_total "
                                   "counter\n"
                                   "lfv_state_write_failures_total %ui\n"
                                   "# HELP lfv_state_saved_timestamp_seconds "
                                   "When the state file was last written.\n"
                                   "# TYPE lfv_state_saved_timestamp_seconds "
                                   "gauge\n"
                                   "lfv_state_saved_timestamp_seconds %T\n",
                                   failures, saved);
        return;
    }

    ngx_http_lfv_status_printf(pg, ",\"state_file\":{\"path\":\"");
    ngx_http_lfv_status_escaped(pg, &ctx->state);
    ngx_http_lfv_status_printf(pg, "\",\"saved\":%T,\"write_failures\":%ui,"
                               "\"failing\":%s,\"last_error\":\"",
                               saved, failures, failing ? "true" : "false");
    ngx_http_lfv_status_escaped(pg, &error);
    ngx_http_lfv_status_printf(pg, "\"}");
}


/*
 * Refusals by reason, the ones that happened: a JSON object, or the
 * samples of lfv_rejected_total (op NULL) or lfv_operation_rejected_total
 */

static void
ngx_http_lfv_status_reasons(ngx_http_lfv_status_page_t *pg,
    ngx_http_lfv_limit_stat_t *node, ngx_str_t *op, ngx_uint_t *count)
{
    ngx_uint_t              i, n;
    ngx_http_lfv_reason_t  *rs;

    if (!pg->prometheus) {
        ngx_http_lfv_status_printf(pg, "{");
    }

    for (i = 1, n = 0; i < NGX_HTTP_LFV_REASON_LAST; i++) {
        if (count[i] == 0) {
            continue;
        }

        rs = ngx_http_lfv_reason(i);

        if (!pg->prometheus) {
            ngx_http_lfv_status_printf(pg, "%s\"%V\":%ui", n++ ? "," : "",
                                       &rs->name, count[i]);
            continue;
        }

        ngx_http_lfv_status_printf(pg, "lfv_%srejected_total{team=\"",
                                   op ? "operation_" : "");
        ngx_http_lfv_status_escaped(pg, &node->team);

        if (op) {
            ngx_http_lfv_status_printf(pg, "\",operation=\"%V", op);
        }

        ngx_http_lfv_status_printf(pg, "\",reason=\"%V\"} %ui\n",
                                   &rs->name, count[i]);
    }

    if (!pg->prometheus) {
        ngx_http_lfv_status_printf(pg, "}");
    }
}


/* requests of an operation, forwarded or refused */

static ngx_uint_t
ngx_http_lfv_status_requests(ngx_http_lfv_limit_stat_t *node, ngx_uint_t op)
{
    ngx_uint_t  i, n;

    n = node->op_forwarded[op];

    for (i = 1; i < NGX_HTTP_LFV_REASON_LAST; i++) {
        n += node->op_rejected[op][i];
    }

    return n;
}


static void
ngx_http_lfv_status_printf(ngx_http_lfv_status_page_t *pg, const char *fmt,
    ...)
{
    u_char   *p;
    va_list   args;
    u_char    line[NGX_HTTP_LFV_STATUS_LINE];

    va_start(args, fmt);
    p = ngx_vslprintf(line, line + sizeof(line), fmt, args);
    va_end(args);

    ngx_http_lfv_status_append(pg, line, p - line);
}


/* team names are whatever lfv_team gave: escaped as JSON or a label */

static void
ngx_http_lfv_status_escaped(ngx_http_lfv_status_page_t *pg,
    ngx_str_t *team)
{
    u_char  *p;
    u_char   line[NGX_HTTP_LFV_ERROR_MAX * 6];

    p = ngx_http_lfv_status_escape(pg, line, team->data,
                                   ngx_min(team->len, NGX_HTTP_LFV_ERROR_MAX));

    ngx_http_lfv_status_append(pg, line, p - line);
}


static void
ngx_http_lfv_status_append(ngx_http_lfv_status_page_t *pg, u_char *data,
    size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (pg->rc != NGX_OK) {
        return;
    }

    b = pg->buf;

    if (b == NULL || (size_t) (b->end - b->last) < len) {
        cl = ngx_alloc_chain_link(pg->request->pool);
        b = ngx_create_temp_buf(pg->request->pool,
                                ngx_max(len, NGX_HTTP_LFV_STATUS_BUF));

        if (cl == NULL || b == NULL) {
            pg->rc = NGX_ERROR;
            return;
        }

        cl->buf = b;
        cl->next = NULL;
        *pg->last = cl;
        pg->last = &cl->next;
        pg->buf = b;
    }

    b->last = ngx_cpymem(b->last, data, len);
}


static u_char *
ngx_http_lfv_status_escape(ngx_http_lfv_status_page_t *pg, u_char *dst,
    u_char *src, size_t len)
{
    u_char  *last;

    if (!pg->prometheus) {
        return (u_char *) ngx_escape_json(dst, src, len);
    }

    for (last = src + len; src < last; src++) {
        switch (*src) {
        case '\\':
        case '"':
            *dst++ = '\\';
            *dst++ = *src;
            break;
        case '\n':
            *dst++ = '\\';
            *dst++ = 'n';
            break;
        default:
            *dst++ = *src;
        }
    }

    return dst;
}


/* the store of the team limits: when it last answered, and why not */

static void
ngx_http_lfv_status_store(ngx_http_lfv_status_page_t *pg,
    ngx_http_lfv_store_health_t *h)
{
    ngx_str_t                  error;
    ngx_http_lfv_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(pg->request, ngx_http_lfv_module);

    if (pg->prometheus) {
        ngx_http_lfv_status_printf(pg,
            "# HELP lfv_store_ready 1 when the store of the team limits "
            "answers.\n"
            "# TYPE lfv_store_ready gauge\n"
            "lfv_store_ready %ui\n"
            "# HELP lfv_store_calls_total Calls to the store.\n"
            "# TYPE lfv_store_calls_total counter\n"
            "lfv_store_calls_total %ui\n"
            "# HELP lfv_store_errors_total Calls to the store that failed.\n"
            "# TYPE lfv_store_errors_total counter\n"
            "lfv_store_errors_total %ui\n"
            "# HELP lfv_store_races_total Writes that lost to another "
            "proxy's, read again.\n"
            "# TYPE lfv_store_races_total counter\n"
            "lfv_store_races_total %ui\n"
            "# HELP lfv_store_latency_seconds The last call's time.\n"
            "# TYPE lfv_store_latency_seconds gauge\n"
            "lfv_store_latency_seconds %ui.%03ui\n"
            "# HELP lfv_store_writes_waiting Writes (leases, their ends) "
            "that wait for the store to answer.\n"
            "# TYPE lfv_store_writes_waiting gauge\n"
            "lfv_store_writes_waiting %i\n",
            h->failing ? 0 : 1, h->calls, h->errors, h->races,
            h->latency / 1000, h->latency % 1000, h->queued);
        return;
    }

    error.data = h->error;
    error.len = h->error_len;

    ngx_http_lfv_status_printf(pg, ",\"store\":{\"type\":\"dynamodb\","
                               "\"table\":\"%V\",\"ready\":%s,"
                               "\"last_success\":%T,\"last_failure\":%T,"
                               "\"calls\":%ui,\"errors\":%ui,"
                               "\"races\":%ui,\"latency_ms\":%M,"
                               "\"writes_waiting\":%i,"
                               "\"last_error\":\"",
                               &lmcf->store.table,
                               h->failing ? "false" : "true",
                               h->succeeded, h->failed, h->calls, h->errors,
                               h->races, h->latency, h->queued);
    ngx_http_lfv_status_escaped(pg, &error);
    ngx_http_lfv_status_printf(pg, "\"}");
}
