
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <openssl/evp.h>

#include "ngx_http_lfv_module.h"
#include "ngx_http_lfv_credentials.h"
#include "ngx_http_lfv_refresh.h"


#define NGX_HTTP_LFV_ZONE_SIZE  ((size_t) 64 * 1024)

/* a fetch in another worker is looked for this often, in ms */
#define NGX_HTTP_LFV_WATCH      10

/* seconds past its time after which a refresh counts as missed */
#define NGX_HTTP_LFV_OVERDUE    5


static ngx_int_t ngx_http_lfv_credentials_fingerprint(
    ngx_http_lfv_creds_conf_t *ccf);
static ngx_int_t ngx_http_lfv_credentials_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_lfv_credentials_copy(ngx_http_lfv_creds_conf_t *ccf);
static ngx_http_lfv_creds_shm_t *ngx_http_lfv_credentials_write(
    ngx_http_lfv_creds_conf_t *ccf);
static void ngx_http_lfv_credentials_written(ngx_http_lfv_creds_conf_t *ccf);
static void ngx_http_lfv_credentials_release(ngx_http_lfv_creds_conf_t *ccf);
static void ngx_http_lfv_credentials_wake(ngx_http_lfv_creds_conf_t *ccf);
static void ngx_http_lfv_credentials_watch(ngx_event_t *ev);


static ngx_str_t  ngx_http_lfv_zone_name = ngx_string("lfv_credentials");


