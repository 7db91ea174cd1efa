//! Managing a large cache: how long `memo ls` (a walk plus usage records),
//! `memo gc --dry-run`, and `reduce_size` take on a generated cache, and
//! whether a hit slows down as a function's entries grow.
//!
//! ```text
//! cargo bench -p memo-core --bench manage              # 100,000 entries
//! cargo bench -p memo-core --bench manage -- --million # reduce_size over 1M only (bash bench/run.sh --million)
//! MEMO_BENCH_ENTRIES=1000000 cargo bench -p memo-core --bench manage
//! MEMO_BENCH_ENTRIES=0 MEMO_BENCH_HIT_ENTRIES=1000000 cargo bench -p memo-core --bench manage  # hits only
//! ```
//!
//! The cache is written directly (`memory::entry::encode`, in the on-disk
//! layout, with a usage log) into a fresh directory at the top of the file
//! system when we may create one there (file creation slows down for
//! minutes near directories where many files were just deleted, such as
//! `/tmp` after a build), and removed afterwards. Prints medians.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime};

use memory::Memory;
use memory::entry::{ArgRecord, EntryMeta};
use memory::manage::{Cache, Limits, NoProgress, ReduceOptions, UsageRecord};

/// Functions the generated entries are spread over (one code version each,
/// plus a stale version of the first holding a tenth of its entries).
const FUNCTIONS: usize = 4;

fn fresh_dir(prefix: &str) -> PathBuf {
    let fresh = |parent: &Path| tempfile::Builder::new().prefix(prefix).tempdir_in(parent);
    fresh("/".as_ref())
        .or_else(|_| fresh(&std::env::temp_dir()))
        .expect("a benchmark directory")
        .keep()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// CPU time (user and system) this process used so far.
fn cpu_time() -> Duration {
    // SAFETY: `getrusage` writes a whole `rusage` into the zeroed value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let of = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    of(usage.ru_utime) + of(usage.ru_stime)
}

/// The median wall time and the median CPU time of `runs` runs of `f`: on
/// a loaded machine, the CPU time is what the work costs.
fn time_and_cpu<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (started, cpu_started) = (Instant::now(), cpu_time());
        black_box(f());
        wall.push(started.elapsed());
        cpu.push(cpu_time() - cpu_started);
    }
    (median(wall), median(cpu))
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                black_box(f());
                started.elapsed()
            })
            .collect(),
    )
}

fn meta(identity: &str, fingerprint: u128, key: u128) -> EntryMeta {
    EntryMeta {
        deps: Vec::new(),
        identity: identity.to_owned(),
        fingerprint: format!("{fingerprint:032x}"),
        output_type: "alloc::vec::Vec<f64>".to_owned(),
        call: format!("simulate({})", key as u32),
        args: vec![ArgRecord {
            name: "seed".to_owned(),
            digest: format!("{:032x}", key.rotate_left(17)),
        }],
        type_args: Vec::new(),
        created_ms: 1_700_000_000_000 + (key as u64 % 1_000_000_000),
        duration_s: 0.25,
        origin: Default::default(),
    }
}

/// A pseudo-random key (splitmix64 twice).
fn key_of(i: u64) -> u128 {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (u128::from(mix(i)) << 64) | u128::from(mix(i ^ 0xdead_beef))
}

/// Writes `count` entries into `dir/function/version/`, on two threads.
fn write_entries(dir: &Path, identity: &str, fingerprint: u128, keys: &[u128]) {
    let version = dir.join(format!("{:016x}", fingerprint >> 64));
    std::fs::create_dir_all(&version).unwrap();
    let output = vec![0.5f64; 16];
    std::thread::scope(|threads| {
        for half in keys.chunks(keys.len().div_ceil(2).max(1)) {
            let version = &version;
            let output = &output;
            threads.spawn(move || {
                for &key in half {
                    let meta = meta(identity, fingerprint, key);
                    let bytes = memory::entry::encode(
                        key,
                        memory::entry::type_hash(&meta.output_type),
                        &meta,
                        output,
                    )
                    .unwrap();
                    std::fs::write(version.join(format!("{key:032x}.memo")), bytes).unwrap();
                }
            });
        }
    });
}

