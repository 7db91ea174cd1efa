//! `memo ls`: one row per cached function.

use clap::Args;
use serde_json::json;

use super::{Context, Totals, function_json};
use crate::exit::{self, Failure};
use crate::output::{entries, plural, print_json, size, took, version_label};
use crate::table::{Align, Table};

/// `memo ls`'s options.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Also list each code version of every function.
    #[arg(long, short = 'v')]
    versions: bool,
}

/// `memo ls`.
pub fn run(cx: &Context, args: &LsArgs) -> Result<u8, Failure> {
    let (_, _, functions) = cx.functions()?;
    if cx.json {
        print_json(&json!({
            "location": cx.location(),
            "functions": functions.iter().map(function_json).collect::<Vec<_>>(),
        }));
        return Ok(exit::OK);
    }
    if functions.is_empty() {
        println!("No cached functions in {}.", cx.location());
        return Ok(exit::OK);
    }
    let mut table = Table::new(&[
        ("FUNCTION", Align::Left),
        ("VERSIONS", Align::Right),
        ("ENTRIES", Align::Right),
        ("SIZE", Align::Right),
        ("LAST USED", Align::Right),
        ("HITS", Align::Right),
        ("SAVED", Align::Right),
    ]);
    for f in &functions {
        let stale = f.stale_versions();
        table.row(vec![
            f.identity.clone(),
            if stale > 0 {
                format!("{} ({stale} stale)", f.versions.len())
            } else {
                f.versions.len().to_string()
            },
            f.entries.to_string(),
            size(f.bytes),
            cx.ago(f.last_used),
            f.hits.to_string(),
            took(f.time_saved),
        ]);
        if args.versions {
            for v in &f.versions {
                table.row(vec![
                    format!("  {}", version_label(&v.version, v.current)),
                    String::new(),
                    v.entries.to_string(),
                    size(v.bytes),
                    cx.ago(v.last_used),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
    print!("{}", table.render());
    let total = Totals::of(&functions);
    println!(
        "{}, {}, {} in {}",
        plural(functions.len() as u64, "function", "functions"),
        entries(total.entries),
        size(total.bytes),
        cx.location()
    );
    Ok(exit::OK)
}
