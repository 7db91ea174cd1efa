//! memo and joblib on the same workloads, in one run on one machine:
//! `bash bench/run.sh` (or `cargo run --release -p memo-bench -- --help`).
//!
//! The memo side runs in this process (`memo_side.rs`); the joblib side is
//! `bench/joblib_bench.py`, run with the same plan (`joblib_side.rs`). Both
//! time each call alone and report medians; management rows (`manage.rs`)
//! time populating, hitting and reducing 10k entries and a whole process
//! making one hit. The machine's own limits (`limits.rs`, and xxh3-128 in
//! Python's C `xxhash` module) are measured in the same run, and each memo
//! row is shown as a fraction of its limit. `report.rs` prints one
//! markdown table and writes it to `bench/results.md`.

mod joblib_side;
mod limits;
mod manage;
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
    /// [`SmallHit`](Workload::SmallHit) on a `Memory` with the in-process
    /// tier (`Memory::in_process`): memo only, joblib has no equivalent.
    SmallHitInProcess,
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
    /// A tiny function called with 10k new keys in a row on an empty cache:
    /// the median call.
    Populate,
    /// The same function called with keys drawn at random among its 10k
    /// entries.
    HitAmongMany,
    /// Bytes the cache takes on disk (allocated blocks of every file and
    /// directory in it) per tiny entry, after populating.
    DiskPerEntry,
    /// `reduce_size` to 20k items over the 10k entries: nothing to remove.
    ReduceNothing,
    /// `reduce_size` to 5k items over the 10k entries: half of them go.
    ReduceHalf,
    /// A new process that makes one hit and exits, timed from outside.
    ProcessHit,
}

impl Workload {
    /// Every workload, in table order.
    const ALL: [Workload; 14] = [
        Workload::SmallHit,
        Workload::SmallHitInProcess,
        Workload::SmallMiss,
        Workload::ArgHit,
        Workload::OutHitLoad,
        Workload::OutHitMmap,
        Workload::OutHitMmapTouch,
        Workload::OutMiss,
        Workload::Populate,
        Workload::HitAmongMany,
        Workload::DiskPerEntry,
        Workload::ReduceNothing,
        Workload::ReduceHalf,
        Workload::ProcessHit,
    ];

    fn label(self) -> &'static str {
        match self {
            Workload::SmallHit => "small hit",
            Workload::SmallHitInProcess => "small hit, in-process tier",
            Workload::SmallMiss => "small miss",
            Workload::ArgHit => "array-argument hit",
            Workload::OutHitLoad => "array-output hit, full load",
            Workload::OutHitMmap => "array-output hit, mmap",
            Workload::OutHitMmapTouch => "array-output hit, mmap + touch every page",
            Workload::OutMiss => "array-output miss (store only)",
            Workload::Populate => "populate 10k entries, per call",
            Workload::HitAmongMany => "hit, random key among 10k entries",
            Workload::DiskPerEntry => "bytes on disk per tiny entry",
            Workload::ReduceNothing => "reduce_size over 10k, nothing to remove",
            Workload::ReduceHalf => "reduce_size over 10k, down to half",
            Workload::ProcessHit => "process start + one hit (whole process)",
        }
    }

    /// Whether the workload runs once per array size.
    fn sized(self) -> bool {
        matches!(
            self,
            Workload::ArgHit
                | Workload::OutHitLoad
                | Workload::OutHitMmap
                | Workload::OutHitMmapTouch
                | Workload::OutMiss
        )
    }

    /// Whether the value is bytes, not seconds.
    fn in_bytes(self) -> bool {
        self == Workload::DiskPerEntry
    }

    /// The machine limit a memo row is compared with, if any.
    fn limit(self) -> Option<Limit> {
        match self {
            Workload::ArgHit => Some(Limit::Xxh3),
            Workload::OutHitLoad => Some(Limit::Pread),
            Workload::OutMiss => Some(Limit::Write),
            Workload::SmallHit => Some(Limit::SmallRead),
            Workload::SmallMiss => Some(Limit::SmallCreate),
            _ => None,
        }
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
    /// The array size; 0 for the workloads without one.
    mib: usize,
    /// The median call in seconds (bytes for [`Workload::DiskPerEntry`]).
    value: f64,
}

/// What the machine itself does with the bytes of an array: the bound of
/// each throughput row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Limit {
    /// xxh3-128 of the bytes on one core, by the C library's best path
    /// (Python's `xxhash` module, which picks its SIMD path at run time).
    Xxh3,
    /// A plain `write` of the bytes into a new file (the page cache).
    Write,
    /// A plain `pread` of a cached file into freshly allocated memory.
    Pread,
    /// `memcpy` between two buffers already in memory.
    Memcpy,
    /// Opening a small cached file, one `read` of it, closing it: what any
    /// hit that reads an entry file must do.
    SmallRead,
    /// Creating a new small file, one `write`, closing it (not crash-safe:
    /// a crash can leave it half-written).
    SmallCreate,
    /// The crash-safe way, which memo uses: an anonymous file
    /// (`O_TMPFILE`), one `write`, `linkat` under its name.
    SmallCreateAtomic,
}

