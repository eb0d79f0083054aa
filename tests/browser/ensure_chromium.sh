#!/usr/bin/env bash
# Make sure Debian's Chromium is there for the browser tests (tests/browser/).
#
# Installs the `chromium` package with apt-get when /usr/bin/chromium (or $SAGALAB_CHROMIUM)
# is missing, apt-get exists and we are root. Otherwise it says why it did nothing. It never
# fails: without Chromium the browser tests are skipped, with the reason, by pytest.
#
#   bash tests/browser/ensure_chromium.sh      # called by .ci/run before the test suite

chromium="${SAGALAB_CHROMIUM:-/usr/bin/chromium}"
say() { echo "[ensure_chromium] $*"; }

if [ -x "$chromium" ]; then
    say "found $chromium ($("$chromium" --version 2>/dev/null | head -n 1))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "$chromium is missing and there is no apt-get here: the browser tests will be skipped"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    say "$chromium is missing and we are not root (cannot apt-get install): the browser tests will be skipped"
    say "to run them: sudo apt-get update && sudo apt-get install -y chromium"
    exit 0
fi

say "$chromium is missing: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -q && apt-get install -y -q --no-install-recommends chromium; then
    if [ -x "$chromium" ]; then
        say "installed $chromium ($("$chromium" --version 2>/dev/null | head -n 1))"
    else
        say "the chromium package is installed but $chromium is not there: the browser tests will be skipped"
    fi
else
    say "apt-get could not install chromium (status $?): the browser tests will be skipped"
fi
exit 0
