//! `memo stats`: hits, misses (by reason) and the time the cache saved.

use std::collections::BTreeMap;

use clap::Args;
use serde_json::json;

use super::why::counts;
use super::{Context, Totals, function_json_with};
use crate::exit::{self, Failure};
use crate::output::{print_json, print_without_heading, size, took};
use crate::table::{Align, Table};

/// `memo stats`'s arguments.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Also count misses by reason (first call, new arguments, code
    /// changed, expired, ...) per function, from the usage records (every
    /// miss, whether its result was stored or not). `--json` always has
    /// them.
    #[arg(long)]
    by_reason: bool,
}

/// `memo stats`.
pub fn run(cx: &Context, args: &StatsArgs) -> Result<u8, Failure> {
    let (_, _, functions) = cx.functions()?;
    let total = Totals::of(&functions);
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for f in &functions {
        for (kind, count) in &f.misses_by_reason {
            *by_reason.entry(kind.clone()).or_default() += count;
        }
    }
    if cx.json {
        let calls = total.hits + total.misses;
        let value = json!({
            "location": cx.location(),
            "functions": functions.iter().map(|f| function_json_with(f, json!({
                "hits": f.hits,
                "misses": f.misses,
                "hit_rate": f.hit_rate(),
                "misses_by_reason": f.misses_by_reason,
                "time_saved_s": f.time_saved.as_secs_f64(),
            }))).collect::<Vec<_>>(),
            "total": {
                "entries": total.entries, "bytes": total.bytes,
                "hits": total.hits, "misses": total.misses,
                "hit_rate": (calls > 0).then(|| total.hits as f64 / calls as f64),
                "misses_by_reason": by_reason,
                "time_saved_s": total.time_saved.as_secs_f64(),
            },
        });
        print_json(&value);
        return Ok(exit::OK);
    }
    let mut table = Table::new(&[
        ("FUNCTION", Align::Left),
        ("ENTRIES", Align::Right),
        ("SIZE", Align::Right),
        ("HITS", Align::Right),
        ("MISSES", Align::Right),
        ("HIT RATE", Align::Right),
        ("TIME SAVED", Align::Right),
    ]);
    for f in &functions {
        table.row(row(&f.identity, &Totals::of(std::slice::from_ref(f))));
    }
    table.row(row("total", &total));
    print!("{}", table.render());
    if args.by_reason {
        println!("\nMisses by reason:");
        let mut reasons = Table::new(&[("", Align::Left), ("", Align::Left)]);
        for f in &functions {
            reasons.row(vec![f.identity.clone(), reason_counts(&f.misses_by_reason)]);
        }
        reasons.row(vec!["total".into(), reason_counts(&by_reason)]);
        print_without_heading(&reasons);
    }
    Ok(exit::OK)
}

/// `3 (first call 2, expired 1)`, or `0`.
fn reason_counts(by_reason: &BTreeMap<String, u64>) -> String {
    format!("{}{}", by_reason.values().sum::<u64>(), counts(by_reason))
}

/// A row of the table: a function's counts, or the totals.
fn row(label: &str, t: &Totals) -> Vec<String> {
    vec![
        label.to_owned(),
        t.entries.to_string(),
        size(t.bytes),
        t.hits.to_string(),
        t.misses.to_string(),
        hit_rate(t.hits, t.misses),
        took(t.time_saved),
    ]
}

/// `87.5%`, or `-` before any call.
fn hit_rate(hits: u64, misses: u64) -> String {
    if hits + misses == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", 100.0 * hits as f64 / (hits + misses) as f64)
    }
}
