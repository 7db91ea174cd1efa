//! The joblib side: runs `bench/joblib_bench.py` with the plan and reads
//! the medians it prints as JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::{Measurement, Plan};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/joblib_bench.py");

/// What the script prints.
#[derive(Debug, Deserialize)]
pub struct Output {
    /// `python`, `joblib` and `numpy` versions.
    pub versions: BTreeMap<String, String>,
    pub results: Vec<Measurement>,
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
