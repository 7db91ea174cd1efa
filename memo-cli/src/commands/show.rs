//! `memo show FUNC [ENTRY]`: a function's summary and entries (the entry
//! view is in `show_entry.rs`).

use clap::Args;
use memory::manage::{Scan, Usage, format_duration};
use serde_json::json;

use super::{Context, function_json};
use crate::exit::{self, Failure};
use crate::output::{ms, print_json, print_without_heading, size, truncate};
use crate::table::{Align, Table};

/// `memo show`'s arguments.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The function: its identity (`my_crate::module::f`), directory
    /// name, or a unique last part (`f`, `module::f`).
    function: String,
    /// An entry: the first hex digits of its key, as `memo show FUNC`
    /// lists them.
    entry: Option<String>,
    /// List at most this many entries.
    #[arg(long, default_value_t = 20, conflicts_with = "all")]
    limit: usize,
    /// List every entry.
    #[arg(long)]
    all: bool,
}

/// `memo show FUNC [ENTRY]`.
pub fn run(cx: &Context, args: &ShowArgs) -> Result<u8, Failure> {
    let usage = cx.usage()?;
    let scan = cx.scan()?;
    let f = cx
        .cache
        .find_function(&scan, &args.function)
        .map_err(Failure::not_found)?;
    match &args.entry {
        Some(prefix) => {
            let e = cx
                .cache
                .find_entry(&scan, f, prefix)
                .map_err(Failure::not_found)?;
            super::show_entry::run(cx, &scan, &usage, e)
        }
        None => {
            let limit = if args.all { usize::MAX } else { args.limit };
            show_function(cx, &scan, &usage, f, limit)
        }
    }
}

fn show_function(
    cx: &Context,
    scan: &Scan,
    usage: &Usage,
    f: usize,
    limit: usize,
) -> Result<u8, Failure> {
    let stats = cx.cache.functions(scan, usage);
    let dir = cx.cache.function_dir(scan, f);
    let stats = stats
        .into_iter()
        .find(|s| s.dir == dir)
        .expect("every scanned function has statistics");
    let rows = cx.cache.entries(scan, usage, f, limit);
    if cx.json {
        let mut value = function_json(&stats);
        value["entry_list"] = rows
            .iter()
            .map(|r| {
                json!({
                    "key": format!("{:032x}", r.key),
                    "version": r.version,
                    "call": r.call,
                    "bytes": r.size,
                    "created_ms": ms(Some(r.created)),
                    "last_used_ms": ms(Some(r.last_used)),
                    "hits": r.hits,
                    "duration_s": r.duration.map(|d| d.as_secs_f64()),
                })
            })
            .collect();
        print_json(&value);
        return Ok(exit::OK);
    }
    let current = stats
        .versions
        .iter()
        .find(|v| v.current)
        .map(|v| v.version.clone());
    let mut header = Table::new(&[("", Align::Left), ("", Align::Left)]);
    header.row(vec!["Function".into(), stats.identity.clone()]);
    header.row(vec!["Directory".into(), stats.dir.clone()]);
    header.row(vec![
        "Versions".into(),
        match (&current, stats.stale_versions()) {
            (Some(c), 0) => format!("{} (current {c})", stats.versions.len()),
            (Some(c), stale) => format!("{} (current {c}, {stale} stale)", stats.versions.len()),
            (None, _) => stats.versions.len().to_string(),
        },
    ]);
    header.row(vec![
        "Entries".into(),
        format!("{} ({})", stats.entries, size(stats.bytes)),
    ]);
    header.row(vec!["Last used".into(), cx.ago(stats.last_used)]);
    header.row(vec![
        "Calls".into(),
        format!(
            "{} hits, {} misses{}",
            stats.hits,
            stats.misses,
            stats
                .hit_rate()
                .map(|r| format!(" ({:.0}% hit rate)", r * 100.0))
                .unwrap_or_default()
        ),
    ]);
    header.row(vec!["Time saved".into(), format_duration(stats.time_saved)]);
    print_without_heading(&header);
    if rows.is_empty() {
        return Ok(exit::OK);
    }
    println!();
    let mut table = Table::new(&[
        ("ENTRY", Align::Left),
        ("CALL", Align::Left),
        ("SIZE", Align::Right),
        ("COMPUTED IN", Align::Right),
        ("CREATED", Align::Right),
        ("LAST USED", Align::Right),
        ("HITS", Align::Right),
    ]);
    for row in &rows {
        let stale = current.as_ref().is_some_and(|c| *c != row.version);
        table.row(vec![
            format!("{:012x}", row.key >> 80),
            format!(
                "{}{}",
                row.call
                    .as_deref()
                    .map_or("?".to_owned(), |c| truncate(c, 60)),
                if stale { " (stale)" } else { "" }
            ),
            size(row.size),
            row.duration.map_or("?".to_owned(), format_duration),
            cx.ago(Some(row.created)),
            cx.ago(Some(row.last_used)),
            row.hits.to_string(),
        ]);
    }
    print!("{}", table.render());
    if (rows.len() as u64) < stats.entries {
        let more = stats.entries - rows.len() as u64;
        println!(
            "… and {more} more {} (--all lists them)",
            if more == 1 { "entry" } else { "entries" }
        );
    }
    Ok(exit::OK)
}
