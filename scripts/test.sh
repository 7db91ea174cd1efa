#!/usr/bin/env bash
# The whole test suite, on a fresh machine: `bash scripts/test.sh`.
# Starts whatever the tests need itself; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# The S3 tests (tests/s3.rs) run against a real S3-compatible server: moto's,
# on 127.0.0.1, installed if missing, stopped when this script ends. If it
# cannot start, this fails saying why (scripts/s3-server.sh).
# shellcheck source=scripts/s3-server.sh
source scripts/s3-server.sh
memo_start_s3

# Unit, behaviour, multi-process and compile-error (trybuild) tests, and the
# doctests of the README and the guide.
cargo test --workspace --all-targets
cargo test --workspace --doc
# memo-core on its own, without the `s3` feature the workspace turns on: an
# s3:// location must then be a clear error, not a directory.
cargo test -p memo-core --lib store::
