#!/usr/bin/env bash
# make test-valgrind: build nginx 1.22.1 with the module compiled in and
# NGX_DEBUG_PALLOC=1, no sanitizers (t/asan/build.sh valgrind), prove that
# a memcheck error fails a test (t/asan/canary.t), then run the suite with
# every nginx process under valgrind memcheck (t/valgrind/nginx: reports in
# <prefix>/error-valgrind-<pid>.log, which the harness checks; leak check
# on, suppressions in t/valgrind/nginx.supp).
#
#   PROVE_FLAGS   (default -j2)                 prove options
#   TESTS         (default: t/*.t less SKIP)     test files
#   SKIP          (default: the list below)      test files left out
#
# Left out by default, each run by "make test" and "make test-asan":
#   t/20-imds.t         asserts metadata call counts against credentials that
#                       rotate every 6 s; under memcheck's slowdown (TLS to the
#                       simulator especially) the 20 requests it counts over
#                       take longer than that and a rotation adds a call
#   t/25-creds-lock.t   attaches gdb to a worker; a process that runs under
#                       valgrind cannot be traced by another debugger
#   t/41-reload-load.t  240 requests with 5 s client timeouts across three
#                       reloads; under memcheck some time out
#   t/70-demo.t         runs demo/run.sh, i.e. Debian's /usr/sbin/nginx, and
#   t/71-deb.t          the packaged module in Debian's nginx: neither runs
#                       LFV_NGINX, so there is nothing for memcheck to watch
#
# LFV_VALGRIND=1 tells the harness that /proc/PID/cmdline shows valgrind's
# command line, not nginx's "worker process" titles.

set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

command -v valgrind >/dev/null || {
    echo "test-valgrind: valgrind missing (apt-get install valgrind)" >&2
    exit 1
}

t/asan/build.sh valgrind >/dev/null

canary=$repo/build/valgrind/canary.so
if [ ! -f "$canary" ] || [ t/asan/canary.c -nt "$canary" ]; then
    gcc -shared -fPIC -fno-omit-frame-pointer -g -O0 \
        t/asan/canary.c -o "$canary" 2>/dev/null
fi

export LFV_NGINX=$repo/t/valgrind/nginx
export LFV_STATIC=1
export LFV_VALGRIND=1

echo "test-valgrind: canary (a memcheck error must fail the harness's check)"
LFV_CANARY_TOOL=valgrind LFV_CANARY_SO=$canary prove t/asan/canary.t

skip=${SKIP:-t/20-imds.t t/25-creds-lock.t t/41-reload-load.t t/70-demo.t t/71-deb.t}
if [ -z "${TESTS:-}" ]; then
    TESTS=
    for f in t/*.t; do
        case " $skip " in *" $f "*) continue ;; esac
        TESTS="$TESTS $f"
    done
fi

echo "test-valgrind: suite under valgrind (left out: $skip)"
# shellcheck disable=SC2086
prove ${PROVE_FLAGS:--j2} $TESTS
