#!/usr/bin/env bash
# Makes sure an nginx binary is available for the tests of deploy/nginx.conf
# (deploy/nginx_test.go runs it as a child process with its own prefix).
# Installs Debian's nginx when missing, without starting or enabling the
# system service: the tests need the binary, not a daemon on port 80.
# Prints the version; fails loudly when it cannot.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }

nginx_bin=$(find_nginx)
if [ -z "$nginx_bin" ]; then
  echo "ensure-nginx: installing Debian's nginx" >&2
  # A policy-rc.d that answers 101 keeps maintainer scripts from starting the
  # service (the Debian way); only ours is removed afterwards.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  cleanup() { if [ -n "$own_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup EXIT
  # Debian 12 ships one "nginx" package (nginx-light is a transitional name).
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
  fi
  # Belt and braces: if a service got started anyway, stop and disable it.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    echo "ensure-nginx: stopping the system nginx the package started" >&2
    $SUDO /usr/sbin/nginx -s quit || $SUDO kill "$(cat /run/nginx.pid)"
  fi
  nginx_bin=$(find_nginx)
fi
[ -n "$nginx_bin" ] || { echo "ensure-nginx: nginx is not installed and could not be installed" >&2; exit 1; }
"$nginx_bin" -v 2>&1 || { echo "ensure-nginx: $nginx_bin does not run" >&2; exit 1; }