char *
ngx_http_lfv_credentials_zone(ngx_conf_t *cf, ngx_http_lfv_creds_conf_t *ccf,
    ngx_str_t *name)
{
    ngx_http_lfv_creds_t  *local;

    ccf->shm_zone = ngx_shared_memory_add(cf, name ? name
                                              : &ngx_http_lfv_zone_name,
                                          NGX_HTTP_LFV_ZONE_SIZE,
                                          &ngx_http_lfv_module);
    if (ccf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ccf->shm_zone->init = ngx_http_lfv_credentials_init_zone;
    ccf->shm_zone->data = ccf;

    if (ngx_http_lfv_credentials_fingerprint(ccf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the worker's copy, in memory of its own after fork() */

    local = &ccf->local;

    local->access_key_id.data = ngx_pnalloc(cf->pool, NGX_HTTP_LFV_AKID_MAX);
    local->secret_access_key.data = ngx_pnalloc(cf->pool,
                                                NGX_HTTP_LFV_SECRET_MAX);
    local->session_token.data = ngx_pnalloc(cf->pool, NGX_HTTP_LFV_TOKEN_MAX);

    if (local->access_key_id.data == NULL
        || local->secret_access_key.data == NULL
        || local->session_token.data == NULL)
    {
        return NGX_CONF_ERROR;
    }

    ccf->local_seq = (ngx_atomic_uint_t) -1;

    ngx_queue_init(&ccf->waiting);

    ccf->watch.handler = ngx_http_lfv_credentials_watch;
    ccf->watch.data = ccf;
    ccf->watch.log = &cf->cycle->new_log;
    ccf->watch.cancelable = 1;

    return NGX_CONF_OK;
}


/*
 * What the fetched keys depend on: the provider, the endpoint's address,
 * host and path, the container authorization token.  A reload that
 * changes any of them (another task role, another metadata service)
 * fetches anew instead of signing with the old keys.
 */

static ngx_int_t
ngx_http_lfv_credentials_fingerprint(ngx_http_lfv_creds_conf_t *ccf)
{
    u_char       source, v1;
    ngx_int_t    rc;
    ngx_uint_t   i;
    EVP_MD_CTX  *md;
    ngx_str_t   *part[11];

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    source = (u_char) ccf->source;
    v1 = (u_char) (ccf->v1_disabled ? 1 : 0);

    part[0] = &ccf->endpoint_name;
    part[1] = &ccf->host;
    part[2] = &ccf->path;
    part[3] = &ccf->auth_token_file;
    part[4] = &ccf->auth_token;
    part[5] = &ccf->sts.region;
    part[6] = &ccf->role.arn;
    part[7] = &ccf->token_file;
    part[8] = &ccf->role.session_name;
    part[9] = &ccf->sts.host;
    part[10] = &ccf->ca;

    rc = NGX_ERROR;

    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(md, &source, 1) != 1
        || EVP_DigestUpdate(md, &v1, 1) != 1)
    {
        goto done;
    }

    for (i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
        if (EVP_DigestUpdate(md, part[i]->data, part[i]->len) != 1
            || EVP_DigestUpdate(md, "\n", 1) != 1)
        {
            goto done;
        }
    }

    if (EVP_DigestFinal_ex(md, ccf->fingerprint, NULL) == 1) {
        rc = NGX_OK;
    }

done:

    EVP_MD_CTX_free(md);

    return rc;
}


/*
 * Run by the master: it never locks here, since a worker of the old
 * cycle may hold the mutex.  A reload keeps the record; whether its keys
 * may be used is judged by their fingerprint.
 */

static ngx_int_t
ngx_http_lfv_credentials_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_lfv_creds_conf_t  *occf = data;

    size_t                      len;
    ngx_slab_pool_t            *shpool;
    ngx_http_lfv_creds_conf_t  *ccf;

    ccf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ccf->shpool = shpool;

    if (occf) {
        ccf->sh = occf->sh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        ccf->sh = shpool->data;
        return NGX_OK;
    }

    ccf->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_lfv_creds_shm_t));
    if (ccf->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ccf->sh;

    len = sizeof(" in lfv_credentials zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in lfv_credentials zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_credentials_get(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_t **creds, time_t *retry_after)
{
    time_t                     now, at;
    ngx_http_lfv_creds_t      *local;
    ngx_http_lfv_creds_shm_t  *sh;

    sh = ccf->sh;

    if (sh == NULL) {

        /* static, env, or nothing found at configuration time */

        if (ccf->fixed.access_key_id.len) {
            *creds = &ccf->fixed;
            return NGX_OK;
        }

        *retry_after = 0;
        return NGX_DECLINED;
    }

    now = ngx_time();
    local = &ccf->local;

    if (ngx_http_lfv_credentials_due(ccf, &at) == NGX_OK) {

        /*
         * The refresh is due, or overdue: its timer may have slept
         * through a step of the wall clock (a suspended VM, NTP), or its
         * worker died.  The first request to see it starts it; the claim
         * keeps it to one fetch for all workers.
         */

        if ((local->generation == 0 || now >= at + NGX_HTTP_LFV_OVERDUE)
            && (sh->fetcher == 0 || now >= sh->fetch_until))
        {
            ngx_http_lfv_refresh_kick(ccf);
        }
    }

    if (local->generation
        && (local->expiration == 0 || now < local->expiration + ccf->grace))
    {
        *creds = local;
        return NGX_OK;
    }

    if (sh->fetcher) {
        return NGX_AGAIN;
    }

    *retry_after = ngx_max(sh->next_refresh - now, 1);

    return NGX_DECLINED;
}


/* a record of other provider settings: a reload changed them */

ngx_int_t
ngx_http_lfv_credentials_due(ngx_http_lfv_creds_conf_t *ccf, time_t *at)
{
    ngx_http_lfv_creds_shm_t  *sh;

    sh = ccf->sh;

    if (sh->seq != ccf->local_seq) {
        ngx_http_lfv_credentials_copy(ccf);
    }

    *at = sh->next_refresh;

    if (sh->seq & 1) {
        return NGX_OK;
    }

    if (sh->has_keys && ccf->local.generation == 0 && sh->failures == 0) {

        /* not ours, and not tried yet: a failed try keeps its backoff */

        *at = 0;
        return NGX_OK;
    }

    return (ngx_time() >= *at) ? NGX_OK : NGX_DECLINED;
}


/* a seqlock read: bounded, and the old copy stays if it never settles */

static void
ngx_http_lfv_credentials_copy(ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_uint_t                 i, generation;
    ngx_atomic_uint_t          seq;
    ngx_http_lfv_creds_t      *local;
    ngx_http_lfv_creds_shm_t  *sh;

    sh = ccf->sh;
    local = &ccf->local;

    for (i = 0; i < 16; i++) {

        seq = sh->seq;

        if (seq & 1) {
            ngx_cpu_pause();
            continue;
        }

        ngx_memory_barrier();

        generation = sh->generation;

        if (generation != ccf->local_generation) {

            if (sh->has_keys
                && ngx_memcmp(sh->fingerprint, ccf->fingerprint,
                              NGX_HTTP_LFV_FINGERPRINT_LEN)
                   == 0)
            {
                local->access_key_id.len = sh->access_key_id_len;
                ngx_memcpy(local->access_key_id.data, sh->access_key_id,
                           sh->access_key_id_len);

                local->secret_access_key.len = sh->secret_access_key_len;
                ngx_memcpy(local->secret_access_key.data,
                           sh->secret_access_key, sh->secret_access_key_len);

                local->session_token.len = sh->session_token_len;
                ngx_memcpy(local->session_token.data, sh->session_token,
                           sh->session_token_len);

                local->expiration = sh->expiration;
                local->generation = generation;

            } else {
                local->generation = 0;
            }
        }

        ngx_memory_barrier();

        if (sh->seq == seq) {
            ccf->local_seq = seq;
            ccf->local_generation = generation;
            return;
        }

        /* torn: copy again */

        local->generation = 0;
        ccf->local_generation = 0;
    }
}


ngx_int_t
ngx_http_lfv_credentials_claim(ngx_http_lfv_creds_conf_t *ccf,
    ngx_msec_t lasts)
{
    time_t                     now;
    ngx_pid_t                  pid;
    ngx_http_lfv_creds_shm_t  *sh;

    sh = ccf->sh;
    now = ngx_time();

    ngx_shmtx_lock(&ccf->shpool->mutex);

    pid = sh->fetcher;

    if (pid && pid != ngx_pid && now < sh->fetch_until
        && (kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH))
    {
        ngx_shmtx_unlock(&ccf->shpool->mutex);
        return NGX_BUSY;
    }

    if (pid && pid != ngx_pid) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "lfv: credentials fetch of process %P is taken over",
                      pid);
    }

    sh->fetcher = ngx_pid;
    sh->fetch_until = now + (time_t) (lasts / 1000) + 1;

    ngx_shmtx_unlock(&ccf->shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_credentials_store(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_doc_t *doc, time_t next_refresh)
{
    ngx_http_lfv_creds_shm_t  *sh;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_lfv_credentials_release(ccf);
        return NGX_DECLINED;
    }

    sh = ngx_http_lfv_credentials_write(ccf);

    sh->access_key_id_len = doc->access_key_id_len;
    ngx_memcpy(sh->access_key_id, doc->access_key_id, doc->access_key_id_len);

    sh->secret_access_key_len = doc->secret_access_key_len;
    ngx_memcpy(sh->secret_access_key, doc->secret_access_key,
               doc->secret_access_key_len);

    sh->session_token_len = doc->session_token_len;
    ngx_memcpy(sh->session_token, doc->session_token, doc->session_token_len);

    ngx_memcpy(sh->fingerprint, ccf->fingerprint,
               NGX_HTTP_LFV_FINGERPRINT_LEN);

    sh->has_keys = 1;
    sh->expiration = doc->expiration;
    sh->refreshed = ngx_time();
    sh->next_refresh = next_refresh;
    sh->failures = 0;

    ngx_http_lfv_credentials_written(ccf);

    return NGX_OK;
}


ngx_int_t
ngx_http_lfv_credentials_failed(ngx_http_lfv_creds_conf_t *ccf, u_char *error,
    size_t len, time_t next_refresh)
{
    ngx_http_lfv_creds_shm_t  *sh;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_lfv_credentials_release(ccf);
        return NGX_DECLINED;
    }

    sh = ngx_http_lfv_credentials_write(ccf);

    sh->error_len = ngx_min(len, NGX_HTTP_LFV_ERROR_MAX);
    ngx_memcpy(sh->error, error, sh->error_len);

    sh->failed = ngx_time();
    sh->next_refresh = next_refresh;
    sh->failures++;

    ngx_http_lfv_credentials_written(ccf);

    return NGX_OK;
}


