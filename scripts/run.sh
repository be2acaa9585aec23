#!/usr/bin/env bash
# Runs the platform embedded on this machine: one process, data in ./data.
# Configuration: EXAM_* environment variables (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-go.sh
go build -o bin/examd ./cmd/examd
exec ./bin/examd "$@"
