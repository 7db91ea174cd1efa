//! memo's management rows: 10k tiny entries populated, hit at random,
//! measured on disk and reduced; and a whole process making one hit.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{LazyLock, OnceLock};
use std::time::Instant;

use memory::Memory;
use memory::manage::Limits;

use crate::{Measurement, Plan, Workload, median};

/// The cache of [`tiny`], set once per process.
static DIR: OnceLock<PathBuf> = OnceLock::new();
static MANY: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(DIR.get().expect("the directory is set first")));

#[memory::cache(memory = MANY)]
fn tiny(x: u64) -> u64 {
    x
}

/// `--one-hit DIR`: one call of [`tiny`] on a cache at `dir` (a hit once
/// the first process stored it).
pub fn one_hit(dir: &Path) {
    DIR.set(dir.to_owned()).expect("set once");
    println!("{}", tiny(black_box(1)));
}

/// The management rows, on caches below `root`.
pub fn run(root: &Path, plan: &Plan) -> Result<Vec<Measurement>, String> {
    let mut results = Vec::new();
    let mut record = |workload: Workload, value: f64| {
        eprintln!("  memo   {:<42} {value:.6}", workload.label());
        results.push(Measurement {
            workload,
            mib: 0,
            value,
        });
    };
    let many = root.join("many");
    DIR.set(many.clone()).expect("run once");
    let n = plan.entries as u64;

    let populate: Vec<f64> = (0..n).map(|i| seconds(|| tiny(black_box(i)))).collect();
    record(Workload::Populate, median(populate));
    MANY.flush_usage().map_err(|e| e.to_string())?;
    record(Workload::DiskPerEntry, disk_bytes(&many) as f64 / n as f64);

    sync();
    let hits: Vec<f64> = (0..plan.small_hits as u64)
        .map(|i| {
            let key = mix(i) % n;
            seconds(|| tiny(black_box(key)))
        })
        .collect();
    record(Workload::HitAmongMany, median(hits));

    let reduce = |items: u64| {
        let started = Instant::now();
        let reduced = MANY
            .reduce_size(Limits::new().items(items))
            .map_err(|e| format!("reduce_size: {e}"))?;
        Ok::<_, String>((started.elapsed().as_secs_f64(), reduced.removed.entries))
    };
    let mut nothing = Vec::new();
    for _ in 0..5 {
        let (elapsed, removed) = reduce(2 * n)?;
        if removed != 0 {
            return Err(format!("reduce_size to {} removed {removed}", 2 * n));
        }
        nothing.push(elapsed);
    }
    record(Workload::ReduceNothing, median(nothing));
    let (half, removed) = reduce(n / 2)?;
    if removed != n / 2 {
        return Err(format!("reduce_size to {} removed {removed}", n / 2));
    }
    record(Workload::ReduceHalf, half);

    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let process = root.join("process");
    let mut command = Command::new(exe);
    command.arg("--one-hit").arg(&process);
    record(
        Workload::ProcessHit,
        process_median(&mut command, plan.processes)?,
    );
    Ok(results)
}

/// The median wall time of `runs` runs of `command`, after one untimed
/// run (the miss that stores the entry).
pub fn process_median(command: &mut Command, runs: usize) -> Result<f64, String> {
    let mut once = || {
        let started = Instant::now();
        let output = command
            .output()
            .map_err(|e| format!("cannot run {command:?}: {e}"))?;
        let elapsed = started.elapsed().as_secs_f64();
        if !output.status.success() {
            return Err(format!(
                "{command:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(elapsed)
    };
    once()?;
    let times = (0..runs).map(|_| once()).collect::<Result<Vec<_>, _>>()?;
    Ok(median(times))
}

/// Allocated bytes of every file and directory below `dir`, itself
/// included (what `du` counts).
pub fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        if let Ok(meta) = std::fs::symlink_metadata(&dir) {
            total += meta.blocks() * 512;
        }
        for child in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = child.metadata() else { continue };
            if meta.is_dir() {
                pending.push(child.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

/// A pseudo-random number (splitmix64), for keys drawn at random.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn seconds<R>(call: impl FnOnce() -> R) -> f64 {
    let started = Instant::now();
    let out = black_box(call());
    let elapsed = started.elapsed().as_secs_f64();
    drop(out);
    elapsed
}

fn sync() {
    let _ = Command::new("sync").status();
}
