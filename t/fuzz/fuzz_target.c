
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_parse_target() on any bytes.  Only the
 * reasons of the target may come back, and an accepted target must be
 * exactly the route of its operation around a valid projectName and
 * modelVersion that point into the input; only ListModels has a query.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_request.h"
#include "ngx_lfv_unit.h"


#define NGX_LFV_FUZZ_PREFIX  "/2020-11-20/projects/"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_check(u_char *p, size_t len,
    ngx_http_lfv_target_t *t);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                 *p;
    ngx_http_lfv_target_t   target;
    ngx_http_lfv_reason_e   rc;

    p = ngx_lfv_unit_copy(data, size);

    rc = ngx_http_lfv_parse_target(p, size, &target);

    switch (rc) {

    case NGX_HTTP_LFV_OK:
        ngx_lfv_fuzz_check(p, size, &target);
        break;

    case NGX_HTTP_LFV_QUERY:
    case NGX_HTTP_LFV_QUERY_PARAMETER:
    case NGX_HTTP_LFV_MAX_RESULTS:
    case NGX_HTTP_LFV_NEXT_TOKEN:
    case NGX_HTTP_LFV_PERCENT:
    case NGX_HTTP_LFV_DOT_SEGMENT:
    case NGX_HTTP_LFV_DOUBLE_SLASH:
    case NGX_HTTP_LFV_ROUTE:
    case NGX_HTTP_LFV_PROJECT:
    case NGX_HTTP_LFV_VERSION:
        break;

    default:
        abort();
    }

    free(p);

    return 0;
}


static void
ngx_lfv_fuzz_check(u_char *p, size_t len, ngx_http_lfv_target_t *t)
{
    size_t      i, n, tail;
    u_char      c;
    ngx_str_t  *project, *version;
    const char *suffix;

    static const char  *suffixes[] = { NULL, "/start", "/stop", "", NULL };

    project = &t->project;
    version = &t->version;
    n = sizeof(NGX_LFV_FUZZ_PREFIX) - 1;

    if (project->len < 1 || project->len > NGX_HTTP_LFV_PROJECT_MAX
        || project->data != p + n
        || ngx_memcmp(p, NGX_LFV_FUZZ_PREFIX, n) != 0
        || t->path.data != p)
    {
        abort();
    }

    if (t->operation == NGX_HTTP_LFV_OP_LIST) {

        /* ".../models", then maybe "?" and the query */

        if (version->len != 0
            || t->path.len != n + project->len + sizeof("/models") - 1
            || ngx_memcmp(p + n + project->len, "/models", 7) != 0
            || (t->query.data == NULL && t->path.len != len)
            || (t->query.data
                && (t->query.data != p + t->path.len + 1
                    || t->path.len + 1 + t->query.len != len))
            || t->max_results < 0
            || t->max_results > NGX_HTTP_LFV_MAX_RESULTS_MAX)
        {
            abort();
        }

    } else {
        if (t->operation <= NGX_HTTP_LFV_OP_NONE
            || t->operation >= NGX_HTTP_LFV_OP_LIST)
        {
            abort();
        }

        suffix = suffixes[t->operation];
        tail = ngx_strlen(suffix);

        if (version->len < 1 || version->len > NGX_HTTP_LFV_VERSION_MAX
            || t->query.data != NULL || t->path.len != len
            || len != n + project->len + sizeof("/models/") - 1
                      + version->len + tail
            || version->data != p + n + project->len + sizeof("/models/") - 1
            || ngx_memcmp(p + n + project->len, "/models/", 8) != 0
            || ngx_memcmp(p + len - tail, suffix, tail) != 0)
        {
            abort();
        }
    }

    for (i = 0; i < project->len; i++) {
        c = project->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || (i > 0 && (c == '_' || c == '-'))))
        {
            abort();
        }
    }

    if (t->operation == NGX_HTTP_LFV_OP_LIST
        || (version->len == 6 && ngx_memcmp(version->data, "latest", 6) == 0))
    {
        return;
    }

    if (version->data[0] < '1' || version->data[0] > '9') {
        abort();
    }

    for (i = 1; i < version->len; i++) {
        if (version->data[i] < '0' || version->data[i] > '9') {
            abort();
        }
    }
}
