//! memo and joblib on the same workloads, in one run on one machine:
//! `bash bench/run.sh` (or `cargo run --release -p memo-bench -- --help`).
//!
//! The memo side runs in this process (`memo_side.rs`); the joblib side is
//! `bench/joblib_bench.py`, run with the same plan (`joblib_side.rs`). Both
//! time each call alone and report medians; `report.rs` prints one markdown
//! table of the two and their ratio, and writes it to `bench/results.md`.

mod joblib_side;
mod memo_side;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Deserialize;

const MIB: usize = 1 << 20;

/// What is measured: the same set, under the same names, on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Workload {
    /// `f(x: u64) -> u64` called with an argument seen before.
    SmallHit,
    /// `f` called with a new argument: one entry written per call.
    SmallMiss,
    /// A function of an `f64` array returning its length, called again with
    /// an equal array: hashing the argument is the work.
    ArgHit,
    /// A function of a small argument returning an array, hit, loaded in
    /// full (memo: read and checksum; joblib: `mmap_mode=None`).
    OutHitLoad,
    /// The same, memory-mapped (memo: `MmapMode::ReadOnly`; joblib:
    /// `mmap_mode='r'`); elements untouched.
    OutHitMmap,
    /// The mapped hit, then one element read on every 4 KiB page.
    OutHitMmapTouch,
    /// The array-returning function called with a new key; its body returns
    /// an array computed beforehand, so the timing is the cache's work only.
    OutMiss,
}

impl Workload {
    /// Every workload, in table order.
    const ALL: [Workload; 7] = [
        Workload::SmallHit,
        Workload::SmallMiss,
        Workload::ArgHit,
        Workload::OutHitLoad,
        Workload::OutHitMmap,
        Workload::OutHitMmapTouch,
        Workload::OutMiss,
    ];

    fn label(self) -> &'static str {
        match self {
            Workload::SmallHit => "small hit",
            Workload::SmallMiss => "small miss",
            Workload::ArgHit => "array-argument hit",
            Workload::OutHitLoad => "array-output hit, full load",
            Workload::OutHitMmap => "array-output hit, mmap",
            Workload::OutHitMmapTouch => "array-output hit, mmap + touch every page",
            Workload::OutMiss => "array-output miss (store only)",
        }
    }

    /// Whether the workload runs once per array size.
    fn sized(self) -> bool {
        !matches!(self, Workload::SmallHit | Workload::SmallMiss)
    }

    /// Whether every byte of the array is processed, so that a throughput
    /// means something (a map's cost does not grow with the array, and
    /// touching a page reads one value of 512).
    fn reads_every_byte(self) -> bool {
        matches!(
            self,
            Workload::ArgHit | Workload::OutHitLoad | Workload::OutMiss
        )
    }
}

/// One median, from either side.
#[derive(Debug, Clone, Deserialize)]
struct Measurement {
    workload: Workload,
    /// The array size; 0 for the small workloads.
    mib: usize,
    /// The median call, in seconds.
    median_s: f64,
}

/// Sizes and repetitions, shared by both sides.
#[derive(Debug, Clone)]
struct Plan {
    sizes_mib: Vec<usize>,
    small_hits: usize,
    small_misses: usize,
}

impl Plan {
    /// Calls timed per array workload: many for small arrays, a few for the
    /// large ones (a 1 GiB joblib call takes seconds).
    fn reps(&self, mib: usize) -> usize {
        match mib {
            0..=4 => 50,
            5..=64 => 20,
            _ => 5,
        }
    }
}

struct Args {
    plan: Plan,
    python: String,
    out: PathBuf,
}

const USAGE: &str = "\
memo-bench: memo and joblib on the same workloads, one table of medians.

usage: memo-bench [--sizes 1,16,256,1024] [--python python3] [--out bench/results.md]

  --sizes    array sizes in MiB (default 1,16,256,1024)
  --python   the Python with joblib and numpy (default python3)
  --out      where the table is written as well (default bench/results.md)";

impl Args {
    /// The arguments, or `None` if help was asked for.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
        let mut parsed = Args {
            plan: Plan {
                sizes_mib: vec![1, 16, 256, 1024],
                small_hits: 2000,
                small_misses: 500,
            },
            python: "python3".into(),
            out: concat!(env!("CARGO_MANIFEST_DIR"), "/results.md").into(),
        };
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Ok(None);
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
            match flag.as_str() {
                "--sizes" => {
                    parsed.plan.sizes_mib = value
                        .split(',')
                        .map(|size| size.trim().parse().ok().filter(|&mib| mib > 0))
                        .collect::<Option<_>>()
                        .ok_or_else(|| format!("--sizes takes MiB like 1,16: {value:?}"))?;
                }
                "--python" => parsed.python = value,
                "--out" => parsed.out = value.into(),
                _ => return Err(format!("unknown argument {flag}\n\n{USAGE}")),
            }
        }
        Ok(Some(parsed))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memo-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let Some(args) = Args::parse(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    // Each side caches in a fresh top-level directory (creating files is
    // slow for minutes near recently deleted ones, such as in /tmp after a
    // build); both are removed when this returns.
    let memo_dir = fresh_dir("memo-bench-memo-")?;
    let joblib_dir = fresh_dir("memo-bench-joblib-")?;
    let machine = report::Machine::probe();

    eprintln!("memo side, caching in {}", memo_dir.path().display());
    let memo = memo_side::run(memo_dir.path(), &args.plan);
    eprintln!("joblib side, caching in {}", joblib_dir.path().display());
    let joblib = joblib_side::run(&args.python, joblib_dir.path(), &args.plan)?;

    let table = report::render(
        &machine,
        &joblib.versions,
        &args.plan,
        &memo,
        &joblib.results,
    );
    print!("{table}");
    std::fs::write(&args.out, &table)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    eprintln!("(also written to {})", args.out.display());
    Ok(())
}

/// A new directory at the top of the file system when we may create one
/// there, else in the temp dir.
fn fresh_dir(prefix: &str) -> Result<tempfile::TempDir, String> {
    let fresh =
        |parent: &std::path::Path| tempfile::Builder::new().prefix(prefix).tempdir_in(parent);
    fresh("/".as_ref())
        .or_else(|_| fresh(&std::env::temp_dir()))
        .map_err(|e| format!("cannot create a cache directory: {e}"))
}

/// The median of `samples`, which is not empty.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}
