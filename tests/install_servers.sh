#!/bin/sh
# Installs the web servers the deployment tests run (tests/test_deploy_nginx.py, test_deploy_w3id.py),
# called by `make test` (`make server-deps`): Debian's nginx and apache2 with apt-get, as root,
# when missing. Never fails: when one cannot be installed, the reason goes to
# .cache/server-deps/NAME.missing and the tests that need it skip, quoting that reason.
# Quick (two file checks) when both are there. The packages' services are not started by us.
set -u
cd "$(dirname "$0")/.."
NOTES="$PWD/.cache/server-deps"
mkdir -p "$NOTES"

install() {  # $1: package, $2: the binary it provides
    rm -f "$NOTES/$1.missing"
    [ -x "$2" ] && return 0
    why=""
    log="$NOTES/apt-get-$1.log"
    if ! command -v apt-get >/dev/null 2>&1; then
        why="apt-get not found (not a Debian-based system)"
    elif [ "$(id -u)" != 0 ]; then
        why="not running as root, so apt-get cannot install it"
    else
        echo "deployment tests: installing Debian's $1 with apt-get (log: $log)"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y -q --no-install-recommends "$1" >"$log" 2>&1; then
            { apt-get update -q && apt-get install -y -q --no-install-recommends "$1"; } \
                >>"$log" 2>&1 || why="apt-get install $1 failed (see $log)"
        fi
        [ -z "$why" ] && [ ! -x "$2" ] && why="apt-get installed $1 but $2 is missing"
    fi
    if [ -n "$why" ]; then
        echo "$2 not found and not installed: $why" >"$NOTES/$1.missing"
        echo "deployment tests will be skipped: $(cat "$NOTES/$1.missing")" >&2
    fi
}

install nginx "${NGINX:-/usr/sbin/nginx}"
install apache2 "${APACHE2:-/usr/sbin/apache2}"
exit 0
