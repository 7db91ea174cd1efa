//! `memo verify [--repair]`: checks every entry, removes damaged ones.

use clap::Args;
use serde_json::json;

use super::Context;
use crate::exit::{self, Failure};
use crate::output::{entries, print_json, size, tally_json};

/// `memo verify`'s options.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Remove damaged entries (they are recomputed on their next call).
    #[arg(long)]
    repair: bool,
}

/// `memo verify [--repair]`.
pub fn run(cx: &Context, args: &VerifyArgs) -> Result<u8, Failure> {
    let repair = args.repair;
    let scan = cx.scan()?;
    let verified = cx
        .cache
        .verify(&scan, repair, &cx.progress)
        .map_err(|e| Failure::io("cannot verify", e))?;
    let unrepaired = verified.problems.iter().filter(|p| !p.removed).count();
    let code = exit::problems_if(unrepaired > 0);
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "checked": tally_json(&verified.checked),
            "damaged": verified.problems.iter().map(|p| json!({
                "path": p.path, "problem": p.problem, "bytes": p.size, "removed": p.removed,
            })).collect::<Vec<_>>(),
        }));
        return Ok(code);
    }
    for p in &verified.problems {
        println!(
            "{}: {}{}",
            p.path,
            p.problem,
            if p.removed { " (removed)" } else { "" }
        );
    }
    let damaged = verified.problems.len() as u64;
    println!(
        "Checked {} ({}): {}{}.",
        entries(verified.checked.entries),
        size(verified.checked.bytes),
        if damaged == 0 {
            "all intact".to_owned()
        } else {
            format!("{damaged} damaged")
        },
        match (damaged, repair) {
            (0, _) => String::new(),
            (_, true) if unrepaired == 0 =>
                ", removed (they are recomputed on their next call)".to_owned(),
            (_, true) => format!(", {unrepaired} could not be removed"),
            (_, false) => " (`memo verify --repair` removes them)".to_owned(),
        }
    );
    Ok(code)
}
