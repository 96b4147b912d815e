#!/bin/sh
# Installs what the browser tests (tests/browser) need, called by `make test` (`make browser-deps`):
#   - Debian's chromium (apt-get, as root) unless $CHROMIUM (default /usr/bin/chromium) exists;
#   - axe-core $AXE_VERSION from the npm registry (`npm pack`) into .cache/axe-core/axe.min.js.
# Never fails: when something cannot be installed, the reason goes to .cache/browser-deps/*.missing
# and the tests that need it skip, quoting that reason. Quick (two file checks) when done.
set -u
cd "$(dirname "$0")/../.."

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
AXE_VERSION=${AXE_VERSION:-4.14.1}
NOTES="$PWD/.cache/browser-deps"
AXE_DIR="$PWD/.cache/axe-core"

mkdir -p "$NOTES" "$AXE_DIR"

# ---- chromium ---------------------------------------------------------------------------------
rm -f "$NOTES/chromium.missing"
if [ ! -x "$CHROMIUM" ]; then
    why=""
    log="$NOTES/apt-get.log"
    if ! command -v apt-get >/dev/null 2>&1; then
        why="apt-get not found (not a Debian-based system)"
    elif [ "$(id -u)" != 0 ]; then
        why="not running as root, so apt-get cannot install it"
    else
        echo "browser tests: installing Debian's chromium with apt-get (log: $log)"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y -q --no-install-recommends chromium >"$log" 2>&1; then
            echo "browser tests: apt-get install failed; running apt-get update and retrying"
            { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; } \
                >>"$log" 2>&1 || why="apt-get install chromium failed (see $log)"
        fi
        [ -z "$why" ] && [ ! -x "$CHROMIUM" ] && why="apt-get installed chromium but $CHROMIUM is missing"
    fi
    if [ -n "$why" ]; then
        echo "$CHROMIUM not found and not installed: $why" >"$NOTES/chromium.missing"
        echo "browser tests will be skipped: $(cat "$NOTES/chromium.missing")" >&2
    fi
fi

# ---- axe-core ---------------------------------------------------------------------------------
if [ ! -s "$AXE_DIR/axe.min.js" ] || [ "$(cat "$AXE_DIR/VERSION" 2>/dev/null)" != "$AXE_VERSION" ]; then
    rm -f "$NOTES/axe.missing"
    why=""
    if ! command -v npm >/dev/null 2>&1; then
        why="npm not found"
    else
        echo "browser tests: fetching axe-core@$AXE_VERSION from the npm registry"
        tmp=$(mktemp -d)
        if tgz=$(cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" 2>"$NOTES/npm.log") \
            && tar -xzf "$tmp/$tgz" -C "$tmp" package/axe.min.js package/LICENSE \
            && [ -s "$tmp/package/axe.min.js" ]; then
            cp "$tmp/package/LICENSE" "$AXE_DIR/LICENSE"
            mv "$tmp/package/axe.min.js" "$AXE_DIR/axe.min.js"
            echo "$AXE_VERSION" >"$AXE_DIR/VERSION"
        else
            why="npm pack axe-core@$AXE_VERSION failed (see $NOTES/npm.log)"
        fi
        rm -rf "$tmp"
    fi
    if [ -n "$why" ]; then
        echo "axe-core not installed: $why" >"$NOTES/axe.missing"
        echo "accessibility (axe) tests will be skipped: $why" >&2
    fi
fi
exit 0
