//! `memo stats`: hits, misses and the time the cache saved.

use clap::Args;
use serde_json::json;

use super::why::{by_reason_json, counts};
use super::{Context, Totals, function_json_with};
use crate::exit::{self, Failure};
use crate::output::{print_json, size, took};
use crate::table::{Align, Table};

/// `memo stats`'s arguments.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Also count misses by reason (first call, new arguments, code
    /// changed, expired, ...), as recorded in each entry: reads every
    /// entry's metadata.
    #[arg(long)]
    by_reason: bool,
}

/// `memo stats`.
pub fn run(cx: &Context, args: &StatsArgs) -> Result<u8, Failure> {
    let (_, scan, functions) = cx.functions()?;
    let total = Totals::of(&functions);
    let misses = args.by_reason.then(|| cx.cache.misses(&scan, None, 0));
    if cx.json {
        let calls = total.hits + total.misses;
        let mut value = json!({
            "location": cx.location(),
            "functions": functions.iter().map(|f| function_json_with(f, json!({
                "hits": f.hits,
                "misses": f.misses,
                "hit_rate": f.hit_rate(),
                "time_saved_s": f.time_saved.as_secs_f64(),
            }))).collect::<Vec<_>>(),
            "total": {
                "entries": total.entries, "bytes": total.bytes,
                "hits": total.hits, "misses": total.misses,
                "hit_rate": (calls > 0).then(|| total.hits as f64 / calls as f64),
                "time_saved_s": total.time_saved.as_secs_f64(),
            },
        });
        if let Some(misses) = &misses {
            value["total"]["misses_by_reason"] = by_reason_json(misses);
        }
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
    if let Some(misses) = &misses {
        let recorded: u64 = misses.by_reason.values().sum();
        println!(
            "\nMisses by reason: {recorded} recorded in entries{}",
            counts(misses)
        );
    }
    Ok(exit::OK)
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
