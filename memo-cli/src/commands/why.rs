//! `memo why FUNC`: a function's recent misses with their reasons, and its
//! misses counted by reason, from the usage records (misses whose results
//! were replaced since, or never stored, included).

use std::collections::BTreeMap;

use clap::Args;
use memory::manage::{MissRow, Misses};
use serde_json::{Value, json};

use super::Context;
use crate::exit::{self, Failure};
use crate::output::{ms, print_json, print_without_heading, truncate};
use crate::table::{Align, Table};

/// `memo why`'s arguments.
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The function: its identity (`my_crate::module::f`), directory
    /// name, or a unique last part (`f`, `module::f`).
    function: String,
    /// List at most this many misses.
    #[arg(long, default_value_t = 20, conflicts_with = "all")]
    limit: usize,
    /// List every recent miss the usage records keep (the 64 most recent).
    #[arg(long)]
    all: bool,
}

/// `memo why FUNC`.
pub fn run(cx: &Context, args: &WhyArgs) -> Result<u8, Failure> {
    let usage = cx.usage()?;
    let scan = cx.scan()?;
    let f = cx
        .cache
        .find_function(&scan, &args.function)
        .map_err(Failure::not_found)?;
    let limit = if args.all { usize::MAX } else { args.limit };
    let misses = cx.cache.misses(&scan, &usage, Some(f), limit);
    let identity = cx.cache.identity(&scan, f);
    if cx.json {
        print_json(&json!({
            "identity": identity,
            "dir": cx.cache.function_dir(&scan, f),
            "by_reason": misses.by_reason,
            "kept_by_ignore_code": misses.kept.as_ref().map(|kept| json!({
                "version": kept.version,
                "code_fingerprints": kept.codes,
            })),
            "recent": misses.recent.iter().map(row_json).collect::<Vec<_>>(),
        }));
        return Ok(exit::OK);
    }
    let recorded = misses.total();
    let mut header = Table::new(&[("", Align::Left), ("", Align::Left)]);
    header.row(vec!["Function".into(), identity]);
    header.row(vec![
        "Misses".into(),
        format!("{recorded} recorded{}", counts(&misses.by_reason)),
    ]);
    if let Some(kept) = &misses.kept {
        let version = kept
            .version
            .as_ref()
            .map_or("no version given".to_owned(), |v| format!("version {v}"));
        header.row(vec![
            "Code".into(),
            format!(
                "changed since some results were computed; kept by ignore_code, {version} \
                 ({} code fingerprints)",
                kept.codes
            ),
        ]);
    }
    print_without_heading(&header);
    if misses.recent.is_empty() {
        return Ok(exit::OK);
    }
    println!();
    let mut table = Table::new(&[
        ("COMPUTED", Align::Right),
        ("CALL", Align::Left),
        ("REASON", Align::Left),
    ]);
    for row in &misses.recent {
        table.row(vec![
            cx.ago(Some(row.computed)),
            row.call.as_ref().map_or_else(
                || format!("key {:.12}…", format!("{:032x}", row.key)),
                |call| truncate(call, 40),
            ),
            if row.stored {
                row.reason.clone()
            } else {
                format!("{} (result not stored)", row.reason)
            },
        ]);
    }
    print!("{}", table.render());
    let more = recorded.saturating_sub(misses.recent.len() as u64);
    if more > 0 {
        let misses_word = if more == 1 { "miss" } else { "misses" };
        if args.all || misses.recent.len() >= Misses::RECENT_KEPT {
            println!(
                "… and {more} earlier {misses_word}, counted above (the usage records keep \
                 the {} most recent)",
                Misses::RECENT_KEPT
            );
        } else {
            println!("… and {more} earlier {misses_word} (--all lists those kept)");
        }
    }
    Ok(exit::OK)
}

/// ` (first call 1, new arguments 2)`, most frequent first.
pub fn counts(by_reason: &BTreeMap<String, u64>) -> String {
    if by_reason.is_empty() {
        return String::new();
    }
    let mut kinds: Vec<(&String, &u64)> = by_reason.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let listed: Vec<String> = kinds
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    format!(" ({})", listed.join(", "))
}

fn row_json(row: &MissRow) -> Value {
    json!({
        "key": format!("{:032x}", row.key),
        "version": row.version,
        "call": row.call,
        "computed_ms": ms(Some(row.computed)),
        "kind": row.kind.as_str(),
        "reason": row.reason,
        "stored": row.stored,
        "duration_s": row.duration.map(|d| d.as_secs_f64()),
    })
}
