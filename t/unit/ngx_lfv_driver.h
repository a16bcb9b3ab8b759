
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_LFV_DRIVER_H_INCLUDED_
#define _NGX_LFV_DRIVER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* a driver's runner of one mode and its input */
typedef ngx_int_t (*ngx_lfv_unit_run_pt)(u_char *mode, size_t mlen,
    u_char *p, size_t len);

/*
 * A driver's main(): stdin is a mode line and the mode's input, or the
 * mode "batch" and records; "max" bounds the input; exit 0 or 2
 */
int ngx_lfv_unit_main(ngx_lfv_unit_run_pt run, size_t max);

/* a string printed with its bytes visible, for the tests to compare */
void ngx_lfv_driver_escaped(u_char *p, size_t len);

/* all of p is 0 bytes */
ngx_uint_t ngx_lfv_driver_zero(void *p, size_t len);


#endif /* _NGX_LFV_DRIVER_H_INCLUDED_ */
