#!/usr/bin/env bash
# Installs Debian's chromium (for the web admin's browser tests) when it is
# missing. Fails loudly: the browser tests fail, never skip, without it.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
	echo "chromium: $(chromium --version 2>/dev/null || echo present)"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "ensure-chromium: not root and no sudo: install chromium yourself (apt-get install chromium)" >&2
		exit 1
	fi
	SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y chromium; then
	$SUDO apt-get update
	$SUDO apt-get install -y chromium
fi

if ! command -v chromium >/dev/null 2>&1; then
	echo "ensure-chromium: chromium is still missing after apt-get install" >&2
	exit 1
fi
echo "chromium: $(chromium --version 2>/dev/null || echo installed)"
