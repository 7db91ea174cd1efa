#!/usr/bin/env bash
# memo and joblib on the same workloads, one table: `bash bench/run.sh`.
# Installs joblib, numpy and xxhash (the machine's xxh3 limit) with pip if
# they are missing, builds in release, runs both sides and the machine's
# limits and prints the table (also written to bench/results.md).
# Arguments go to the harness, e.g. `bash bench/run.sh --sizes 1,16`, or
# `bash bench/run.sh --quick` (a few minutes on a small machine).
# PYTHON picks the interpreter (default python3). RUSTFLAGS is honoured:
# `RUSTFLAGS="-C target-cpu=native" bash bench/run.sh` builds for this CPU
# (the table says which build it measured).
set -euo pipefail
cd "$(dirname "$0")/.."

# `bash bench/run.sh --million`, instead of the table: reduce_size with
# nothing to remove over a generated cache of 1,000,000 real entries (memo
# only; a minute or two, and ~4 GiB in a fresh top-level directory that is
# removed afterwards). See memo-core/benches/manage.rs.
for arg in "$@"; do
    if [ "$arg" = --million ]; then
        exec cargo bench -p memo-core --bench manage -- --million
    fi
done

python=${PYTHON:-python3}
fail() {
    echo "bench/run.sh: $*" >&2
    exit 1
}

command -v "$python" >/dev/null || fail "no $python on PATH: install Python 3 (or set PYTHON=/path/to/python)"
if ! "$python" -c 'import joblib, numpy, xxhash' 2>/dev/null; then
    echo "bench/run.sh: installing joblib, numpy and xxhash with pip" >&2
    "$python" -m pip install --quiet joblib numpy xxhash ||
        fail "'$python -m pip install joblib numpy xxhash' failed: is pip installed and PyPI reachable?"
    "$python" -c 'import joblib, numpy, xxhash' ||
        fail "joblib, numpy and xxhash still do not import after pip installed them"
fi

cargo run --release --quiet -p memo-bench -- --python "$python" "$@"
