#!/usr/bin/env bash
# Installs the Debian packages some tests use, when missing and when we are allowed to (root with
# apt). Each test that needs one checks for it itself and prints why it skipped when absent, so a
# failure here is reported, not fatal. Debian's python3-zmq installs for /usr/bin/python3 (a pyenv
# python3 may come first on PATH), so that is the interpreter checked and used by tests.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v cyclictest >/dev/null 2>&1 || need+=(rt-tests)
/usr/bin/python3 -c 'import zmq' >/dev/null 2>&1 || need+=(python3-zmq)
/usr/bin/python3 -c 'import msgpack' >/dev/null 2>&1 || need+=(python3-msgpack)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${need[*]} (not root or no apt-get); tests that need them will skip" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}" >&2
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/tmp/engram-system-deps.log 2>&1 \
  || echo "system-deps: apt-get failed (see /tmp/engram-system-deps.log); tests that need ${need[*]} will skip" >&2
exit 0
