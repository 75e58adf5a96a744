#!/usr/bin/env bash
# The GPU checks in one command, from the repository root of a fresh copy (see benchmarks/gpu_check.py):
#   bash benchmarks/gpu_check.sh                        # one GPU: results in benchmarks/results/gpu_check.json
#   bash benchmarks/gpu_check.sh --device cpu --quick   # the same code paths at tiny sizes
set -euo pipefail
cd "$(dirname "$0")/.."
# python -m imports the package from the working tree; install it (offline, no dependencies) only where that fails.
if ! python -c "import lightning_gans" 2>/dev/null; then
    python -m pip install -e . --no-deps --no-build-isolation -q
fi
# At most 8 minutes: the checks stop starting at --budget-s (450 s by default) and every finished one is saved.
exec timeout 480 python -m benchmarks.gpu_check "$@"
