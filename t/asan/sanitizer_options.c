/*
 * Default sanitizer options, linked into build/asan/sbin/nginx.
 *
 * GCC's shared libubsan reads UBSAN_OPTIONS only when it reports for the
 * first time. In an nginx worker that is after ngx_setproctitle() wrote the
 * process title over the original environment, so the sanitizer's look at
 * /proc/self/environ finds no UBSAN_OPTIONS: a worker's report came without
 * its stack. Options compiled in here apply in every process; ASAN_OPTIONS
 * and UBSAN_OPTIONS in the environment still override them where they are
 * read (ASan: at start; UBSan: a report in the master before it forks).
 */


const char *__asan_default_options(void);
const char *__ubsan_default_options(void);


const char *
__asan_default_options(void)
{
    /* why no leak detection: t/asan/run.sh */
    return "detect_leaks=0:detect_stack_use_after_return=1";
}


const char *
__ubsan_default_options(void)
{
    return "print_stacktrace=1:halt_on_error=1";
}
