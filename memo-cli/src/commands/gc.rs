//! `memo gc`: removes stale versions, old entries, and the least recently
//! used ones over the limits.

use std::time::Duration;

use clap::Args;
use memory::manage::{ByteSize, Limits, ReduceOptions, Tally};
use serde_json::json;

use super::Context;
use crate::exit::{self, Failure};
use crate::output::{
    entries, human_age, plural, print_json, print_without_heading, size, tally_json,
};
use crate::table::{Align, Table};

/// `memo gc`'s limits.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Keep at most this many bytes (e.g. 10G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    bytes_limit: Option<ByteSize>,
    /// Keep at most this many entries.
    #[arg(long, value_name = "N")]
    items_limit: Option<u64>,
    /// Remove entries unused for longer than this (e.g. 30d).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    age_limit: Option<Duration>,
    /// Remove every code version of a function but the current one.
    #[arg(long)]
    stale: bool,
    /// Only show what would be removed.
    #[arg(long, short = 'n')]
    dry_run: bool,
}

fn parse_size(text: &str) -> Result<ByteSize, memory::manage::ParseError> {
    text.parse()
}

fn parse_age(text: &str) -> Result<Duration, memory::manage::ParseError> {
    memory::manage::parse_age(text)
}

impl GcArgs {
    fn limits(&self) -> Result<Limits, Failure> {
        let mut limits = Limits::new().stale(self.stale);
        limits.bytes = self.bytes_limit;
        limits.items = self.items_limit;
        limits.age = self.age_limit;
        if limits.is_empty() {
            return Err(Failure::new(
                exit::USAGE,
                "nothing to collect: give --bytes-limit, --items-limit, --age-limit or --stale",
            ));
        }
        Ok(limits)
    }
}

/// `memo gc`.
pub fn run(cx: &Context, args: &GcArgs) -> Result<u8, Failure> {
    let limits = args.limits()?;
    let dry_run = args.dry_run;
    let report = cx
        .cache
        .reduce(
            &limits,
            &ReduceOptions::default().dry_run(dry_run),
            &cx.progress,
        )
        .map_err(|e| Failure::io("cannot collect", e))?;
    let code = exit::problems_if(report.failed > 0);
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "dry_run": report.dry_run,
            "before": tally_json(&report.before),
            "removed": tally_json(&report.removed),
            "stale": tally_json(&report.stale),
            "expired": tally_json(&report.expired),
            "evicted": tally_json(&report.evicted),
            "after": tally_json(&report.after),
            "temp_files": tally_json(&report.temp_files),
            "failed": report.failed,
            "kept": report.kept,
            "functions": report.functions.iter().map(|f| json!({
                "dir": f.dir,
                "identity": f.identity,
                "removed": tally_json(&f.removed),
                "stale_versions": f.versions,
            })).collect::<Vec<_>>(),
        }));
        return Ok(code);
    }
    let verb = if dry_run { "Would remove" } else { "Removed" };
    println!(
        "{verb} {} ({}) of {} ({}); {} ({}) {}.",
        entries(report.removed.entries),
        size(report.removed.bytes),
        report.before.entries,
        size(report.before.bytes),
        entries(report.after.entries),
        size(report.after.bytes),
        if dry_run { "would remain" } else { "remain" },
    );
    let mut reasons = Table::new(&[("", Align::Left), ("", Align::Right), ("", Align::Right)]);
    let mut reason = |label: String, t: &Tally| {
        if t.entries > 0 {
            reasons.row(vec![
                format!("  {label}"),
                entries(t.entries),
                size(t.bytes),
            ]);
        }
    };
    reason("stale code versions".into(), &report.stale);
    if let Some(age) = limits.age {
        reason(
            format!("unused for over {}", human_age(age)),
            &report.expired,
        );
    }
    reason(
        "least recently used, over the limits".into(),
        &report.evicted,
    );
    reason("leftover temp files".into(), &report.temp_files);
    print_without_heading(&reasons);
    if !report.functions.is_empty() {
        println!();
        let mut table = Table::new(&[
            ("FUNCTION", Align::Left),
            ("REMOVED", Align::Right),
            ("SIZE", Align::Right),
            ("STALE VERSIONS", Align::Left),
        ]);
        for f in &report.functions {
            table.row(vec![
                f.identity.clone().unwrap_or_else(|| f.dir.clone()),
                f.removed.entries.to_string(),
                size(f.removed.bytes),
                f.versions.join(" "),
            ]);
        }
        print!("{}", table.render());
    }
    if report.failed > 0 {
        eprintln!("memo: {} could not be removed", entries(report.failed));
    }
    if report.kept > 0 {
        eprintln!(
            "memo: left {} named like entries that memo did not write",
            plural(report.kept, "file", "files")
        );
    }
    Ok(code)
}
