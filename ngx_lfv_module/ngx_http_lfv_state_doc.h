
/*
 * Copyright (C) ngx_lfv_module authors
 */


#ifndef _NGX_HTTP_LFV_STATE_DOC_H_INCLUDED_
#define _NGX_HTTP_LFV_STATE_DOC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The state file of lfv_policy_zone ... state=path: what a restart
 * must not lose, as text, one record per line (docs/cost-guard.md):
 *
 *   lfv-state 1
 *   team TEAM WINDOW USED EXCESS AGE
 *   lease TEAM REGION HOST PROJECT VERSION UNITS STARTED ENDS
 *   end COUNT CRC32
 *
 * Fields are separated by one space, a line ends with LF.  TEAM is
 * encoded: any byte but [A-Za-z0-9._~-] as %XX (upper case hex).
 * Numbers are decimal without leading zeros.  COUNT is the number of
 * team and lease lines, CRC32 (8 lower case hex digits) that of every
 * byte before "end".  Nothing may follow the end line.  The file is
 * untrusted input: it is checked as a whole before any of it is used.
 */

#define NGX_HTTP_LFV_STATE_VERSION     1

#define NGX_HTTP_LFV_STATE_TEAM_MAX    128
#define NGX_HTTP_LFV_STATE_REGION_MAX  63
#define NGX_HTTP_LFV_STATE_HOST_MAX    255
#define NGX_HTTP_LFV_STATE_PROJECT_MAX 255
#define NGX_HTTP_LFV_STATE_VERSION_MAX 10
#define NGX_HTTP_LFV_STATE_NUMBER_MAX  ((uint64_t) 1 << 40)

/* the longest numbers: NUMBER_MAX, and UNITS' 2147483647 */
#define NGX_HTTP_LFV_STATE_NUMBER_LEN  (sizeof("1099511627776") - 1)
#define NGX_HTTP_LFV_STATE_UNITS_LEN   (sizeof("2147483647") - 1)

/*
 * the longest line the writer makes and the parser takes, LF included:
 * a lease, its 9 fields separated by 8 spaces, every field at its
 * longest (a team of 128 bytes, each one %XX)
 */
#define NGX_HTTP_LFV_STATE_LINE_MAX                                          \
    (sizeof("lease") - 1 + 8 + 3 * (size_t) NGX_HTTP_LFV_STATE_TEAM_MAX      \
     + NGX_HTTP_LFV_STATE_REGION_MAX + NGX_HTTP_LFV_STATE_HOST_MAX           \
     + NGX_HTTP_LFV_STATE_PROJECT_MAX + NGX_HTTP_LFV_STATE_VERSION_MAX       \
     + NGX_HTTP_LFV_STATE_UNITS_LEN + 2 * NGX_HTTP_LFV_STATE_NUMBER_LEN + 1)


typedef enum {
    NGX_HTTP_LFV_STATE_TEAM = 1,
    NGX_HTTP_LFV_STATE_LEASE
} ngx_http_lfv_state_type_e;


typedef struct {
    ngx_http_lfv_state_type_e   type;

    ngx_str_t                   team;           /* decoded, in team_data */
    u_char                      team_data[NGX_HTTP_LFV_STATE_TEAM_MAX];

    /* team: the unit budget's window and use, the rate bucket */
    time_t                      window;         /* epoch of its start */
    uint64_t                    used;           /* units in the window */
    uint64_t                    excess;         /* milli-requests */
    uint64_t                    age;            /* ms since last leak */

    /* lease: a model started through the proxy; points into the buffer */
    ngx_str_t                   region;         /* [a-z0-9-]{1,63} */
    ngx_str_t                   host;           /* [A-Za-z0-9.:-]{1,255} */
    ngx_str_t                   project;        /* [a-zA-Z0-9][a-zA-Z0-9_-]* */
    ngx_str_t                   version;        /* [1-9][0-9]{0,9} */
    uint64_t                    units;          /* 1..2147483647 */
    time_t                      started;        /* epoch */
    time_t                      ends;           /* epoch; 0: no lease end */
} ngx_http_lfv_state_record_t;


/* called for each record in order; anything but NGX_OK stops the parse */

typedef ngx_int_t (*ngx_http_lfv_state_handler_pt)(void *data,
    ngx_http_lfv_state_record_t *rec);


/*
 * Checks the whole document (header, every line, count, CRC, nothing
 * after the end), then, when it is valid and "handler" is not NULL,
 * calls it for each record.  NGX_OK, or NGX_ERROR with *err a static
 * message and *line the 1-based line it is about (0: the document as a
 * whole); NGX_ABORT when the handler refused a record.  The buffer is
 * not changed.
 */
ngx_int_t ngx_http_lfv_state_parse(u_char *buf, size_t len,
    ngx_http_lfv_state_handler_pt handler, void *data, char **err,
    ngx_uint_t *line);

/*
 * The writer: the header, then each record, then the end line, which
 * takes the start of the document and the number of records.  Each
 * writes at most NGX_HTTP_LFV_STATE_LINE_MAX bytes and returns the new
 * end.  A record the parser would refuse is not written: its writer
 * returns p unchanged.
 */
u_char *ngx_http_lfv_state_write_header(u_char *p);
u_char *ngx_http_lfv_state_write_record(u_char *p,
    ngx_http_lfv_state_record_t *rec);
u_char *ngx_http_lfv_state_write_end(u_char *p, u_char *start,
    ngx_uint_t count);


#endif /* _NGX_HTTP_LFV_STATE_DOC_H_INCLUDED_ */
