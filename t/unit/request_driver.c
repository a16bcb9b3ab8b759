
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * Runs the request parsers of ngx_http_lfv_request.c on the cases read
 * from stdin, one per line: "kind<TAB>input(hex)", kind being target,
 * body, token or ctype.  Prints one line per case:
 *
 *   reason-number<TAB>reason-name
 *
 * followed, when the reason is "ok", by "<TAB>project<TAB>version" for a
 * target and "<TAB>min<TAB>max" for a body (-1: not given).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>

#include "ngx_http_lfv_request.h"
#include "ngx_lfv_unit.h"


/*
 * The names $lfv_reason logs (ngx_http_lfv_error.c) of the reasons the
 * parsers return, by reason: placed by name so that reasons added to
 * ngx_http_lfv_reason.h elsewhere do not shift them.
 */

static char  *ngx_lfv_unit_ops[NGX_HTTP_LFV_OP_LAST] = {
    "none", "start", "stop", "describe", "list"
};


static char  *ngx_lfv_unit_reasons[NGX_HTTP_LFV_REASON_LAST] = {
    [NGX_HTTP_LFV_OK] = "ok",
    [NGX_HTTP_LFV_METHOD] = "method",
    [NGX_HTTP_LFV_QUERY] = "query",
    [NGX_HTTP_LFV_QUERY_PARAMETER] = "query_parameter",
    [NGX_HTTP_LFV_MAX_RESULTS] = "max_results",
    [NGX_HTTP_LFV_NEXT_TOKEN] = "next_token",
    [NGX_HTTP_LFV_PERCENT] = "percent_encoding",
    [NGX_HTTP_LFV_DOT_SEGMENT] = "dot_segment",
    [NGX_HTTP_LFV_DOUBLE_SLASH] = "double_slash",
    [NGX_HTTP_LFV_ROUTE] = "route",
    [NGX_HTTP_LFV_PROJECT] = "project_name",
    [NGX_HTTP_LFV_VERSION] = "model_version",
    [NGX_HTTP_LFV_CONTENT_TYPE] = "content_type",
    [NGX_HTTP_LFV_CLIENT_TOKEN] = "client_token",
    [NGX_HTTP_LFV_BODY_NOT_ALLOWED] = "body_not_allowed",
    [NGX_HTTP_LFV_BODY_EMPTY] = "body_empty",
    [NGX_HTTP_LFV_BODY_TOO_LARGE] = "body_too_large",
    [NGX_HTTP_LFV_BODY_SYNTAX] = "body_syntax",
    [NGX_HTTP_LFV_BODY_NOT_OBJECT] = "body_not_object",
    [NGX_HTTP_LFV_BODY_TRAILING] = "body_trailing",
    [NGX_HTTP_LFV_MEMBER_ESCAPED] = "member_escaped",
    [NGX_HTTP_LFV_MEMBER_UNKNOWN] = "member_unknown",
    [NGX_HTTP_LFV_MEMBER_DUPLICATE] = "member_duplicate",
    [NGX_HTTP_LFV_NOT_INTEGER] = "not_integer",
    [NGX_HTTP_LFV_LEADING_ZERO] = "leading_zero",
    [NGX_HTTP_LFV_INT32_RANGE] = "int32_range",
    [NGX_HTTP_LFV_MIN_REQUIRED] = "min_units_required",
    [NGX_HTTP_LFV_MIN_UNITS] = "min_units",
    [NGX_HTTP_LFV_MAX_UNITS] = "max_units",
    [NGX_HTTP_LFV_MAX_BELOW_MIN] = "max_below_min"
};


static void ngx_lfv_unit_case(ngx_str_t *kind, ngx_str_t *input);


int
main(int argc, char **argv)
{
    u_char     *line;
    size_t      size;
    ssize_t     n;
    ngx_str_t   f[2];

    line = NULL;
    size = 0;

    while ((n = getline((char **) &line, &size, stdin)) != -1) {

        if (n && line[n - 1] == '\n') {
            n--;
        }

        if (ngx_lfv_unit_split(line, n, f, 2) != 2
            || ngx_lfv_unit_unhex(&f[1]) != NGX_OK)
        {
            fprintf(stderr, "request_driver: bad line: %.*s\n", (int) n, line);
            return 2;
        }

        ngx_lfv_unit_case(&f[0], &f[1]);
    }

    free(line);

    return 0;
}


static void
ngx_lfv_unit_case(ngx_str_t *kind, ngx_str_t *input)
{
    u_char                 *p;
    ngx_int_t               min, max;
    ngx_str_t               project, version;
    ngx_http_lfv_target_t   target;
    ngx_http_lfv_reason_e   rc;

    ngx_memzero(&target, sizeof(ngx_http_lfv_target_t));

    /* an exactly sized copy: ASan sees a read past the input */

    p = malloc(input->len ? input->len : 1);
    if (p == NULL) {
        exit(2);
    }

    ngx_memcpy(p, input->data, input->len);

    ngx_str_null(&project);
    ngx_str_null(&version);
    min = NGX_HTTP_LFV_UNITS_UNSET;
    max = NGX_HTTP_LFV_UNITS_UNSET;

    if (kind->len == 6 && ngx_strncmp(kind->data, "target", 6) == 0) {
        rc = ngx_http_lfv_parse_target(p, input->len, &target);
        project = target.project;
        version = target.version;

    } else if (kind->len == 4 && ngx_strncmp(kind->data, "stop", 4) == 0) {
        rc = ngx_http_lfv_parse_empty_body(p, input->len);

    } else if (kind->len == 4 && ngx_strncmp(kind->data, "body", 4) == 0) {
        rc = ngx_http_lfv_parse_body(p, input->len, &min, &max);

    } else if (kind->len == 5 && ngx_strncmp(kind->data, "token", 5) == 0) {
        rc = ngx_http_lfv_check_client_token(p, input->len);

    } else if (kind->len == 5 && ngx_strncmp(kind->data, "ctype", 5) == 0) {
        rc = ngx_http_lfv_check_content_type(p, input->len);

    } else {
        fprintf(stderr, "request_driver: unknown kind \"%.*s\"\n",
                (int) kind->len, kind->data);
        exit(2);
    }

    if ((ngx_uint_t) rc >= NGX_HTTP_LFV_REASON_LAST
        || ngx_lfv_unit_reasons[rc] == NULL)
    {
        /* not a reason of a request parser */

        printf("%d\tother\n", (int) rc);
        free(p);
        return;
    }

    printf("%d\t%s", (int) rc, ngx_lfv_unit_reasons[rc]);

    if (rc == NGX_HTTP_LFV_OK && kind->data[0] == 't' && kind->len == 6) {

        /* StartModel's lines stay "ok project version" */

        if (target.operation != NGX_HTTP_LFV_OP_START) {
            printf("\t%s", ngx_lfv_unit_ops[target.operation]);
        }

        printf("\t%.*s", (int) project.len, project.data);

        if (version.len) {
            printf("\t%.*s", (int) version.len, version.data);
        }

        if (target.max_results) {
            printf("\tmax=%ld", (long) target.max_results);
        }

        if (target.next_token) {
            printf("\ttoken");
        }

    } else if (kind->data[0] == 't' && kind->len == 6
               && target.operation != NGX_HTTP_LFV_OP_NONE)
    {
        /* a refusal under the operation the route's shape names */

        printf("\tin %s", ngx_lfv_unit_ops[target.operation]);

    } else if (rc == NGX_HTTP_LFV_OK && kind->data[0] == 'b') {
        printf("\t%ld\t%ld", (long) min, (long) max);
    }

    printf("\n");

    free(p);
}
