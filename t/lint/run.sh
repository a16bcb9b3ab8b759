#!/usr/bin/env bash
# make lint: cppcheck and clang-tidy over the module's own sources
# (ngx_lfv_module/*.c), with the compile flags of the real module build:
#
#   1. configure a module build in build/lint/objs through the top-level
#      Makefile (BUILD=...), as "make" does for build/objs;
#   2. bear -- make -B ... modules: recompile the module there and record
#      every compiler call into build/lint/compile_commands.all.json;
#   3. keep the entries for ngx_lfv_module/*.c: build/lint/compile_commands.json;
#   4. cppcheck --project on it, suppressions in t/lint/cppcheck-suppressions.xml;
#   5. clang-tidy -p on each file, checks in t/lint/clang-tidy.yaml.
#
# Exits non-zero on any finding of either tool (both always run).
#   NGINX_SRC  nginx-dev sources (default /usr/share/nginx/src)
#   JOBS       parallel clang-tidy runs (default: nproc)

set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

src=${NGINX_SRC:-/usr/share/nginx/src}
out=$repo/build/lint
objs=$out/objs
jobs=${JOBS:-$(nproc)}

for tool in bear cppcheck clang-tidy jq; do
    command -v "$tool" >/dev/null || {
        echo "lint: $tool missing (apt-get install bear cppcheck clang-tidy jq)" >&2
        exit 1
    }
done

mkdir -p "$out"

echo "lint: configure the module build in $objs" >&2
make --no-print-directory BUILD="$objs" NGINX_SRC="$src" "$objs/Makefile" >&2

echo "lint: bear -- make -B (compile database)" >&2
bear --output "$out/compile_commands.all.json" -- \
    make -B -f "$objs/Makefile" -C "$src" modules > "$out/make.log" 2>&1 || {
    tail -30 "$out/make.log" >&2
    exit 1
}

jq '[.[] | select(.file | test("/ngx_lfv_module/[^/]*\\.c$"))]' \
    "$out/compile_commands.all.json" > "$out/compile_commands.json"

mapfile -t files < <(jq -r '.[].file' "$out/compile_commands.json")
want=$(ls ngx_lfv_module/*.c | wc -l)
if [ "${#files[@]}" -ne "$want" ]; then
    echo "lint: compile database has ${#files[@]} of $want ngx_lfv_module/*.c" >&2
    exit 1
fi

status=0

# one process: cppcheck 2.10 drops the symbol of a finding between its -j
# workers, so a <symbolName> suppression would not match (a few seconds)
echo "lint: cppcheck (${#files[@]} files)" >&2
cppcheck --project="$out/compile_commands.json" \
    --enable=warning,style,performance,portability \
    --std=c11 --library=posix --quiet \
    --suppress=missingIncludeSystem \
    --suppress-xml=t/lint/cppcheck-suppressions.xml \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    --error-exitcode=1 || status=1

echo "lint: clang-tidy (${#files[@]} files)" >&2
rm -rf "$out/tidy"
mkdir -p "$out/tidy"
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c '
    f=$1; o=$2/$(basename "$f").txt
    clang-tidy -p "$3" --config-file="$4" --quiet "$f" > "$o" 2>&1 \
        || echo "clang-tidy: exit $? for $f" >> "$o"
' sh {} "$out/tidy" "$out" t/lint/clang-tidy.yaml
for f in "${files[@]}"; do
    o=$out/tidy/$(basename "$f").txt
    # clang-tidy prints "N warnings generated." for suppressed ones too
    grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$o" || true
    if grep -q -E 'error:|clang-tidy: exit' "$o"; then
        status=1
    fi
done

if [ "$status" = 0 ]; then
    echo "lint: clean"
else
    echo "lint: findings above" >&2
fi
exit "$status"
