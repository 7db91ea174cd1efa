//! `memo du`: the space each function takes, and the rest of the cache.

use clap::Args;
use serde_json::json;

use super::{Context, Totals, function_json_with};
use crate::exit::{self, Failure};
use crate::output::{print_json, size, version_label};
use crate::table::{Align, Table};

/// `memo du`'s options.
#[derive(Debug, Args)]
pub struct DuArgs {
    /// Also show each code version.
    #[arg(long, short = 'v')]
    versions: bool,
}

/// `memo du`.
pub fn run(cx: &Context, args: &DuArgs) -> Result<u8, Failure> {
    let (_, scan, functions) = cx.functions()?;
    let records = cx.cache.usage_bytes();
    let temps = cx.cache.temp_files(&scan);
    let total = Totals::of(&functions);
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "functions": functions.iter().map(|f| function_json_with(f, json!({
                "disk_bytes": f.disk_bytes,
                "versions": f.versions.iter().map(|v| json!({
                    "version": v.version, "current": v.current, "entries": v.entries, "bytes": v.bytes,
                })).collect::<Vec<_>>(),
            }))).collect::<Vec<_>>(),
            "usage_record_bytes": records,
            "temp_files": {"count": temps.entries, "bytes": temps.bytes},
            "total": {
                "entries": total.entries,
                "bytes": total.bytes + records + temps.bytes,
                "entry_bytes": total.bytes,
                "disk_bytes": total.disk_bytes,
            },
        }));
        return Ok(exit::OK);
    }
    let mut table = Table::new(&[
        ("SIZE", Align::Right),
        ("ON DISK", Align::Right),
        ("ENTRIES", Align::Right),
        ("FUNCTION", Align::Left),
    ]);
    for f in &functions {
        table.row(vec![
            size(f.bytes),
            size(f.disk_bytes),
            f.entries.to_string(),
            f.identity.clone(),
        ]);
        if args.versions {
            for v in &f.versions {
                table.row(vec![
                    size(v.bytes),
                    String::new(),
                    v.entries.to_string(),
                    format!("  {}", version_label(&v.version, v.current)),
                ]);
            }
        }
    }
    table.row(vec![
        size(records),
        String::new(),
        String::new(),
        "(usage records)".into(),
    ]);
    if temps.entries > 0 {
        table.row(vec![
            size(temps.bytes),
            String::new(),
            temps.entries.to_string(),
            "(leftover temp files: `memo gc` removes them)".into(),
        ]);
    }
    table.row(vec![
        size(total.bytes + records + temps.bytes),
        size(total.disk_bytes),
        total.entries.to_string(),
        format!("total in {}", cx.location()),
    ]);
    print!("{}", table.render());
    Ok(exit::OK)
}
