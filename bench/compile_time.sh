#!/usr/bin/env bash
# CPU time `#[memory::cache]` adds per function to a debug build:
# `bash bench/compile_time.sh [FUNCTIONS]` (default 200).
#
# Builds bench/compile-time (FUNCTIONS generated functions) twice per
# variant, plain and cached, dependencies already built; prints the least
# CPU time (user + system) of each and the difference per function.
set -euo pipefail
cd "$(dirname "$0")/.."
export MEMO_COMPILE_FUNCTIONS=${1:-200}
reps=${REPS:-2}

cpu_seconds() { # the least CPU time of $reps clean builds of the crate
    local best=""
    cargo build -q -p memo-compile-time "$@" # dependencies, once
    for _ in $(seq "$reps"); do
        cargo clean -q -p memo-compile-time
        local t
        t=$( { /usr/bin/time -f "%U %S" cargo build -q -p memo-compile-time "$@" 2>&1 >/dev/null; } |
            tail -1 | awk '{ print $1 + $2 }')
        if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$t
        fi
    done
    echo "$best"
}

# Other work on the machine inflates CPU times: say how busy it was.
load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
plain=$(cpu_seconds)
cached=$(cpu_seconds --features cached)
load_after=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
awk -v n="$MEMO_COMPILE_FUNCTIONS" -v p="$plain" -v c="$cached" 'BEGIN {
    printf "%d functions, debug build, CPU (user + system), least of '"$reps"'", n
    printf " (load average '"$load_before"' before, '"$load_after"' after):\n"
    printf "  plain   %.2f s\n  cached  %.2f s\n", p, c
    printf "  #[memory::cache] costs %.1f ms of CPU per function\n", (c - p) * 1000 / n
}'