/*
 * A write opens and closes a seqlock section under the slab pool's
 * mutex, which waits for another writer (an old worker during a reload)
 * instead of dropping the write.  An odd "seq" found under the mutex
 * means a writer died inside its section and the master freed the
 * mutex: the keys it left may be torn, and go.
 */

static ngx_http_lfv_creds_shm_t *
ngx_http_lfv_credentials_write(ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_http_lfv_creds_shm_t  *sh;

    sh = ccf->sh;

    ngx_shmtx_lock(&ccf->shpool->mutex);

    if (sh->seq & 1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "lfv: a process died while writing the credentials "
                      "record; its keys are dropped");

        ngx_explicit_memzero(sh->secret_access_key, NGX_HTTP_LFV_SECRET_MAX);
        ngx_explicit_memzero(sh->session_token, NGX_HTTP_LFV_TOKEN_MAX);
        sh->has_keys = 0;

    } else {
        ngx_atomic_fetch_add(&sh->seq, 1);
    }

    ngx_memory_barrier();

    return sh;
}


static void
ngx_http_lfv_credentials_written(ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_http_lfv_creds_shm_t  *sh;

    sh = ccf->sh;

    if (++sh->generation == 0) {
        sh->generation = 1;
    }

    if (sh->fetcher == ngx_pid) {
        sh->fetcher = 0;
    }

    /* the end of the write section */

    ngx_memory_barrier();
    ngx_atomic_fetch_add(&sh->seq, 1);

    ngx_shmtx_unlock(&ccf->shpool->mutex);

    ngx_http_lfv_credentials_wake(ccf);
}


