#!/usr/bin/env bash
# make deb: build libnginx-mod-http-lfv_VERSION_ARCH.deb in build/deb/ with
# dpkg-deb alone (no network, no debian/ directory, no debhelper run).
#
# The package holds the module built against Debian's nginx-dev and
# depends on the exact nginx ABI that nginx-dev was made for (the virtual
# package nginx-abi-X that Debian's nginx packages provide), as Debian's
# own libnginx-mod-* packages do. It installs:
#
#   /usr/lib/nginx/modules/ngx_http_lfv_module.so
#   /usr/share/nginx/modules-available/mod-http-lfv.conf    (load_module)
#   /usr/share/doc/libnginx-mod-http-lfv/                    (docs, example site)
#   /etc/nginx/lfv_proxy_params                              (a conffile)
#
# and its postinst links /etc/nginx/modules-enabled/50-mod-http-lfv.conf.
#
# Environment: DEB_VERSION (default: the top of debian-pkg/changelog),
# DEB_OUT (default build/deb), ABI_FILE (nginx-dev's abisubstvars).
# Prints the path of the .deb as its last line.

set -euo pipefail

PKG=libnginx-mod-http-lfv
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUT=${DEB_OUT:-$REPO/build/deb}
ABI_FILE=${ABI_FILE:-/usr/share/nginx/src/debian/libnginx-mod.abisubstvars}
MODULE=$REPO/build/objs/ngx_http_lfv_module.so

die() { echo "deb: $*" >&2; exit 1; }

for tool in dpkg-deb dpkg gzip md5sum; do
    command -v "$tool" >/dev/null || die "$tool is missing (this builds on Debian)"
done

# ---------------------------------------------------------------- build

echo "deb: building the module (make)" >&2
make -C "$REPO" --no-print-directory all >&2 || die "make failed"
[ -f "$MODULE" ] || die "no $MODULE after make"

# ---------------------------------------------------------------- versions

