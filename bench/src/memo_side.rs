//! The memo side: each workload on a `memory::Memory` of its own, every call
//! timed alone with `Instant`, the median kept. What a call returns is
//! dropped after the clock stops, as on the joblib side.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant};

use memory::{Array, Memory, MmapMode};

use crate::{MIB, Measurement, Plan, Workload, median};

/// The directory the caches below live in, set by [`run`].
static ROOT: OnceLock<PathBuf> = OnceLock::new();

fn memory_in(name: &str) -> Memory {
    Memory::new(ROOT.get().expect("run sets the root first").join(name))
}

static SMALL: LazyLock<Memory> = LazyLock::new(|| memory_in("small"));
static KEPT: LazyLock<Memory> = LazyLock::new(|| memory_in("kept").in_process("64M"));
static ARGS: LazyLock<Memory> = LazyLock::new(|| memory_in("args"));
static LOADED: LazyLock<Memory> = LazyLock::new(|| memory_in("loaded"));
static MAPPED: LazyLock<Memory> =
    LazyLock::new(|| memory_in("mapped").mmap_mode(MmapMode::ReadOnly));
static WRITES: LazyLock<Memory> = LazyLock::new(|| memory_in("writes"));

#[memory::cache(memory = SMALL)]
fn f(x: u64) -> u64 {
    x
}

#[memory::cache(memory = KEPT)]
fn f_kept(x: u64) -> u64 {
    x
}

#[memory::cache(memory = ARGS)]
fn arg_len(a: &[f64]) -> usize {
    a.len()
}

#[memory::cache(memory = LOADED)]
fn produce_loaded(mib: usize) -> Array<f64> {
    ramp(mib)
}

#[memory::cache(memory = MAPPED)]
fn produce_mapped(mib: usize) -> Array<f64> {
    ramp(mib)
}

/// Returns the array it is handed (not part of the key): a miss times
/// storing it, nothing else.
#[memory::cache(memory = WRITES, ignore = ["precomputed"])]
fn store(mib: usize, key: u64, precomputed: Array<f64>) -> Array<f64> {
    let _ = (mib, key);
    precomputed
}

/// `mib` MiB of `f64`: 0.0, 1.0, 2.0, … (numpy's `arange`).
fn ramp(mib: usize) -> Array<f64> {
    (0..mib * MIB / 8).map(|i| i as f64).collect()
}

/// `f64`s per 4 KiB page: reading every this-many-th element touches each
/// page once.
const PAGE_F64: usize = 4096 / 8;

pub fn run(root: &Path, plan: &Plan) -> Vec<Measurement> {
    ROOT.set(root.to_owned()).expect("run is called once");
    let mut results = Vec::new();
    let mut record = |workload, mib, samples| {
        let measured = Measurement {
            workload,
            mib,
            value: median(samples),
        };
        eprintln!(
            "  memo   {:<42} {:>5} MiB  {:.6} s",
            workload.label(),
            mib,
            measured.value
        );
        results.push(measured);
    };

    f(1);
    f(1);
    record(
        Workload::SmallHit,
        0,
        samples(plan.small_hits, |_| timed(|| f(black_box(1))).0),
    );
    f_kept(1);
    f_kept(1);
    record(
        Workload::SmallHitInProcess,
        0,
        samples(plan.small_hits, |_| timed(|| f_kept(black_box(1))).0),
    );
    record(
        Workload::SmallMiss,
        0,
        samples(plan.small_misses, |i| {
            timed(|| f(black_box(1_000_000 + i as u64))).0
        }),
    );

    for &mib in &plan.sizes_mib {
        let reps = plan.reps(mib);

        let a = ramp(mib);
        assert_eq!(arg_len(&a), a.len());
        sync();
        arg_len(&a);
        record(
            Workload::ArgHit,
            mib,
            samples(reps, |_| timed(|| arg_len(black_box(&a))).0),
        );
        drop(a);

        produce_loaded(mib);
        sync();
        assert!(!produce_loaded(mib).is_mapped());
        record(
            Workload::OutHitLoad,
            mib,
            samples(reps, |_| timed(|| produce_loaded(black_box(mib))).0),
        );

        produce_mapped(mib);
        sync();
        assert!(produce_mapped(mib).is_mapped());
        record(
            Workload::OutHitMmap,
            mib,
            samples(reps, |_| timed(|| produce_mapped(black_box(mib))).0),
        );
        record(
            Workload::OutHitMmapTouch,
            mib,
            samples(reps, |_| {
                timed(|| {
                    let array = produce_mapped(black_box(mib));
                    array.iter().step_by(PAGE_F64).sum::<f64>()
                })
                .0
            }),
        );

        // The miss hands back the array it stored, which is the next call's
        // input; the entry is deleted after each call, outside the timing.
        let mut precomputed = Some(ramp(mib));
        let mut miss = |key: u64| {
            let input = precomputed.take().expect("handed back by the last call");
            let (elapsed, output) = timed(|| store(mib, key, input));
            precomputed = Some(output);
            WRITES.clear().expect("delete the miss's entry");
            elapsed
        };
        miss(u64::MAX); // a warm-up
        record(Workload::OutMiss, mib, samples(reps, |i| miss(i as u64)));
    }
    results
}

/// `reps` timings, in seconds, of `once(i)` for `i` in `0..reps`.
fn samples(reps: usize, mut once: impl FnMut(usize) -> Duration) -> Vec<f64> {
    (0..reps).map(|i| once(i).as_secs_f64()).collect()
}

/// How long `call` takes, and what it returned (to be dropped after the
/// clock stopped).
fn timed<R>(call: impl FnOnce() -> R) -> (Duration, R) {
    let start = Instant::now();
    let out = black_box(call());
    (start.elapsed(), out)
}

/// Flushes what the warm-up calls wrote, so that no writeback runs during
/// the timed calls.
fn sync() {
    let _ = Command::new("sync").status();
}
