
/*
 * Copyright (C) ngx_lfv_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lfv_time.h"




#define ngx_http_lfv_digit(c)  ((c) >= '0' && (c) <= '9')


static ngx_int_t  ngx_http_lfv_month_days[] = {
    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};


time_t
ngx_http_lfv_parse_rfc3339(u_char *p, size_t len)
{
    u_char     *last, *start;
    int64_t     t, days, era, yoe, doy;
    ngx_int_t   year, month, day, hour, min, sec, off, oh, om, mdays;

    /* YYYY-MM-DD "T" HH:MM:SS [ "." 1*9DIGIT ] ( "Z" / ("+" / "-") HH:MM ) */

    if (len < sizeof("YYYY-MM-DDTHH:MM:SSZ") - 1) {
        return NGX_ERROR;
    }

    last = p + len;

    if (p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't')
        || p[13] != ':' || p[16] != ':')
    {
        return NGX_ERROR;
    }

    year = ngx_atoi(p, 4);
    month = ngx_atoi(p + 5, 2);
    day = ngx_atoi(p + 8, 2);
    hour = ngx_atoi(p + 11, 2);
    min = ngx_atoi(p + 14, 2);
    sec = ngx_atoi(p + 17, 2);

    if (year < 1970 || month < 1 || month > 12 || day < 1
        || hour < 0 || hour > 23 || min < 0 || min > 59
        || sec < 0 || sec > 60)
    {
        return NGX_ERROR;
    }

    mdays = ngx_http_lfv_month_days[month - 1];

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        mdays = 29;
    }

    if (day > mdays) {
        return NGX_ERROR;
    }

    p += sizeof("YYYY-MM-DDTHH:MM:SS") - 1;

    if (*p == '.') {

        /* the fraction is ignored */

        for (start = ++p; p < last && ngx_http_lfv_digit(*p); p++) {
            /* void */
        }

        if (p == start || p - start > 9) {
            return NGX_ERROR;
        }
    }

    if (p == last) {
        return NGX_ERROR;
    }

    if (*p == 'Z' || *p == 'z') {
        off = 0;
        p++;

    } else if (*p == '+' || *p == '-') {

        if (last - p < (ssize_t) sizeof("+HH:MM") - 1 || p[3] != ':') {
            return NGX_ERROR;
        }

        oh = ngx_atoi(p + 1, 2);
        om = ngx_atoi(p + 4, 2);

        if (oh < 0 || oh > 23 || om < 0 || om > 59) {
            return NGX_ERROR;
        }

        off = (oh * 60 + om) * 60;

        if (*p == '-') {
            off = -off;
        }

        p += sizeof("+HH:MM") - 1;

    } else {
        return NGX_ERROR;
    }

    if (p != last) {
        return NGX_ERROR;
    }

    /* days from civil, March-based years of 400-year eras; year >= 1970 */

    if (month <= 2) {
        year--;
    }

    era = year / 400;
    yoe = year - era * 400;
    doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;

    /* a leap second counts as the first second of the next minute */

    t = days * 86400 + hour * 3600 + min * 60 + sec - off;

    if (t < 0 || t > (int64_t) NGX_MAX_TIME_T_VALUE) {
        return NGX_ERROR;
    }

    return (time_t) t;
}
