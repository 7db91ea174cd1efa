#!/usr/bin/env bash
# The whole test suite, on a fresh machine: `bash scripts/test.sh`.
# Starts whatever the tests need itself; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Unit, behaviour, multi-process and compile-error (trybuild) tests, and the
# doctests of the README and the guide.
cargo test --workspace --all-targets
cargo test --workspace --doc
