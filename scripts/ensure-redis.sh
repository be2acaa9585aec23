#!/usr/bin/env bash
# Makes sure a Redis server answers on 127.0.0.1:6379 (the tests' default
# EXAM_TEST_REDIS_URL). Installs Debian's redis-server when missing and
# starts a throwaway instance (no persistence) when none answers. Fails
# loudly when it cannot.
set -euo pipefail
if [ -n "${EXAM_TEST_REDIS_URL:-}" ]; then exit 0; fi   # the caller brings its own
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
ping_redis() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if command -v redis-cli >/dev/null 2>&1 && ping_redis; then exit 0; fi
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "ensure-redis: installing Debian's redis-server" >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
if ! ping_redis; then
  echo "ensure-redis: starting redis-server on 127.0.0.1:6379" >&2
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  # The Debian package's service owns these; the daemon runs as us, so make
  # them ours only when we could not write there.
  for d in /var/lib/redis /var/log/redis; do
    [ -w "$d" ] || $SUDO chown "$(id -u):$(id -g)" "$d"
  done
  # ::1 is optional ("-" prefix): a host without IPv6 still starts.
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 40); do ping_redis && break; sleep 0.5; done
fi
ping_redis || { echo "ensure-redis: Redis does not answer on 127.0.0.1:6379 (see /var/log/redis/ci.log)" >&2; exit 1; }
