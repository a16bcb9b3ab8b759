
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * libFuzzer target: ngx_http_lfv_parse_target() on any bytes.  Only the
 * reasons of the target may come back, and an accepted target must be
 * exactly the StartModel route around a valid projectName and
 * modelVersion that point into the input.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_request.h"
#include "ngx_lfv_unit.h"


#define NGX_LFV_FUZZ_PREFIX  "/2020-11-20/projects/"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_lfv_fuzz_check(u_char *p, size_t len, ngx_str_t *project,
    ngx_str_t *version);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                 *p;
    ngx_str_t               project, version;
    ngx_http_lfv_reason_e   rc;

    p = ngx_lfv_unit_copy(data, size);

    ngx_str_null(&project);
    ngx_str_null(&version);

    rc = ngx_http_lfv_parse_target(p, size, &project, &version);

    switch (rc) {

    case NGX_HTTP_LFV_OK:
        ngx_lfv_fuzz_check(p, size, &project, &version);
        break;

    case NGX_HTTP_LFV_QUERY:
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
ngx_lfv_fuzz_check(u_char *p, size_t len, ngx_str_t *project,
    ngx_str_t *version)
{
    size_t   i, n;
    u_char   c;

    n = sizeof(NGX_LFV_FUZZ_PREFIX) - 1;

    if (project->len < 1 || project->len > NGX_HTTP_LFV_PROJECT_MAX
        || version->len < 1 || version->len > NGX_HTTP_LFV_VERSION_MAX
        || len != n + project->len + sizeof("/models/") - 1 + version->len
                  + sizeof("/start") - 1
        || project->data != p + n
        || version->data != p + n + project->len + sizeof("/models/") - 1)
    {
        abort();
    }

    if (ngx_memcmp(p, NGX_LFV_FUZZ_PREFIX, n) != 0
        || ngx_memcmp(p + n + project->len, "/models/", 8) != 0
        || ngx_memcmp(p + len - 6, "/start", 6) != 0)
    {
        abort();
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

    if (version->len == 6 && ngx_memcmp(version->data, "latest", 6) == 0) {
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
