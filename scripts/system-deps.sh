#!/usr/bin/env bash
# Install Debian's chromium (report rendering tests), shellcheck (repro script lint) and
# docker.io + busybox-static (the repro kit run against a real, test-local docker daemon)
# when they are missing and we are allowed to. Never fails the build: tests that need a
# missing tool skip with a message saying which tool and why.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh || need+=(busybox-static)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install ${need[*]} (not root or no apt-get); related tests will skip"
  exit 0
fi
echo "system-deps: installing ${need[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
# No service is started at install time (no init here; the tests start their own dockerd).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
  >/tmp/investigator-system-deps.log 2>&1 \
  || echo "system-deps: apt-get failed (see /tmp/investigator-system-deps.log); related tests will skip"
[ "$made_policy" = 1 ] && rm -f "$policy"
exit 0
