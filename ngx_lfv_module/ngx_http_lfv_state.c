
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lfv_limit.h"
#include "ngx_http_lfv_lease.h"
#include "ngx_http_lfv_state.h"


/* how often a state file that cannot be written is logged */
#define NGX_HTTP_LFV_STATE_LOG_EVERY  60


typedef struct {
    ngx_http_lfv_limit_ctx_t   *ctx;
    ngx_log_t                  *log;
    ngx_uint_t                  teams;
    ngx_uint_t                  leases;
    ngx_uint_t                  lost;
} ngx_http_lfv_state_loader_t;


static u_char *ngx_http_lfv_state_read(ngx_str_t *path, size_t *len,
    ngx_log_t *log);
static void ngx_http_lfv_state_aside(ngx_str_t *path, ngx_log_t *log);
static ngx_int_t ngx_http_lfv_state_apply(void *data,
    ngx_http_lfv_state_record_t *rec);
static u_char *ngx_http_lfv_state_dump_locked(ngx_http_lfv_limit_ctx_t *ctx,
    size_t *len, ngx_log_t *log);
static ngx_int_t ngx_http_lfv_state_write(ngx_str_t *path, u_char *buf,
    size_t len, ngx_log_t *log, u_char *error, size_t *error_len);
static size_t ngx_http_lfv_state_error(u_char *error, char *what,
    u_char *name, ngx_err_t err);


void
ngx_http_lfv_state_load(ngx_shm_zone_t *zone)
{
    u_char                       *buf;
    char                         *err;
    size_t                        len;
    ngx_int_t                     rc;
    ngx_uint_t                    line, level;
    ngx_log_t                    *log;
    ngx_http_lfv_limit_ctx_t     *ctx;
    ngx_http_lfv_state_loader_t   ld;

    ctx = zone->data;
    log = zone->shm.log;

    buf = ngx_http_lfv_state_read(&ctx->state, &len, log);
    if (buf == NULL) {
        return;
    }

    /* checked as a whole first: a bad file changes nothing */

    rc = ngx_http_lfv_state_parse(buf, len, NULL, NULL, &err, &line);

    if (rc != NGX_OK) {
        if (line) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "lfv: the state file \"%V\" is not valid: line "
                          "%ui: %s", &ctx->state, line, err);
        } else {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "lfv: the state file \"%V\" is not valid: %s",
                          &ctx->state, err);
        }

        /* "nginx -t" only says so */

        if (!ngx_test_config) {
            ngx_http_lfv_state_aside(&ctx->state, log);
        }

        ngx_free(buf);
        return;
    }

    if (ngx_test_config) {
        ngx_free(buf);
        return;
    }

    ngx_memzero(&ld, sizeof(ngx_http_lfv_state_loader_t));
    ld.ctx = ctx;
    ld.log = log;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    (void) ngx_http_lfv_state_parse(buf, len, ngx_http_lfv_state_apply, &ld,
                                    &err, &line);

    /* what was read needs no writing */

    ctx->sh->written = ctx->sh->changes;
    ctx->sh->state_saved = ngx_time();

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_free(buf);

    level = ld.lost ? NGX_LOG_ALERT : NGX_LOG_NOTICE;

    ngx_log_error(level, log, 0,
                  "lfv: state of %ui teams and %ui leases loaded from "
                  "\"%V\"%s", ld.teams, ld.leases, &ctx->state,
                  ld.lost ? "; some did not fit in the zone and are lost"
                          : "");
}


static u_char *
ngx_http_lfv_state_read(ngx_str_t *path, size_t *len, ngx_log_t *log)
{
    u_char           *buf;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "lfv: no state file \"%V\" yet: the zone starts "
                          "empty", path);
            return NULL;
        }

        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "lfv: the state file " ngx_open_file_n " \"%V\" "
                      "failed: the zone starts empty", path);
        return NULL;
    }

    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_fd_info_n " \"%V\" failed", path);
        goto done;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_LFV_STATE_FILE_MAX) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "lfv: the state file \"%V\" is larger than %O bytes",
                      path, NGX_HTTP_LFV_STATE_FILE_MAX);

        if (!ngx_test_config) {
            ngx_http_lfv_state_aside(path, log);
        }

        goto done;
    }

    *len = (size_t) ngx_file_size(&fi);

    buf = ngx_alloc(*len + 1, log);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, buf, *len + 1);

    if (n == -1 || (size_t) n != *len) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "lfv: reading the state file \"%V\" failed: the zone "
                      "starts empty", path);
        ngx_free(buf);
        buf = NULL;
    }

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    return buf;
}


/* a file that is not valid is kept for the operator, never overwritten */

