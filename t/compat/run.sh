#!/usr/bin/env bash
# make test-nginx: the whole suite against nginx built from the sources in
# ../shared/vendor (stable and mainline), each with the module as a
# dynamic module, as users of nginx.org's packages run it:
#
#   t/compat/run.sh [VERSION...]     default: every nginx-*.tar.gz there
#
# Each version is unpacked and built once under build/nginx-VERSION/
# (--with-compat --with-debug, the modules the suite uses; the tarballs
# are git snapshots, so configure is auto/configure), then prove runs
# t/ with LFV_NGINX and LFV_MODULE pointing at that build.  Where the
# vendor directory is absent (a user's clone), it says so and succeeds.
#
# Environment: LFV_VENDOR (default ../shared/vendor beside the checkout),
# PROVE_FLAGS (default -j2), JOBS (default nproc).

set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
vendor=${LFV_VENDOR:-$repo/../shared/vendor}
jobs=${JOBS:-$(nproc)}

if [ ! -d "$vendor" ]; then
    echo "test-nginx: skipped: no vendor sources in $vendor" \
         "(set LFV_VENDOR to a directory with nginx-VERSION.tar.gz)"
    exit 0
fi
vendor=$(cd "$vendor" && pwd)

versions=("$@")
if [ ${#versions[@]} -eq 0 ]; then
    for f in "$vendor"/nginx-*.tar.gz; do
        [ -e "$f" ] || continue
        v=${f##*/nginx-}
        versions+=("${v%.tar.gz}")
    done
fi
if [ ${#versions[@]} -eq 0 ]; then
    echo "test-nginx: skipped: no nginx-*.tar.gz in $vendor"
    exit 0
fi

build() {
    local v=$1 tarball=$vendor/nginx-$1.tar.gz out=$repo/build/nginx-$1
    local src=$out/src objs=$out/objs

    [ -f "$tarball" ] || { echo "test-nginx: no $tarball" >&2; return 1; }
    if [ -f "$vendor/SHA256SUMS" ]; then
        (cd "$vendor" && grep " nginx-$v.tar.gz\$" SHA256SUMS | sha256sum -c --quiet -) \
            || { echo "test-nginx: $tarball does not match SHA256SUMS" >&2; return 1; }
    fi

    # unpacked once per tarball: the stamp is newer than the tarball
    if [ ! -f "$out/unpacked" ] || [ "$tarball" -nt "$out/unpacked" ]; then
        rm -rf "$src" "$objs" "$out/unpacked"
        mkdir -p "$src"
        tar -xzf "$tarball" -C "$src" --strip-components=1
        touch "$out/unpacked"
    fi

    local args=(--with-compat --with-debug --with-http_ssl_module
                --with-http_v2_module --with-http_realip_module
                --with-http_sub_module --with-http_auth_request_module
                --builddir="$objs" --with-cc-opt="-Werror -O2"
                --add-dynamic-module="$repo")
    local want stamp=$out/configure.args
    want=$(printf '%s\n' "${args[@]}")
    if [ ! -f "$objs/Makefile" ] || [ "$repo/config" -nt "$objs/Makefile" ] \
       || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]
    then
        echo "test-nginx: configure nginx $v in $objs" >&2
        rm -rf "$objs" "$stamp"
        if ! (cd "$src" && auto/configure "${args[@]}") > "$out/configure.log" 2>&1
        then
            tail -30 "$out/configure.log" >&2
            return 1
        fi
        printf '%s\n' "$want" > "$stamp"
    fi

    echo "test-nginx: make nginx $v, log $out/make.log" >&2
    if ! make -f "$objs/Makefile" -C "$src" -j"$jobs" binary modules \
            > "$out/make.log" 2>&1
    then
        grep -E -B2 -A12 'error|Error' "$out/make.log" | head -60 >&2
        return 1
    fi
}

rc=0
for v in "${versions[@]}"; do
    build "$v" || { echo "test-nginx: nginx $v: build failed" >&2; rc=1; continue; }
    out=$repo/build/nginx-$v/objs
    echo "test-nginx: the suite against nginx $v ($out/nginx)"
    "$out/nginx" -v 2>&1
    if ! (cd "$repo" && LFV_NGINX=$out/nginx LFV_MODULE=$out/ngx_http_lfv_module.so \
            prove ${PROVE_FLAGS:--j2} t/)
    then
        echo "test-nginx: nginx $v: the suite failed" >&2
        rc=1
    fi
done
exit $rc
