#!/usr/bin/env bash
# Makes sure a Go toolchain is on PATH. On a fresh Debian/Ubuntu machine it
# installs Debian's Go; go.mod's toolchain line then makes Go fetch the exact
# version it needs through the Go module proxy (GOTOOLCHAIN=auto).
set -euo pipefail
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "ensure-go: installing Debian's golang-go" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go gcc >/dev/null
  fi
fi
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
