
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_LFV_UNIT_H_INCLUDED_
#define _NGX_LFV_UNIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_sigv4.h"


/*
 * Helpers shared by the unit drivers and the fuzz targets: splitting a
 * line into tab-separated fields, hex decoding in place, the exact
 * scratch size that ngx_http_lfv_sigv4_signature() asks for, and an
 * exactly sized copy of an input, so that ASan sees any read past it.
 */

ngx_uint_t ngx_lfv_unit_split(u_char *p, size_t len, ngx_str_t *fields,
    ngx_uint_t n);
ngx_int_t ngx_lfv_unit_unhex(ngx_str_t *s);
size_t ngx_lfv_unit_scratch_size(ngx_http_lfv_sigv4_request_t *sr);
u_char *ngx_lfv_unit_copy(const u_char *data, size_t size);


#endif /* _NGX_LFV_UNIT_H_INCLUDED_ */