static void
ngx_http_lfv_credentials_release(ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_shmtx_lock(&ccf->shpool->mutex);

    if (ccf->sh->fetcher == ngx_pid) {
        ccf->sh->fetcher = 0;
    }

    ngx_shmtx_unlock(&ccf->shpool->mutex);
}


/*
 * One token for all workers: a fetch by another worker than the last one
 * asks IMDS for no new token.  Its length is set last, so a writer that
 * dies inside leaves none rather than a torn one.
 */

ngx_int_t
ngx_http_lfv_credentials_imds_token(ngx_http_lfv_creds_conf_t *ccf,
    u_char *buf, size_t *len)
{
    ngx_int_t                  rc;
    ngx_http_lfv_creds_shm_t  *sh;

    sh = ccf->sh;
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&ccf->shpool->mutex);

    if (sh->imds_token_len
        && sh->imds_token_len <= NGX_HTTP_LFV_IMDS_TOKEN_MAX
        && ngx_time() < sh->imds_token_expires
        && ngx_memcmp(sh->imds_token_fingerprint, ccf->fingerprint,
                      NGX_HTTP_LFV_FINGERPRINT_LEN)
           == 0)
    {
        *len = sh->imds_token_len;
        ngx_memcpy(buf, sh->imds_token, *len);
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ccf->shpool->mutex);

    return rc;
}


void
ngx_http_lfv_credentials_set_imds_token(ngx_http_lfv_creds_conf_t *ccf,
    u_char *token, size_t len, time_t expires)
{
    ngx_http_lfv_creds_shm_t  *sh;

    sh = ccf->sh;

    ngx_shmtx_lock(&ccf->shpool->mutex);

    sh->imds_token_len = 0;

    if (len && len <= NGX_HTTP_LFV_IMDS_TOKEN_MAX) {
        ngx_memcpy(sh->imds_token, token, len);
        ngx_memcpy(sh->imds_token_fingerprint, ccf->fingerprint,
                   NGX_HTTP_LFV_FINGERPRINT_LEN);
        sh->imds_token_expires = expires;

        ngx_memory_barrier();
        sh->imds_token_len = len;

    } else {
        ngx_explicit_memzero(sh->imds_token, NGX_HTTP_LFV_IMDS_TOKEN_MAX);
    }

    ngx_shmtx_unlock(&ccf->shpool->mutex);
}


