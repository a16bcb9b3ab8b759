#!/usr/bin/env bash
# Fetch and unpack the upstream nginx source that Debian's nginx source
# package carries (nginx_1.22.1.orig.tar.gz), for the instrumented static
# builds (t/asan/build.sh). Prints the unpacked source directory.
#
#   t/asan/nginx-source.sh [cache-dir]     (default <repo>/build/cache)
#
# Needs a deb-src entry for Debian 12 ("bookworm"); as root it adds one
# (/etc/apt/sources.list.d/lfv-src.sources) when none exists. Debian's
# Sources index is signed, and apt checks the tarball against it; the
# SHA-256 below is checked again so that a different tarball never builds.

set -euo pipefail

VERSION=1.22.1
ORIG=nginx_${VERSION}.orig.tar.gz
SHA256=9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${1:-$repo/build/cache}
src=$cache/nginx-$VERSION

log() { echo "nginx-source: $*" >&2; }

have_deb_src() {
    grep -Eqs '^[[:space:]]*Types:.*\bdeb-src\b' /etc/apt/sources.list.d/*.sources \
        || grep -Eqs '^[[:space:]]*deb-src[[:space:]]' \
               /etc/apt/sources.list /etc/apt/sources.list.d/*.list
}

verified() {
    [ -f "$cache/$ORIG" ] \
        && echo "$SHA256  $cache/$ORIG" | sha256sum -c --status -
}

mkdir -p "$cache"

if ! verified; then
    rm -f "$cache/$ORIG"

    if ! have_deb_src; then
        if [ "$(id -u)" != 0 ]; then
            log "no deb-src entry in /etc/apt; as root, add one, e.g.:"
            log "  printf 'Types: deb-src\\nURIs: http://deb.debian.org/debian\\nSuites: bookworm\\nComponents: main\\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\\n' > /etc/apt/sources.list.d/lfv-src.sources && apt-get update"
            exit 1
        fi
        log "adding deb-src entry /etc/apt/sources.list.d/lfv-src.sources"
        cat > /etc/apt/sources.list.d/lfv-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        apt-get update -qq
    fi

    # an entry without an updated index: apt knows no source package yet
    if ! apt-cache showsrc nginx 2>/dev/null | grep -q "^Files:\|^Checksums-Sha256:"; then
        [ "$(id -u)" = 0 ] || { log "run apt-get update as root"; exit 1; }
        apt-get update -qq
    fi

    log "apt-get source --download-only nginx (into $cache)"
    # the Debian-revision files may fail to download (a newer revision than
    # the index knows); the orig tarball is all the build needs
    (cd "$cache" && apt-get source --download-only -qq \
            -o APT::Sandbox::User="$(id -un)" nginx >&2) \
        || log "apt-get source reported an error; checking for $ORIG"

    if [ ! -f "$cache/$ORIG" ]; then
        log "$ORIG not downloaded; apt-get source fetched:"
        ls -l "$cache" >&2
        exit 1
    fi
    if ! verified; then
        log "$ORIG: SHA-256 mismatch (want $SHA256)"
        exit 1
    fi
fi

if [ ! -x "$src/configure" ] || [ "$src/.unpacked" -ot "$cache/$ORIG" ]; then
    log "unpacking $ORIG"
    rm -rf "$src"
    tar -xzf "$cache/$ORIG" -C "$cache"
    touch "$src/.unpacked"
fi

echo "$src"