/// A cache of `entries` entries with a usage record (the miss that made
/// it) for each, and hits on a tenth of them.
fn generate(prefix: &str, entries: u64) -> PathBuf {
    let root = fresh_dir(prefix);
    // Let memo create the directory and its markers.
    Memory::new(&root).clear().unwrap();
    let started = Instant::now();
    let per_function = entries / FUNCTIONS as u64;
    let mut records = Vec::with_capacity(entries as usize * 11 / 10);
    let start = SystemTime::now() - Duration::from_secs(entries);
    for f in 0..FUNCTIONS {
        let identity = format!("bench::f{f}");
        let dir_name = format!("bench.f{f}");
        let current = ((f as u128 + 1) << 64) | 1;
        let keys: Vec<u128> = (0..per_function)
            .map(|i| key_of(i * FUNCTIONS as u64 + f as u64))
            .collect();
        // The first function also has a stale version: a tenth of its
        // entries were computed by older code.
        let (stale, fresh) = if f == 0 {
            keys.split_at(keys.len() / 10)
        } else {
            keys.split_at(0)
        };
        write_entries(&root.join(&dir_name), &identity, current, fresh);
        if !stale.is_empty() {
            write_entries(
                &root.join(&dir_name),
                &identity,
                current | (0xff << 96),
                stale,
            );
        }
        std::fs::write(
            root.join(&dir_name).join(".current"),
            format!("{:016x}\n{identity}\n", current >> 64),
        )
        .unwrap();
        for (i, &key) in keys.iter().enumerate() {
            let time = start + Duration::from_secs(i as u64 * FUNCTIONS as u64 + f as u64);
            records.push(UsageRecord {
                key,
                function_dir: dir_name.clone(),
                time,
                hit: false,
                duration: Some(Duration::from_millis(250)),
                reason: memory::MissKind::FirstCall,
                stored: true,
            });
            if i % 10 == 3 {
                records.push(UsageRecord {
                    key,
                    function_dir: dir_name.clone(),
                    time: time + Duration::from_secs(entries),
                    hit: true,
                    duration: None,
                    reason: memory::MissKind::Unknown,
                    stored: true,
                });
            }
        }
    }
    Cache::open(&root).unwrap().write_usage(&records).unwrap();
    // Entries on disk, as in a cache written long ago: removing files whose
    // blocks were never written back would be unrealistically cheap.
    let _ = std::process::Command::new("sync").status();
    println!(
        "generated {entries} entries in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        root.display()
    );
    root
}

fn scale(entries: u64) {
    let root = generate("memo-scale-", entries);
    let cache = Cache::open(&root).unwrap();
    let runs = if entries > 200_000 { 3 } else { 5 };
    // `memo ls`: merge the usage records, walk the cache, sum per function.
    let ls = time(runs, || {
        let usage = cache.usage().unwrap();
        let scan = cache.scan(&NoProgress).unwrap();
        cache.functions(&scan, &usage)
    });
    let scan = time(runs, || cache.scan(&NoProgress).unwrap());
    // What a periodic `reduce_size` mostly does: find nothing to remove.
    // The walks above kept what they found (`manage/scan_index.rs`), so
    // no run lists a directory again; the median is that of five.
    let (nothing, nothing_cpu) = time_and_cpu(runs, || {
        let reduced = Memory::new(&root)
            .reduce_size(Limits::new().items(entries * 2))
            .unwrap();
        assert_eq!(reduced.removed.entries, 0);
    });
    let half = Limits::new().items(entries / 2).stale(true);
    let dry_run = time(runs, || {
        cache
            .reduce(&half, &ReduceOptions::default().dry_run(true), &NoProgress)
            .unwrap()
    });
    // The first reduction also folds the usage log into the summary.
    let started = Instant::now();
    let reduced = Memory::new(&root).reduce_size(half).unwrap();
    let reduce = started.elapsed();
    assert!(
        reduced.removed.entries >= entries / 2 - FUNCTIONS as u64,
        "{reduced:?}"
    );
    // `memo gc` on what is left: another tenth goes.
    let started = Instant::now();
    let report = cache
        .reduce(
            &Limits::new().items(entries * 4 / 10),
            &ReduceOptions::default(),
            &NoProgress,
        )
        .unwrap();
    let gc = started.elapsed();
    println!(
        "{entries:>9} entries: memo ls {ls:>9.1?}  scan {scan:>9.1?}  gc --dry-run {dry_run:>9.1?}  \
         reduce_size with nothing to remove {nothing:>9.1?} (CPU {nothing_cpu:.1?})  \
         reduce_size to half {reduce:>9.1?} ({} removed)  gc of a tenth {gc:>9.1?} ({} removed)",
        reduced.removed.entries, report.removed.entries,
    );
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&root);
    println!("cleanup {:.1?}", started.elapsed());
}

static SMALL_DIR: LazyLock<PathBuf> = LazyLock::new(|| fresh_dir("memo-hits-"));
static SMALL: LazyLock<Memory> = LazyLock::new(|| Memory::new(&*SMALL_DIR));
static LARGE_DIR: LazyLock<PathBuf> = LazyLock::new(|| fresh_dir("memo-hits-"));
static LARGE: LazyLock<Memory> = LazyLock::new(|| Memory::new(&*LARGE_DIR));

#[memory::cache(memory = SMALL)]
fn beside_few(a: u64) -> u64 {
    a * 3
}

#[memory::cache(memory = LARGE)]
fn beside_many(a: u64) -> u64 {
    a * 3
}

/// Per-call latency of `n` hits of `f(7)`.
fn per_call(f: fn(u64) -> u64, n: u32) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        black_box(f(black_box(7)));
    }
    started.elapsed() / n
}

