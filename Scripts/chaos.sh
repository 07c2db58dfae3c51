#!/usr/bin/env bash
# The soak load while Herald is SIGKILLed and restarted every CHAOS_MIN..CHAOS_MAX seconds
# (default 2..8) for CHAOS_SECONDS (default 300); see Scripts/soak.sh. Not in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
CHAOS=1 SOAK_SECONDS="${CHAOS_SECONDS:-300}" exec Scripts/soak.sh