impl Limit {
    const ALL: [Limit; 7] = [
        Limit::Xxh3,
        Limit::Write,
        Limit::Pread,
        Limit::Memcpy,
        Limit::SmallRead,
        Limit::SmallCreate,
        Limit::SmallCreateAtomic,
    ];

    fn label(self) -> &'static str {
        match self {
            Limit::Xxh3 => "xxh3-128, one core (Python xxhash: the C library)",
            Limit::Write => "plain write into the page cache",
            Limit::Pread => "plain pread into fresh memory",
            Limit::Memcpy => "memcpy",
            Limit::SmallRead => "open, read, close a small cached file",
            Limit::SmallCreate => "create a new small file, write, close",
            Limit::SmallCreateAtomic => "new small file, crash-safe (O_TMPFILE, write, linkat)",
        }
    }

    /// Whether the limit is per byte of an array (else a fixed cost, at
    /// size 0).
    fn sized(self) -> bool {
        !matches!(
            self,
            Limit::SmallRead | Limit::SmallCreate | Limit::SmallCreateAtomic
        )
    }
}

/// One limit at one size, in seconds for the whole array (median).
#[derive(Debug, Clone, Deserialize)]
struct LimitMeasurement {
    limit: Limit,
    mib: usize,
    seconds: f64,
}

/// Sizes and repetitions, shared by both sides.
#[derive(Debug, Clone)]
struct Plan {
    sizes_mib: Vec<usize>,
    small_hits: usize,
    small_misses: usize,
    /// Entries of the management rows.
    entries: usize,
    /// Whole processes timed for [`Workload::ProcessHit`].
    processes: usize,
    quick: bool,
}

impl Plan {
    /// Calls timed per array workload: many for small arrays, a few for the
    /// large ones (a 1 GiB joblib call takes seconds).
    fn reps(&self, mib: usize) -> usize {
        let reps: usize = match mib {
            0..=4 => 50,
            5..=64 => 20,
            _ => 5,
        };
        if self.quick { reps.div_ceil(2) } else { reps }
    }
}

struct Args {
    plan: Plan,
    python: String,
    out: PathBuf,
}

const USAGE: &str = "\
memo-bench: memo and joblib on the same workloads, one table of medians.

usage: memo-bench [--quick] [--sizes 1,16,256,1024] [--python python3] [--out bench/results.md]

  --quick    a few minutes on a small machine: sizes 16,256 unless given,
             fewer repetitions
  --sizes    array sizes in MiB (default 1,16,256,1024)
  --python   the Python with joblib, numpy and xxhash (default python3)
  --out      where the table is written as well (default bench/results.md)

  memo-bench --one-hit DIR   (used by the harness itself) one call of the
             management rows' function in a cache at DIR, then exit";

impl Args {
    /// The arguments, or `None` if help was asked for.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
        let mut parsed = Args {
            plan: Plan {
                sizes_mib: vec![1, 16, 256, 1024],
                small_hits: 2000,
                small_misses: 500,
                entries: 10_000,
                processes: 10,
                quick: false,
            },
            python: "python3".into(),
            out: concat!(env!("CARGO_MANIFEST_DIR"), "/results.md").into(),
        };
        let mut sizes_given = false;
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Ok(None);
            }
            if flag == "--quick" {
                parsed.plan.quick = true;
                parsed.plan.small_hits = 1000;
                parsed.plan.small_misses = 200;
                parsed.plan.processes = 5;
                if !sizes_given {
                    parsed.plan.sizes_mib = vec![16, 256];
                }
                continue;
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
            match flag.as_str() {
                "--sizes" => {
                    sizes_given = true;
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
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().map(String::as_str) == Some("--one-hit") {
        let dir = argv.nth(1).ok_or("--one-hit needs a directory")?;
        manage::one_hit(dir.as_ref());
        return Ok(());
    }
    let Some(args) = Args::parse(argv)? else {
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
    let mut memo = memo_side::run(memo_dir.path(), &args.plan);
    memo.extend(manage::run(memo_dir.path(), &args.plan)?);
    eprintln!("joblib side, caching in {}", joblib_dir.path().display());
    let mut joblib = joblib_side::run(&args.python, joblib_dir.path(), &args.plan)?;
    joblib.results.push(joblib_side::process_hit(
        &args.python,
        joblib_dir.path(),
        &args.plan,
    )?);
    eprintln!("machine limits");
    let mut limits = limits::run(memo_dir.path(), &args.plan);
    limits.extend(joblib.limits.iter().cloned());

    let table = report::render(
        &machine,
        &joblib.versions,
        &args.plan,
        &memo,
        &joblib.results,
        &limits,
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