void
ngx_http_lfv_credentials_state(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_state_t *st)
{
    ngx_uint_t                 i;
    ngx_atomic_uint_t          seq;
    ngx_http_lfv_creds_shm_t  *sh;

    ngx_memzero(st, sizeof(ngx_http_lfv_creds_state_t));

    sh = ccf->sh;

    if (sh == NULL) {
        st->has_keys = (ccf->fixed.access_key_id.len != 0);
        st->access_key_id_len = ccf->fixed.access_key_id.len;
        ngx_memcpy(st->access_key_id, ccf->fixed.access_key_id.data,
                   st->access_key_id_len);
        return;
    }

    for (i = 0; i < 16; i++) {

        seq = sh->seq;

        if (seq & 1) {
            ngx_cpu_pause();
            continue;
        }

        ngx_memory_barrier();

        st->has_keys = sh->has_keys
                       && ngx_memcmp(sh->fingerprint, ccf->fingerprint,
                                     NGX_HTTP_LFV_FINGERPRINT_LEN)
                          == 0;
        st->expiration = sh->expiration;
        st->refreshed = sh->refreshed;
        st->failed = sh->failed;
        st->failures = sh->failures;
        st->fetches = sh->fetches;
        st->access_key_id_len = st->has_keys ? sh->access_key_id_len : 0;
        ngx_memcpy(st->access_key_id, sh->access_key_id,
                   st->access_key_id_len);
        st->error_len = ngx_min(sh->error_len, NGX_HTTP_LFV_ERROR_MAX);
        ngx_memcpy(st->error, sh->error, st->error_len);

        ngx_memory_barrier();

        if (sh->seq == seq) {
            return;
        }
    }

    /* a write never settled: say nothing rather than something torn */

    ngx_memzero(st, sizeof(ngx_http_lfv_creds_state_t));
}


/*
 * A request without credentials waits in its worker's queue, with its
 * own deadline.  The fetcher wakes the queue of its worker when it has
 * written; the other workers look for the end of the fetch with one
 * timer each, armed only while a request waits.
 */

void
ngx_http_lfv_credentials_wait(ngx_http_lfv_creds_conf_t *ccf,
    ngx_http_lfv_creds_waiter_t *w)
{
    if (w->queue.next == NULL) {
        ngx_queue_insert_tail(&ccf->waiting, &w->queue);
    }

    if (!ccf->watch.timer_set) {
        ngx_add_timer(&ccf->watch, NGX_HTTP_LFV_WATCH);
    }
}


void
ngx_http_lfv_credentials_unwait(ngx_http_lfv_creds_waiter_t *w)
{
    if (w->queue.next) {
        ngx_queue_remove(&w->queue);
        w->queue.next = NULL;
    }
}


static void
ngx_http_lfv_credentials_wake(ngx_http_lfv_creds_conf_t *ccf)
{
    ngx_queue_t                  *q;
    ngx_event_t                  *ev;
    ngx_http_lfv_creds_waiter_t  *w;

    while (!ngx_queue_empty(&ccf->waiting)) {
        q = ngx_queue_head(&ccf->waiting);
        w = ngx_queue_data(q, ngx_http_lfv_creds_waiter_t, queue);

        ngx_http_lfv_credentials_unwait(w);

        ev = w->event;

        if (ev->timer_set) {
            ngx_del_timer(ev);
        }

        ev->delayed = 0;
        ngx_post_event(ev, &ngx_posted_events);
    }

    if (ccf->watch.timer_set) {
        ngx_del_timer(&ccf->watch);
    }
}


static void
ngx_http_lfv_credentials_watch(ngx_event_t *ev)
{
    ngx_http_lfv_creds_conf_t  *ccf = ev->data;

    if (ngx_queue_empty(&ccf->waiting)) {
        return;
    }

    if (ccf->sh->seq != ccf->local_seq || ccf->sh->fetcher == 0) {
        ngx_http_lfv_credentials_wake(ccf);
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_LFV_WATCH);
}
