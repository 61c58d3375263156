#!/bin/sh
# Install Debian's Chromium for the dashboard's browser test (tests/monitor).
# Idempotent: does nothing when /usr/bin/chromium exists. Needs root (as on CI); elsewhere
# it prints what to run. Playwright drives this system browser: never `playwright install`.
set -eu

if [ -x /usr/bin/chromium ]; then
    echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing; install it as root: apt-get update && apt-get install -y chromium" >&2
    echo "(the browser test skips until /usr/bin/chromium exists)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium
/usr/bin/chromium --version || true
