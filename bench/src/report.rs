//! The machine the run happened on, and the table of both sides' medians.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::Command;

use crate::{Limit, LimitMeasurement, MIB, Measurement, Plan, Workload};

/// Facts about this machine and toolchain, for the table's header.
pub struct Machine {
    date: String,
    cpu: String,
    nproc: usize,
    memory: String,
    kernel: String,
    rustc: String,
    /// Whether the bench (and memo in it) was built for this CPU.
    native: bool,
    /// SIMD features compiled in, and the CPU's.
    simd: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        let field = |text: &str, name: &str| {
            text.lines()
                .find_map(|line| {
                    Some(
                        line.strip_prefix(name)?
                            .trim_start_matches([' ', '\t', ':']),
                    )
                })
                .unwrap_or("unknown")
                .to_owned()
        };
        let kib: f64 = field(&meminfo, "MemTotal")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0.0);
        Machine {
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            cpu: field(&cpuinfo, "model name"),
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory: format!("{:.1} GiB", kib / (1024.0 * 1024.0)),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            rustc: output("rustc", &["--version"]),
            native: std::env::var("RUSTFLAGS")
                .is_ok_and(|flags| flags.contains("target-cpu=native")),
            simd: simd(),
        }
    }
}

/// The x86-64 SIMD levels compiled into this build, and those the CPU has.
fn simd() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let built = [
            ("avx2", cfg!(target_feature = "avx2")),
            ("avx512f", cfg!(target_feature = "avx512f")),
        ];
        let cpu = [
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
        ];
        let list = |features: &[(&str, bool)]| {
            let on: Vec<&str> = features.iter().filter(|f| f.1).map(|f| f.0).collect();
            if on.is_empty() {
                "SSE2 only".to_owned()
            } else {
                on.join(", ")
            }
        };
        format!("compiled in: {}; the CPU has: {}", list(&built), list(&cpu))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        String::from("not x86-64")
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A command's first line of output, or "unknown".
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// The header and the markdown tables: a row per workload and size, memo's
/// and joblib's medians, how many times faster memo is, and memo as a
/// fraction of the machine's limit; then the limits themselves.
pub fn render(
    machine: &Machine,
    versions: &BTreeMap<String, String>,
    plan: &Plan,
    memo: &[Measurement],
    joblib: &[Measurement],
    limits: &[LimitMeasurement],
) -> String {
    let version = |name: &str| versions.get(name).map_or("unknown", String::as_str);
    let reps = plan
        .sizes_mib
        .iter()
        .map(|&mib| format!("{} ×{}", size(mib), plan.reps(mib)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::new();
    let _ = writeln!(out, "memo vs joblib, measured {}:\n", machine.date);
    let _ = writeln!(
        out,
        "- machine: {}, nproc {}, {} RAM, Linux {}",
        machine.cpu, machine.nproc, machine.memory, machine.kernel,
    );
    let _ = writeln!(
        out,
        "- build: `-C target-cpu=native` {} (SIMD {})",
        if machine.native { "yes" } else { "no" },
        machine.simd,
    );
    let _ = writeln!(
        out,
        "- versions: {}; Python {}, joblib {}, numpy {}, xxhash {}",
        machine.rustc,
        version("python"),
        version("joblib"),
        version("numpy"),
        version("xxhash"),
    );
    let _ = writeln!(
        out,
        "- medians of {} small hits, {} small misses, and of calls per array \
         workload and size: {reps}; arrays of f64; GB/s = 10^9 bytes of array \
         per second; entries in the page cache; management rows over {} tiny \
         entries, a whole process timed {} times{}\n",
        plan.small_hits,
        plan.small_misses,
        plan.entries,
        plan.processes,
        if plan.quick { " (--quick)" } else { "" },
    );
    out.push_str("| workload | size | memo | joblib | joblib / memo | memo / machine limit |\n");
    out.push_str("| --- | ---: | ---: | ---: | --- | ---: |\n");
    let limit_at = |limit: Limit, mib: usize| {
        limits
            .iter()
            .find(|l| l.limit == limit && l.mib == mib)
            .map(|l| l.seconds)
    };
    for workload in Workload::ALL {
        let sizes: &[usize] = if workload.sized() {
            &plan.sizes_mib
        } else {
            &[0]
        };
        for &mib in sizes {
            let find = |side: &[Measurement]| {
                side.iter()
                    .find(|m| m.workload == workload && m.mib == mib)
                    .map(|m| m.value)
            };
            let Some(memo) = find(memo) else {
                continue;
            };
            let joblib = find(joblib);
            if joblib.is_none() && workload != Workload::SmallHitInProcess {
                continue;
            }
            let cell = |value: f64| {
                if workload.in_bytes() {
                    bytes(value)
                } else if workload.reads_every_byte() {
                    let gbps = (mib * MIB) as f64 / value / 1e9;
                    format!("{} ({} GB/s)", duration(value), significant(gbps))
                } else {
                    duration(value)
                }
            };
            // A limit is a time for the same bytes: memo's fraction of the
            // limit's throughput is limit time over memo time.
            let fraction = workload
                .limit()
                .and_then(|limit| limit_at(limit, mib))
                .map_or(String::new(), |limit| format!("{:.2}", limit / memo));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                workload.label(),
                if workload.sized() {
                    size(mib)
                } else {
                    "—".into()
                },
                cell(memo),
                joblib.map_or("—".into(), cell),
                joblib.map_or("no equivalent".into(), |joblib| ratio(
                    joblib / memo,
                    if workload.in_bytes() {
                        ("smaller", "larger")
                    } else {
                        ("faster", "slower")
                    }
                )),
                fraction,
            );
        }
    }
    out.push_str("\nThe machine's limits, measured in the same run (medians; the last column of the table above is memo's throughput over the limit's):\n\n");
    out.push_str("| limit | size | time | GB/s | compared with |\n");
    out.push_str("| --- | ---: | ---: | ---: | --- |\n");
    for limit in Limit::ALL {
        let sizes: &[usize] = if limit.sized() { &plan.sizes_mib } else { &[0] };
        for &mib in sizes {
            let Some(seconds) = limit_at(limit, mib) else {
                continue;
            };
            let compared = Workload::ALL
                .iter()
                .find(|w| w.limit() == Some(limit))
                .map_or("—", |w| w.label());
            let (size, throughput) = match limit.sized() {
                true => (size(mib), significant((mib * MIB) as f64 / seconds / 1e9)),
                false => ("—".into(), "—".into()),
            };
            let _ = writeln!(
                out,
                "| {} | {size} | {} | {throughput} | {compared} |",
                limit.label(),
                duration(seconds),
            );
        }
    }
    out
}

/// Bytes, in KiB when over one.
fn bytes(value: f64) -> String {
    if value >= 1024.0 {
        format!("{} KiB", significant(value / 1024.0))
    } else {
        format!("{value:.0} B")
    }
}

fn size(mib: usize) -> String {
    if mib >= 1024 && mib.is_multiple_of(1024) {
        format!("{} GiB", mib / 1024)
    } else {
        format!("{mib} MiB")
    }
}

/// Seconds in the unit that keeps three significant digits readable.
fn duration(seconds: f64) -> String {
    let (value, unit) = match seconds {
        s if s < 1e-6 => (s * 1e9, "ns"),
        s if s < 1e-3 => (s * 1e6, "µs"),
        s if s < 1.0 => (s * 1e3, "ms"),
        s => (s, "s"),
    };
    format!("{} {unit}", significant(value))
}

/// `value` to about three significant digits.
fn significant(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// joblib's time (or bytes) over memo's, said the way round that is at least one
/// (within 5 %, "level": closer than these medians can tell apart).
fn ratio(joblib_over_memo: f64, (better, worse): (&str, &str)) -> String {
    if (joblib_over_memo - 1.0).abs() < 0.05 {
        return format!("level (×{joblib_over_memo:.2})");
    }
    let (times, word) = if joblib_over_memo >= 1.0 {
        (joblib_over_memo, better)
    } else {
        (1.0 / joblib_over_memo, worse)
    };
    let times = if times >= 10.0 {
        format!("{times:.0}")
    } else {
        format!("{times:.1}")
    };
    format!("memo ×{times} {word}")
}