static void
ngx_http_lfv_state_aside(ngx_str_t *path, ngx_log_t *log)
{
    u_char  *name;

    name = ngx_alloc(path->len + sizeof(".corrupt-") + NGX_TIME_T_LEN, log);
    if (name == NULL) {
        return;
    }

    (void) ngx_sprintf(name, "%V.corrupt-%T%Z", path, ngx_time());

    if (ngx_rename_file(path->data, name) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_rename_file_n " \"%V\" to \"%s\" failed",
                      path, name);

    } else {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "lfv: the state file is kept as \"%s\"; the zone "
                      "starts empty", name);
    }

    ngx_free(name);
}


static ngx_int_t
ngx_http_lfv_state_apply(void *data, ngx_http_lfv_state_record_t *rec)
{
    ngx_http_lfv_state_loader_t *ld = data;

    ngx_http_lfv_lease_t       *lease;
    ngx_http_lfv_limit_node_t  *node;

    if (rec->type == NGX_HTTP_LFV_STATE_TEAM) {
        node = ngx_http_lfv_limit_lookup_locked(ld->ctx, &rec->team, ld->log);

        if (node == NULL) {
            ld->lost++;
            return NGX_OK;
        }

        node->window = rec->window;
        node->units_used = rec->used;
        node->excess = rec->excess;

        /* the bucket's age, on this boot's monotonic clock */

        node->last = (rec->age < ngx_current_msec)
                     ? ngx_current_msec - (ngx_msec_t) rec->age : 0;

        ld->teams++;
        return NGX_OK;
    }

    lease = ngx_http_lfv_lease_alloc_locked(ld->ctx, &rec->host, &rec->project,
                                            &rec->version, &rec->team,
                                            &rec->region);
    if (lease == NULL) {
        ld->lost++;
        return NGX_OK;
    }

    lease->units = rec->units;
    lease->started = rec->started;
    lease->ends = rec->ends;

    /* stopped while nginx was down?  DescribeModel tells at once */

    lease->checked = 0;

    (void) ngx_http_lfv_lease_insert_locked(ld->ctx, lease, ld->log);

    ld->leases++;

    return NGX_OK;
}


void
ngx_http_lfv_state_save(ngx_shm_zone_t *zone, ngx_log_t *log)
{
    u_char                    *buf, error[256];
    size_t                     len, error_len;
    time_t                     now;
    ngx_int_t                  rc;
    ngx_uint_t                 changes, alert;
    ngx_http_lfv_limit_ctx_t  *ctx;

    ctx = zone->data;

    if (ctx->state.len == 0) {
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (ctx->sh->changes == ctx->sh->written) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return;
    }

    changes = ctx->sh->changes;

    buf = ngx_http_lfv_state_dump_locked(ctx, &len, log);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    error_len = 0;

    if (buf == NULL) {
        rc = NGX_ERROR;
        error_len = ngx_sprintf(error, "no memory") - error;

    } else {
        rc = ngx_http_lfv_state_write(&ctx->state, buf, len, log, error,
                                      &error_len);
        ngx_free(buf);
    }

    now = ngx_time();
    alert = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (rc == NGX_OK) {
        ctx->sh->written = changes;
        ctx->sh->state_saved = now;
        ctx->sh->state_failing = 0;

    } else {
        ctx->sh->state_failed = now;
        ctx->sh->state_failing = 1;
        ctx->sh->state_failures++;
        ctx->sh->state_error_len = error_len;
        ngx_memcpy(ctx->sh->state_error, error, error_len);

        /* a disk that stays full is logged once a minute, not every second */

        if (now - ctx->sh->state_logged >= NGX_HTTP_LFV_STATE_LOG_EVERY) {
            ctx->sh->state_logged = now;
            alert = 1;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (alert) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "lfv: the state file \"%V\" could not be written: %*s; "
                      "the previous one is kept", &ctx->state,
                      error_len, error);
    }
}


/* the caller holds the mutex; the buffer is ngx_alloc()'s, to be freed */

