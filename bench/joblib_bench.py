"""joblib's side of memo's side-by-side benchmark.

The workloads of bench/src/memo_side.rs, on joblib.Memory: every call timed
alone with time.perf_counter(), the median kept, what a call returns dropped
after the clock stops. `bash bench/run.sh` runs both sides; this script alone:

    python3 bench/joblib_bench.py --dir /fresh-dir --sizes 1,16 --reps 50,20

prints one JSON object on stdout (versions, medians, and the machine's
xxh3-128 speed by the `xxhash` module's C library), progress on stderr.
`--one-hit DIR` makes one call of the management rows' function in a cache
at DIR and exits (timed from outside as a whole process).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import joblib
import numpy as np
import xxhash

MIB = 1 << 20
PAGE_F64 = 4096 // 8  # float64s per 4 KiB page: one read per page

# The cached functions. `store` returns an array computed beforehand (not
# part of its key), so a miss times storing it, nothing else.
PRECOMPUTED = None


def f(x):
    return x


def arg_len(a):
    return a.shape[0]


def produce(mib):
    return ramp(mib)


def store(mib, key):
    return PRECOMPUTED


def tiny(x):
    return x


def disk_bytes(top):
    """Allocated bytes of every file and directory below `top` (du's count)."""
    total = os.lstat(top).st_blocks * 512
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def mix(i):
    """splitmix64, as memo's side draws its random keys."""
    m = (1 << 64) - 1
    z = (i + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def ramp(mib):
    """`mib` MiB of float64: 0.0, 1.0, 2.0, ... (what memo's side builds)."""
    return np.arange(mib * MIB // 8, dtype=np.float64)


def timed(call):
    """How long `call()` takes; its result is dropped after the clock stops."""
    start = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="a fresh cache directory (required unless --one-hit)")
    parser.add_argument("--sizes", default="1,16", help="array sizes in MiB")
    parser.add_argument("--reps", default="50,20", help="calls timed per size")
    parser.add_argument("--small-hits", type=int, default=2000)
    parser.add_argument("--small-misses", type=int, default=500)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--one-hit", help="one call of tiny(1) cached at this directory")
    args = parser.parse_args()
    if args.one_hit:
        print(joblib.Memory(args.one_hit, verbose=0).cache(tiny)(1))
        return
    if not args.dir:
        parser.error("--dir is required")
    sizes = [int(s) for s in args.sizes.split(",")]
    reps = [int(r) for r in args.reps.split(",")]

    def memory(name, mmap_mode=None):
        return joblib.Memory(
            os.path.join(args.dir, name), mmap_mode=mmap_mode, verbose=0
        )

    results = []
    limits = []

    def record(workload, mib, samples):
        median = statistics.median(samples)
        results.append({"workload": workload, "mib": mib, "value": median})
        print(f"  joblib {workload:<42} {mib:>5} MiB  {median:.6f} s", file=sys.stderr)

    cached_f = memory("small").cache(f)
    cached_f(1)
    cached_f(1)
    record("small_hit", 0, [timed(lambda: cached_f(1)) for _ in range(args.small_hits)])
    record(
        "small_miss",
        0,
        [timed(lambda: cached_f(1_000_000 + i)) for i in range(args.small_misses)],
    )

    cached_arg_len = memory("args").cache(arg_len)
    loaded = memory("loaded").cache(produce)
    mapped = memory("mapped", mmap_mode="r").cache(produce)
    stored = memory("writes").cache(store)
    global PRECOMPUTED
    for mib, n in zip(sizes, reps):
        a = ramp(mib)
        assert cached_arg_len(a) == a.shape[0]
        os.sync()
        cached_arg_len(a)
        record("arg_hit", mib, [timed(lambda: cached_arg_len(a)) for _ in range(n)])
        del a

        loaded(mib)
        os.sync()
        assert not isinstance(loaded(mib), np.memmap)
        record("out_hit_load", mib, [timed(lambda: loaded(mib)) for _ in range(n)])

        mapped(mib)
        os.sync()
        assert isinstance(mapped(mib), np.memmap)
        record("out_hit_mmap", mib, [timed(lambda: mapped(mib)) for _ in range(n)])
        record(
            "out_hit_mmap_touch",
            mib,
            [timed(lambda: mapped(mib)[::PAGE_F64].sum()) for _ in range(n)],
        )

        # The entry is deleted after each call, outside the timing.
        PRECOMPUTED = ramp(mib)

        def miss(key):
            elapsed = timed(lambda: stored(mib, key))
            stored.call_and_shelve(mib, key).clear()
            return elapsed

        miss(-1)  # a warm-up
        record("out_miss", mib, [miss(key) for key in range(n)])
        PRECOMPUTED = None

        # The machine's limit for hashing: xxh3-128 on one core, by the C
        # library (which picks its best SIMD path at run time).
        data = ramp(mib).tobytes()
        xxhash.xxh3_128_digest(data)
        hashed = [timed(lambda: xxhash.xxh3_128_digest(data)) for _ in range(n)]
        median = statistics.median(hashed)
        limits.append({"limit": "xxh3", "mib": mib, "seconds": median})
        print(f"  limit  {'xxh3-128 (Python xxhash)':<42} {mib:>5} MiB  {median:.6f} s", file=sys.stderr)
        del data

    # Management: 10k tiny entries populated, hit at random, measured on
    # disk, reduced.
    many_dir = os.path.join(args.dir, "many")
    many = joblib.Memory(many_dir, verbose=0)
    cached_tiny = many.cache(tiny)
    entries = args.entries
    record("populate", 0, [timed(lambda: cached_tiny(i)) for i in range(entries)])
    results.append({"workload": "disk_per_entry", "mib": 0, "value": disk_bytes(many_dir) / entries})
    os.sync()
    record(
        "hit_among_many",
        0,
        [timed(lambda: cached_tiny(mix(i) % entries)) for i in range(args.small_hits)],
    )
    record(
        "reduce_nothing",
        0,
        [timed(lambda: many.reduce_size(items_limit=2 * entries)) for _ in range(5)],
    )
    record("reduce_half", 0, [timed(lambda: many.reduce_size(items_limit=entries // 2))])

    versions = {
        "python": platform.python_version(),
        "joblib": joblib.__version__,
        "numpy": np.__version__,
    }
    versions["xxhash"] = xxhash.VERSION
    json.dump({"versions": versions, "results": results, "limits": limits}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
