#!/usr/bin/env bash
# Build nginx 1.22.1 from the upstream source in Debian's source package,
# with ngx_http_lfv_module compiled in (--add-module), instrumented for
# memory checking:
#
#   t/asan/build.sh asan       AddressSanitizer + UndefinedBehaviorSanitizer
#                              -> build/asan/sbin/nginx
#   t/asan/build.sh valgrind   no sanitizers, for valgrind memcheck
#                              -> build/valgrind/sbin/nginx
#
# UBSan: nginx 1.22 itself breaks two UBSan rules on purpose, in code that
# every request runs: "alignment" (ngx_http_parse.c compares methods as
# 32-bit words at any address, NGX_HAVE_NONALIGNED on x86) and
# "nonnull-attribute" (memcpy(dst, NULL, 0) for empty ngx_str_t in
# ngx_pstrdup, ngx_vslprintf "%V", ngx_http_log_module). Those two checks are
# off for nginx's own objects and back on for the module's objects only
# (LFV_CFLAGS, added to the addon rules of objs/Makefile after configure).
#
# Both define NGX_DEBUG_PALLOC=1: every pool allocation is a malloc() of its
# own, so an overrun of a pool buffer hits a redzone (ASan) or unallocated
# memory (memcheck) instead of the next allocation in the same pool block.
#
# Configure flags: Debian's conf_flags (from nginx-dev, as the module build
# uses) minus --with-compat and --modules-path, which only concern dynamic
# modules, plus the modules that Debian's nginx binary also has built in
# (debian/rules, "core_configure_flags": sub, addition, gunzip, ...; mail and
# stream are dynamic modules there and built in here; Debian's other dynamic
# modules, geoip, image_filter, perl, xslt, need libraries of their own and
# are left out). Paths stay Debian's; the test harness overrides them all.
# The build is incremental: configure runs again only when its arguments or
# the module's `config` change; make recompiles what changed.

set -euo pipefail

variant=${1:-asan}
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/build/$variant
objs=$out/objs
jobs=${JOBS:-$(nproc)}

case $variant in
asan)
    cc_opt="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
    cc_opt="$cc_opt -fno-omit-frame-pointer -DNGX_DEBUG_PALLOC=1 -g -O1"
    cc_opt="$cc_opt -fno-sanitize=alignment,nonnull-attribute"
    ld_opt="-fsanitize=address,undefined $out/sanitizer_options.o"
    module_cflags="-fsanitize=alignment,nonnull-attribute"
    ;;
valgrind)
    cc_opt="-fno-omit-frame-pointer -DNGX_DEBUG_PALLOC=1 -g -O1"
    ld_opt=""
    module_cflags=""
    ;;
*)
    echo "usage: $0 asan|valgrind" >&2
    exit 2
    ;;
esac

conf_flags=${NGX_CONF_FLAGS_FILE:-/usr/share/nginx/src/conf_flags}
if [ ! -f "$conf_flags" ]; then
    echo "build: $conf_flags missing: apt-get install nginx-dev (make deps)" >&2
    exit 1
fi

src=$("$repo/t/asan/nginx-source.sh")

NGX_CONF_FLAGS=()
# shellcheck disable=SC1090
. "$conf_flags"
flags=()
for f in "${NGX_CONF_FLAGS[@]}"; do
    case $f in
    --with-compat|--modules-path=*) ;;
    *) flags+=("$f") ;;
    esac
done

flags+=(--with-http_addition_module --with-http_flv_module
        --with-http_gunzip_module --with-http_gzip_static_module
        --with-http_mp4_module --with-http_random_index_module
        --with-http_secure_link_module --with-http_sub_module
        --with-mail --with-mail_ssl_module
        --with-stream --with-stream_ssl_module
        --with-stream_ssl_preread_module --with-stream_realip_module)

args=("${flags[@]}" --builddir="$objs"
      --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt"
      --add-module="$repo")

mkdir -p "$objs" "$out/sbin"

if [ "$variant" = asan ]; then
    # default ASan/UBSan options baked into the binary: see the file
    gcc -c -O1 -g -fPIC "$repo/t/asan/sanitizer_options.c" \
        -o "$out/sanitizer_options.o.new"
    if ! cmp -s "$out/sanitizer_options.o.new" "$out/sanitizer_options.o"; then
        mv -f "$out/sanitizer_options.o.new" "$out/sanitizer_options.o"
        rm -f "$objs/nginx"     # relink
    else
        rm -f "$out/sanitizer_options.o.new"
    fi
fi
stamp=$out/configure.args
want=$(printf '%s\n' "$src" "${args[@]}")

if [ ! -f "$objs/Makefile" ] || [ "$repo/config" -nt "$objs/Makefile" ] \
   || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]
then
    echo "build: configure nginx ($variant) in $objs" >&2
    rm -rf "$stamp" "$objs"     # objects built with other flags are stale
    if ! (cd "$src" && ./configure "${args[@]}") > "$out/configure.log" 2>&1
    then
        tail -30 "$out/configure.log" >&2
        exit 1
    fi
    # the module's objects: "$(CC) -c $(CFLAGS) $(LFV_CFLAGS) ..."
    awk -v flags="$module_cflags" '
        NR == 1 { print "LFV_CFLAGS = " flags }
        /^[^ \t]*\/addon\/.*\.o:/ { addon = 1 }
        addon && /\$\(CC\) -c \$\(CFLAGS\)/ {
            sub(/\$\(CFLAGS\)/, "$(CFLAGS) $(LFV_CFLAGS)"); addon = 0
        }
        { print }
    ' "$objs/Makefile" > "$objs/Makefile.lfv"
    mv "$objs/Makefile.lfv" "$objs/Makefile"
    n=$(grep -c 'CFLAGS) $(LFV_CFLAGS)' "$objs/Makefile" || true)
    if [ "$n" -lt 1 ]; then
        echo "build: no addon rule found in $objs/Makefile" >&2
        exit 1
    fi
    printf '%s\n' "$want" > "$stamp"
fi

echo "build: make nginx ($variant), log $out/make.log" >&2
if ! make -f "$objs/Makefile" -C "$src" -j"$jobs" binary \
        > "$out/make.log" 2>&1
then
    grep -E -B2 -A12 'error|Error' "$out/make.log" | head -60 >&2
    exit 1
fi

install -m 755 "$objs/nginx" "$out/sbin/nginx.new"
mv -f "$out/sbin/nginx.new" "$out/sbin/nginx"
"$out/sbin/nginx" -V 2>&1 | sed 's/^/build: /' >&2
echo "$out/sbin/nginx"
