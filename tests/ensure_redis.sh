#!/usr/bin/env bash
# Make sure a Redis server binary is there for lesson 09b and its tests (Redis Streams).
#
# Installs Debian's `redis-tools` with apt-get when neither `redis-server` nor
# /usr/bin/redis-check-rdb exists, apt-get exists and we are root. redis-tools holds the
# multi-call binary (redis-check-rdb started under the name redis-server is the server) and,
# unlike the `redis-server` package, installs no service listening on 6379: the course starts
# its own server on 127.0.0.1, a random port and a password, and stops it by pid.
#
#   bash tests/ensure_redis.sh      # called by .ci/run before the test suite
say() { echo "[ensure_redis] $*"; }

if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-check-rdb ]; then
    say "found $(command -v redis-server || echo /usr/bin/redis-check-rdb)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != "0" ]; then
    say "no Redis server binary, and apt-get is missing or we are not root"
    say "to install it: sudo apt-get install -y redis-tools  (or: brew install redis)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if { [ -n "$(find /var/lib/apt/lists -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -q; } \
   && apt-get install -y -q --no-install-recommends redis-tools; then
    say "installed redis-tools ($(/usr/bin/redis-check-rdb --version 2>/dev/null | head -n 1))"
else
    say "apt-get could not install redis-tools (status $?)"
fi
exit 0
