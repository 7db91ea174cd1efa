#!/usr/bin/env bash
# memo and joblib on the same workloads, one table: `bash bench/run.sh`.
# Installs joblib and numpy with pip if they are missing, builds in release,
# runs both sides and prints the table (also written to bench/results.md).
# Arguments go to the harness, e.g. `bash bench/run.sh --sizes 1,16`.
# PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
fail() {
    echo "bench/run.sh: $*" >&2
    exit 1
}

command -v "$python" >/dev/null || fail "no $python on PATH: install Python 3 (or set PYTHON=/path/to/python)"
if ! "$python" -c 'import joblib, numpy' 2>/dev/null; then
    echo "bench/run.sh: installing joblib and numpy with pip" >&2
    "$python" -m pip install --quiet joblib numpy ||
        fail "'$python -m pip install joblib numpy' failed: is pip installed and PyPI reachable?"
    "$python" -c 'import joblib, numpy' ||
        fail "joblib and numpy still do not import after pip installed them"
fi

cargo run --release --quiet -p memo-bench -- --python "$python" "$@"
