
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_STORE_DOC_H_INCLUDED_
#define _NGX_HTTP_LFV_STORE_DOC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_ddb_doc.h"
#include "ngx_http_lfv_state_doc.h"


/*
 * The items of the store's table, read strictly and written as
 * requests, as pure functions (tests and fuzzers call them): a team's
 * partition "team#TEAM" holds its item "limits" and its leases.
 */

/* the limits item, as read */

typedef struct {
    uint64_t                    version;        /* "ver", 1 or more */
    time_t                      window;         /* "win" */
    uint64_t                    used;
    uint64_t                    excess;
    uint64_t                    last;           /* "last_ms" */
    ngx_str_t                   admitted;       /* nonces, spaced */
} ngx_http_lfv_store_limits_t;


/*
 * The cost guard's leases in the store (docs/several-proxies.md): an
 * item of the team's partition, sk "model#HOST/PROJECT/VERSION" (after
 * "limits": a start reads the limits item first, then the leases), that
 * the index "due" (gpk "lease", due) finds when a proxy must look at it
 * next: its end, its next check, a retry, or a claim or a start that
 * was given up.  A proxy claims the item (due moved by its claim time,
 * on the condition that nobody moved it since it was read), makes the
 * call, and writes what came of it.
 */

#define NGX_HTTP_LFV_STORE_LEASE_INDEX  "due"
#define NGX_HTTP_LFV_STORE_LEASE_GPK    "lease"

#define NGX_HTTP_LFV_STORE_KEY_MAX                                           \
    (NGX_HTTP_LFV_STATE_HOST_MAX + NGX_HTTP_LFV_STATE_PROJECT_MAX           \
     + NGX_HTTP_LFV_STATE_VERSION_MAX + 2)

/*
 * A start's lease has a nonce of its own; the limits item lists those of
 * the pending starts it admitted ("admitted"): a pending lease counts
 * only when its start won the write of the limits
 */
#define NGX_HTTP_LFV_STORE_NONCE_LEN    16

/* hostname/pid */
#define NGX_HTTP_LFV_STORE_OWNER_MAX    (NGX_MAXHOSTNAMELEN + NGX_INT64_LEN + 1)


typedef struct {
    ngx_str_t                   team;
    ngx_str_t                   key;            /* host/project/version */
    ngx_str_t                   region;
    ngx_uint_t                  units;
    time_t                      started;
    time_t                      ends;           /* 0: no end, a cap */
    time_t                      due;
    ngx_uint_t                  attempts;       /* of StopModel */
    ngx_uint_t                  alerted;        /* past its retry window */
    ngx_uint_t                  pending;        /* AWS has not answered */
    ngx_str_t                   owner;          /* "": not claimed */
    time_t                      claimed;
    ngx_str_t                   nonce;          /* of its start */
} ngx_http_lfv_store_lease_t;


/* a request about one lease, with room for what it names */

typedef struct {
    ngx_http_lfv_ddb_request_t  req;
    ngx_http_lfv_ddb_item_t     values;
    u_char                      pk[sizeof("team#") - 1
                                   + NGX_HTTP_LFV_STATE_TEAM_MAX];
    u_char                      sk[sizeof("model#") - 1
                                   + NGX_HTTP_LFV_STORE_KEY_MAX];
} ngx_http_lfv_store_lease_req_t;


/* how a lease item is deleted */

#define NGX_HTTP_LFV_STORE_LEASE_ANY      0     /* a stop through the proxy */
#define NGX_HTTP_LFV_STORE_LEASE_CLAIMED  1     /* by the claim's owner */
#define NGX_HTTP_LFV_STORE_LEASE_STARTING 2     /* its start's, refused */




ngx_int_t ngx_http_lfv_store_limits_parse(ngx_http_lfv_ddb_item_t *item,
    ngx_http_lfv_store_limits_t *lim, char **err);

/* is the nonce among those admitted? */
ngx_uint_t ngx_http_lfv_store_limits_admit(ngx_str_t *admitted,
    ngx_str_t *nonce);

/* the item's sort key of a model's lease, in buf */
ngx_str_t *ngx_http_lfv_store_lease_sk(ngx_str_t *key, u_char *buf,
    ngx_str_t *sk);

/*
 * The requests: the whole item written (fresh: only if there is none),
 * the item deleted (how: NGX_HTTP_LFV_STORE_LEASE_*; owner: this
 * process's name, unless ANY), claimed, or updated after a call by its
 * owner.  NGX_ERROR when a name is too long for the item.
 */
ngx_int_t ngx_http_lfv_store_lease_put(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_http_lfv_store_lease_t *l, ngx_uint_t fresh);
ngx_int_t ngx_http_lfv_store_lease_delete(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_str_t *team, ngx_str_t *key, ngx_uint_t how,
    ngx_str_t *owner);
ngx_int_t ngx_http_lfv_store_lease_claim(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_http_lfv_store_lease_t *l, time_t now,
    time_t claim, ngx_str_t *owner);
ngx_int_t ngx_http_lfv_store_lease_update(ngx_http_lfv_store_lease_req_t *r,
    ngx_str_t *table, ngx_http_lfv_store_lease_t *l, ngx_str_t *owner);

/* a lease item read strictly; its strings point into the item */
ngx_int_t ngx_http_lfv_store_lease_parse(ngx_http_lfv_ddb_item_t *item,
    ngx_http_lfv_store_lease_t *l, char **err);


#endif /* _NGX_HTTP_LFV_STORE_DOC_H_INCLUDED_ */
