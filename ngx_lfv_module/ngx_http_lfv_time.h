
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_TIME_H_INCLUDED_
#define _NGX_HTTP_LFV_TIME_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Pure parser of the Expiration time of a credentials document
 * (untrusted input): a buffer in, the time out, no pools, so tests and
 * fuzzers call it.
 */

/* "2026-11-26T12:34:56Z", optional fraction, "Z" or "+00:00" */
time_t ngx_http_lfv_parse_rfc3339(u_char *p, size_t len);


#endif /* _NGX_HTTP_LFV_TIME_H_INCLUDED_ */