VERSION=${DEB_VERSION:-$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$HERE/changelog")}
[ -n "$VERSION" ] || die "no version at the top of debian-pkg/changelog"
# the newest entry's (sed quits there: no head -1 to SIGPIPE it)
MAINTAINER=$(sed -n '/^ -- /{s/^ -- \(.*>\)  .*/\1/p;q;}' "$HERE/changelog")
[ -n "$MAINTAINER" ] || die "no maintainer line in debian-pkg/changelog"
ARCH=$(dpkg --print-architecture)

# the ABI of the nginx the module was compiled against: nginx-dev ships the
# value Debian's own module packages use (dh_nginx reads the same file)
ABI=
if [ -f "$ABI_FILE" ]; then
    ABI=$(sed -n 's/^nginx:abi=//p' "$ABI_FILE" | tr -d ' ')
fi
if [ -z "$ABI" ]; then
    # no nginx-dev file (NGINX_SRC build?): what the installed nginx provides
    ABI=$(dpkg-query -W -f='${Provides}\n' nginx nginx-core nginx-light nginx-extras \
              2>/dev/null | tr ',' '\n' | grep -o 'nginx-abi-[^ ]*' | head -1 || true)
fi
[[ $ABI =~ ^nginx-abi-[0-9][0-9A-Za-z.+~-]*$ ]] \
    || die "cannot tell the nginx ABI (no $ABI_FILE, no installed nginx providing nginx-abi-*)"

# the module must come from the nginx-dev that defines that ABI
DEV_VER=$(dpkg-query -W -f='${Version}' nginx-dev 2>/dev/null || true)
NGX_VER=$(dpkg-query -W -f='${Version}' nginx 2>/dev/null || true)
if [ -n "$DEV_VER" ] && [ -n "$NGX_VER" ] && [ "$DEV_VER" != "$NGX_VER" ]; then
    echo "deb: warning: nginx-dev $DEV_VER and nginx $NGX_VER differ" >&2
fi
if ! dpkg-query -W -f='${Provides}\n' nginx nginx-core nginx-light nginx-extras 2>/dev/null \
        | grep -qw -- "$ABI"; then
    echo "deb: warning: no installed nginx provides $ABI; the package will not install here" >&2
fi

# ---------------------------------------------------------------- tree

STAGE=$OUT/stage
rm -rf "$STAGE"
install -d -m 0755 "$STAGE/DEBIAN" \
    "$STAGE/etc/nginx" \
    "$STAGE/usr/lib/nginx/modules" \
    "$STAGE/usr/share/nginx/modules-available" \
    "$STAGE/usr/share/doc/$PKG/examples"

install -m 0644 "$MODULE" "$STAGE/usr/lib/nginx/modules/ngx_http_lfv_module.so"
# as dh_strip does for shared objects
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$STAGE/usr/lib/nginx/modules/ngx_http_lfv_module.so"

install -m 0644 "$HERE/mod-http-lfv.conf" "$STAGE/usr/share/nginx/modules-available/"
# like nginx-common's proxy_params: a conffile the administrator may edit
install -m 0644 "$REPO/ngx_lfv_module/lfv_proxy_params" "$STAGE/etc/nginx/"
echo /etc/nginx/lfv_proxy_params > "$STAGE/DEBIAN/conffiles"
install -m 0644 "$HERE/copyright" "$STAGE/usr/share/doc/$PKG/copyright"
gzip -9n < "$HERE/changelog" > "$STAGE/usr/share/doc/$PKG/changelog.Debian.gz"
install -m 0644 "$REPO/README.md" "$STAGE/usr/share/doc/$PKG/README.md"
for doc in "$REPO"/docs/*.md; do
    install -m 0644 "$doc" "$STAGE/usr/share/doc/$PKG/"
done
install -m 0644 "$HERE/lookoutvision-site.conf" "$STAGE/usr/share/doc/$PKG/examples/"
chmod 0644 "$STAGE/usr/share/doc/$PKG"/*.gz

for s in postinst prerm postrm; do
    install -m 0755 "$HERE/$s" "$STAGE/DEBIAN/$s"
done

# ---------------------------------------------------------------- control

# shared library dependencies, as dh_shlibdeps finds them
SHLIBS=
if command -v dpkg-shlibdeps >/dev/null; then
    work=$(mktemp -d)
    mkdir -p "$work/debian"
    printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$PKG" "$PKG" > "$work/debian/control"
    SHLIBS=$(cd "$work" && dpkg-shlibdeps -O \
        "$STAGE/usr/lib/nginx/modules/ngx_http_lfv_module.so" 2>/dev/null \
        | sed -n 's/^shlibs:Depends=//p') || true
    rm -rf "$work"
fi
if [ -z "$SHLIBS" ]; then
    # the newest GLIBC_ symbol version the module needs
    glibc=$(objdump -T "$STAGE/usr/lib/nginx/modules/ngx_http_lfv_module.so" \
        | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
    SHLIBS="libc6 (>= ${glibc:-2.34})"
fi

SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)

sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$ARCH|" \
    -e "s|@MAINTAINER@|$MAINTAINER|" -e "s|@INSTALLED_SIZE@|$SIZE|" \
    -e "s|@NGINX_ABI@|$ABI|" -e "s|@SHLIBS@|$SHLIBS|" \
    "$HERE/control.in" > "$STAGE/DEBIAN/control"
if grep -n '@[A-Z_]*@' "$STAGE/DEBIAN/control" >&2; then
    die "unfilled field in debian-pkg/control.in"
fi

(cd "$STAGE" && find etc usr -type f -print0 | sort -z | xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums" "$STAGE/DEBIAN/conffiles"

# ---------------------------------------------------------------- package

# same bytes from the same commit: file times from the last commit
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

DEB=$OUT/${PKG}_${VERSION#*:}_${ARCH}.deb
rm -f "$DEB"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >&2
rm -rf "$STAGE"

echo "deb: $(dpkg-deb -f "$DEB" Package) $(dpkg-deb -f "$DEB" Version)" \
     "Depends: $(dpkg-deb -f "$DEB" Depends)" >&2
echo "$DEB"