/// A hit with 10 entries in its directory against one with `extra` more,
/// measured in alternating rounds so both see the same machine.
fn hits(extra: u64) {
    for a in 0..10 {
        beside_few(a);
        beside_many(a);
    }
    // `beside_many`'s version directory, grown to `extra` more entries.
    let version = std::fs::read_dir(LARGE_DIR.join("manage.beside_many"))
        .unwrap()
        .flatten()
        .find(|e| e.file_type().unwrap().is_dir())
        .unwrap()
        .path();
    let keys: Vec<u128> = (0..extra).map(|i| key_of((i + 1) << 40)).collect();
    let fingerprint =
        u128::from_str_radix(&version.file_name().unwrap().to_string_lossy(), 16).unwrap() << 64;
    write_entries(
        version.parent().unwrap(),
        "manage::beside_many",
        fingerprint,
        &keys,
    );
    if extra >= 10_000 {
        // Let writeback settle: the hit itself reads from the page cache.
        let _ = std::process::Command::new("sync").status();
        std::thread::sleep(Duration::from_secs(2));
    }
    per_call(beside_few, 10_000);
    per_call(beside_many, 10_000);
    let (mut few, mut many) = (Vec::new(), Vec::new());
    for _ in 0..21 {
        few.push(per_call(beside_few, 5_000));
        many.push(per_call(beside_many, 5_000));
    }
    println!(
        "hit latency: {:.2?} with 10 entries, {:.2?} with {} entries in the same directory",
        median(few),
        median(many),
        extra + 10
    );
    let _ = std::fs::remove_dir_all(&*SMALL_DIR);
    let _ = std::fs::remove_dir_all(&*LARGE_DIR);
}

/// `--million`: `reduce_size` with nothing to remove over a generated
/// cache of 1,000,000 entries (what `generate` writes, in a fresh top-level
/// directory, removed afterwards): the first reduction walks everything,
/// keeps the index and folds the usage log; the median of the next ones is
/// what a periodic check costs.
fn million() {
    const ENTRIES: u64 = 1_000_000;
    let root = generate("memo-bench-million-", ENTRIES);
    let memory = Memory::new(&root);
    let reduce = || {
        let reduced = memory
            .reduce_size(Limits::new().items(ENTRIES * 2))
            .unwrap();
        assert_eq!(reduced.before.entries, ENTRIES);
        assert_eq!(reduced.removed.entries, 0);
    };
    let started = Instant::now();
    reduce();
    let first = started.elapsed();
    let (wall, cpu) = time_and_cpu(7, reduce);
    println!(
        "{ENTRIES:>9} entries: reduce_size with nothing to remove {wall:>9.1?} (CPU {cpu:.1?}; \
         median of 7, after a first one that walked everything in {first:.1?})"
    );
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&root);
    println!("cleanup {:.1?}", started.elapsed());
}

static FRESH_DIR: LazyLock<PathBuf> = LazyLock::new(|| fresh_dir("memo-fresh-"));
static FRESH: LazyLock<Memory> = LazyLock::new(|| Memory::new(&*FRESH_DIR));

#[memory::cache(memory = FRESH)]
fn tiny(x: u64) -> u64 {
    x
}

/// What the harness's row measures (`bench/src/manage.rs`): `reduce_size`
/// with nothing to remove right after `entries` entries were stored through
/// the call path and some were hit at random, while this process still
/// holds its usage log open and the version directory changed a moment ago.
fn after_populating(entries: u64) {
    for i in 0..entries {
        black_box(tiny(black_box(i)));
    }
    FRESH.flush_usage().unwrap();
    let _ = std::process::Command::new("sync").status();
    for i in 0..entries / 10 {
        black_box(tiny(black_box(key_of(i) as u64 % entries)));
    }
    let (wall, cpu) = time_and_cpu(5, || {
        let reduced = FRESH.reduce_size(Limits::new().items(entries * 2)).unwrap();
        assert_eq!(reduced.removed.entries, 0);
    });
    println!(
        "{entries:>9} entries just stored: reduce_size with nothing to remove {wall:>9.1?} (CPU {cpu:.1?})"
    );
    let _ = std::fs::remove_dir_all(&*FRESH_DIR);
}

fn main() {
    // `cargo test --benches` runs benchmarks with `--bench` absent: keep it
    // quick there.
    let quick = !std::env::args().any(|a| a == "--bench");
    if std::env::args().any(|a| a == "--million") {
        million();
        return;
    }
    let entries: u64 = std::env::var("MEMO_BENCH_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    // MEMO_BENCH_HIT_ENTRIES: entries beside the hit (0: skip the hits).
    let beside: u64 = std::env::var("MEMO_BENCH_HIT_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 100_000 });
    // MEMO_BENCH_FRESH_ENTRIES: entries stored just before reducing (0: skip).
    let fresh: u64 = std::env::var("MEMO_BENCH_FRESH_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 10_000 });
    if fresh > 0 {
        after_populating(fresh);
    }
    if beside > 0 {
        hits(beside);
    }
    if entries > 0 {
        scale(entries);
    }
}