static u_char *
ngx_http_lfv_state_dump_locked(ngx_http_lfv_limit_ctx_t *ctx, size_t *len,
    ngx_log_t *log)
{
    u_char                       *buf, *p, *last;
    size_t                        size;
    ngx_uint_t                    count;
    ngx_queue_t                  *q;
    ngx_http_lfv_lease_t         *lease;
    ngx_http_lfv_limit_node_t    *node;
    ngx_http_lfv_state_record_t   rec;

    size = NGX_HTTP_LFV_STATE_LINE_MAX * 2;

    for (q = ngx_queue_head(&ctx->sh->queue);
         q != ngx_queue_sentinel(&ctx->sh->queue);
         q = ngx_queue_next(q))
    {
        size += NGX_HTTP_LFV_STATE_LINE_MAX;
    }

    size += ctx->sh->nleases * NGX_HTTP_LFV_STATE_LINE_MAX;

    buf = ngx_alloc(size, log);
    if (buf == NULL) {
        return NULL;
    }

    p = ngx_http_lfv_state_write_header(buf);
    count = 0;

    for (q = ngx_queue_head(&ctx->sh->queue);
         q != ngx_queue_sentinel(&ctx->sh->queue);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_lfv_limit_node_t, queue);

        /* a team that never started anything has nothing to keep */

        if (node->window == 0 && node->units_used == 0 && node->excess == 0
            && node->last == 0)
        {
            continue;
        }

        ngx_memzero(&rec, sizeof(ngx_http_lfv_state_record_t));

        rec.type = NGX_HTTP_LFV_STATE_TEAM;
        rec.team = node->sn.str;
        rec.window = node->window;
        rec.used = node->units_used;
        rec.excess = node->excess;
        rec.age = node->last ? (ngx_msec_t) (ngx_current_msec - node->last)
                             : 0;

        last = ngx_http_lfv_state_write_record(p, &rec);

        /* a record out of the format's bounds is left out, and logged */

        if (last == p) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "lfv: the state of team \"%V\" is not kept in the "
                          "state file", &node->sn.str);
        }

        count += (last != p);
        p = last;
    }

    for (q = ngx_queue_head(&ctx->sh->lease_queue);
         q != ngx_queue_sentinel(&ctx->sh->lease_queue);
         q = ngx_queue_next(q))
    {
        lease = ngx_queue_data(q, ngx_http_lfv_lease_t, queue);

        if (lease->pending) {
            continue;
        }

        ngx_memzero(&rec, sizeof(ngx_http_lfv_state_record_t));

        rec.type = NGX_HTTP_LFV_STATE_LEASE;
        rec.team.data = ngx_http_lfv_lease_team(lease);
        rec.team.len = lease->team_len;
        rec.region.data = ngx_http_lfv_lease_region(lease);
        rec.region.len = lease->region_len;
        rec.host.data = ngx_http_lfv_lease_host(lease);
        rec.host.len = lease->host_len;
        rec.project.data = ngx_http_lfv_lease_project(lease);
        rec.project.len = lease->project_len;
        rec.version.data = ngx_http_lfv_lease_version(lease);
        rec.version.len = lease->version_len;
        rec.units = lease->units;
        rec.started = lease->started;
        rec.ends = lease->ends;

        last = ngx_http_lfv_state_write_record(p, &rec);

        if (last == p) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "lfv: the lease of model \"%*s\" is not kept in "
                          "the state file", (size_t) lease->key_len,
                          lease->data);
        }

        count += (last != p);
        p = last;
    }

    p = ngx_http_lfv_state_write_end(p, buf, count);

    *len = p - buf;

    return buf;
}


static ngx_int_t
ngx_http_lfv_state_write(ngx_str_t *path, u_char *buf, size_t len,
    ngx_log_t *log, u_char *error, size_t *error_len)
{
    u_char     *tmp;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_err_t   err;

    tmp = ngx_alloc(path->len + sizeof(".tmp.") + NGX_INT64_LEN, log);
    if (tmp == NULL) {
        *error_len = ngx_sprintf(error, "no memory") - error;
        return NGX_ERROR;
    }

    /* a name of this process's own: an old worker may write too */

    (void) ngx_sprintf(tmp, "%V.tmp.%P%Z", path, ngx_pid);

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE, 0600);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        *error_len = ngx_http_lfv_state_error(error, ngx_open_file_n " \"%s\"",
                                              tmp, err);
        ngx_free(tmp);
        return NGX_ERROR;
    }

    n = ngx_write_fd(fd, buf, len);
    err = ngx_errno;

    if (n == (ssize_t) len && fsync(fd) == -1) {
        n = -1;
        err = ngx_errno;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR && n == (ssize_t) len) {
        n = -1;
        err = ngx_errno;
    }

    if (n != (ssize_t) len) {
        *error_len = (n == -1)
                     ? ngx_http_lfv_state_error(error, "writing \"%s\"", tmp,
                                                err)
                     : (size_t) (ngx_snprintf(error, 255, "writing \"%s\": "
                                              "only %z of %uz bytes",
                                              tmp, n, len)
                                 - error);
        (void) ngx_delete_file(tmp);
        ngx_free(tmp);
        return NGX_ERROR;
    }

    if (ngx_rename_file(tmp, path->data) == NGX_FILE_ERROR) {
        err = ngx_errno;
        *error_len = ngx_http_lfv_state_error(error, ngx_rename_file_n
                                              " \"%s\"", tmp, err);
        (void) ngx_delete_file(tmp);
        ngx_free(tmp);
        return NGX_ERROR;
    }

    ngx_free(tmp);

    return NGX_OK;
}


/* "what name: the system's message", in the 256 bytes of "error" */

static size_t
ngx_http_lfv_state_error(u_char *error, char *what, u_char *name,
    ngx_err_t err)
{
    u_char  *p, *last;

    last = error + 256;

    p = ngx_snprintf(error, 256 - 2, what, name);
    p = ngx_cpymem(p, ": ", 2);
    p = ngx_strerror(err, p, last - p);

    return p - error;
}
