//! The joblib side: runs `bench/joblib_bench.py` with the plan and reads
//! the medians it prints as JSON (xxh3-128's limit among them); times the
//! script's `--one-hit` mode as whole processes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::{LimitMeasurement, Measurement, Plan, Workload};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/joblib_bench.py");

/// What the script prints.
#[derive(Debug, Deserialize)]
pub struct Output {
    /// `python`, `joblib` and `numpy` versions.
    pub versions: BTreeMap<String, String>,
    pub results: Vec<Measurement>,
    /// xxh3-128 of each array size, by Python's `xxhash` (the C library).
    pub limits: Vec<LimitMeasurement>,
}

pub fn run(python: &str, dir: &Path, plan: &Plan) -> Result<Output, String> {
    let list = |values: &mut dyn Iterator<Item = usize>| {
        values.map(|v| v.to_string()).collect::<Vec<_>>().join(",")
    };
    let output = Command::new(python)
        .arg(SCRIPT)
        .arg("--dir")
        .arg(dir)
        .args(["--sizes", &list(&mut plan.sizes_mib.iter().copied())])
        .args([
            "--reps",
            &list(&mut plan.sizes_mib.iter().map(|&mib| plan.reps(mib))),
        ])
        .args(["--small-hits", &plan.small_hits.to_string()])
        .args(["--small-misses", &plan.small_misses.to_string()])
        .args(["--entries", &plan.entries.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {python} {SCRIPT}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the joblib side ({python} {SCRIPT}) failed ({}); its messages are above",
            output.status
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cannot read the joblib side's results: {e}"))
}

/// [`Workload::ProcessHit`] for joblib: `python joblib_bench.py --one-hit
/// DIR` as whole processes (interpreter start, imports, one hit).
pub fn process_hit(python: &str, dir: &Path, plan: &Plan) -> Result<Measurement, String> {
    let mut command = Command::new(python);
    command
        .arg(SCRIPT)
        .arg("--one-hit")
        .arg(dir.join("process"));
    let value = crate::manage::process_median(&mut command, plan.processes)?;
    eprintln!("  joblib {:<42} {value:.6}", Workload::ProcessHit.label());
    Ok(Measurement {
        workload: Workload::ProcessHit,
        mib: 0,
        value,
    })
}
