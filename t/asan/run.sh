#!/usr/bin/env bash
# make test-asan: build nginx 1.22.1 with the module compiled in under
# AddressSanitizer + UndefinedBehaviorSanitizer (t/asan/build.sh), prove
# that a sanitizer report fails a test (t/asan/canary.t), then run the whole
# suite against that nginx.
#
#   PROVE_FLAGS   (default -j2)    prove options
#   TESTS         (default t/)     test files or directories
#
# Where reports go: nginx points its stderr at the error log given by -e
# once it has daemonized, and the harness passes -e <prefix>/error.log, so
# worker and master reports land in error.log and the harness's end-of-file
# check ("no sanitizer reports in error logs") fails on them. A report
# raised before that (configuration parsing at start, all of "nginx -t")
# goes to the stderr the harness captured instead (nginx-run.out,
# nginx-t.out): a start then fails, the sanitizer exits with status 1, but
# a "nginx -t" that a test expects to fail passes with the report unseen
# unless the harness also scans that output. (GCC's UBSan ignores
# log_path, so its reports cannot be sent to a file of the prefix instead.)
#
# ASAN_OPTIONS:
#   detect_leaks=0  nginx frees nothing at exit by design: "nginx -t" and the
#                   master leave the whole configuration cycle to exit(), a
#                   worker destroys its cycle pool but not the connection
#                   and event arrays (ngx_alloc) that the pool pointed to;
#                   LeakSanitizer reports all of it at every exit (37
#                   allocations for "nginx -t" on an empty configuration).
#                   Leaks that matter in nginx are pool lifetimes (memory
#                   held for a request or a connection longer than it
#                   should), which no exit-time leak checker sees.
#   detect_stack_use_after_return=1  finds pointers to a returned frame's
#                   locals (fixed buffers handed to nginx by a callee).
# UBSAN_OPTIONS: a stack with each report; stop at the first one (the build
# also uses -fno-sanitize-recover=undefined).

set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

nginx=$(t/asan/build.sh asan)

canary=$repo/build/asan/canary.so
if [ ! -f "$canary" ] || [ t/asan/canary.c -nt "$canary" ]; then
    gcc -shared -fPIC -fsanitize=address,undefined \
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O0 \
        t/asan/canary.c -o "$canary"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LFV_NGINX=$nginx
export LFV_STATIC=1

echo "test-asan: canary (a report must fail the harness's check)"
LFV_CANARY_TOOL=asan LFV_CANARY_SO=$canary prove t/asan/canary.t

echo "test-asan: suite against $nginx"
# shellcheck disable=SC2086
prove ${PROVE_FLAGS:--j2} ${TESTS:-t/}
