//! Every miss has a reason, in words: with `MEMO_VERBOSE=1` a real program
//! says why it computes (first call, a code edit, which argument changed,
//! an expired entry), the entries it writes record why, and `memo why`
//! lists those misses and counts them by reason. `ignore_code` keeps serving
//! after an edit and says so.
//!
//! The programs are real crates built with cargo, edited between builds,
//! each run against one shared cache (`FixtureCrate`).

use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;

use memory::{Memory, MissReason};

use memo_tests::{FixtureCrate, Run, memo_cli, run_with};

/// The fixture: `work` (edited between builds), `fresh` (expires after a
/// second) and `kept` (`ignore_code`, edited between builds), and a `main`
/// whose calls the `CALLS` variable picks, so one build serves many runs.
fn program(variant: &str, work_factor: u64, kept_factor: u64) -> String {
    format!(
        r#"
#[memory::cache]
fn work(x: u64, s: String) -> u64 {{
    println!("computing work({{x}}, {{s}})");
    x * {work_factor} + s.len() as u64
}}

#[memory::cache(expires_after = "1s")]
fn fresh(x: u64) -> u64 {{
    println!("computing fresh({{x}})");
    x
}}

#[memory::cache(version = "1", ignore_code = true)]
fn kept(x: u64) -> u64 {{
    println!("computing kept({{x}})");
    x * {kept_factor}
}}

fn main() {{
    println!("variant {variant}");
    let calls = std::env::var("CALLS").unwrap_or_default();
    for call in calls.split(',').filter(|call| !call.is_empty()) {{
        let (name, x) = call.split_once(':').expect("name:x");
        let x: u64 = x.parse().expect("a number");
        let result = match name {{
            "work" => work(x, "s".to_owned()),
            "fresh" => fresh(x),
            "kept" => kept(x),
            other => panic!("unknown call {{other}}"),
        }};
        println!("{{name}}({{x}}) = {{result}}");
    }}
}}
"#
    )
}

fn run(fixture: &FixtureCrate, variant: &str, source: &str, calls: &str) -> Run {
    fixture.build_and_run_with(variant, source, &[("MEMO_VERBOSE", "1"), ("CALLS", calls)])
}

/// The `[Memory] Reason: ...` lines of a run, in order.
fn reasons(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter_map(|line| line.strip_prefix("[Memory] Reason: "))
        .collect()
}

fn memo(cache: &std::path::Path, args: &[&str]) -> Run {
    run_with(
        Command::new(memo_cli())
            .arg("--location")
            .arg(cache)
            .args(args),
    )
}

#[test]
fn misses_say_why_and_memo_why_lists_them() {
    let fixture = FixtureCrate::new("miss-reasons-fixture");
    let original = program("original", 2, 10);

    let first = run(&fixture, "original", &original, "work:21");
    assert_eq!(reasons(&first), ["first call of the function"], "{first:?}");

    let new_argument = run(&fixture, "original", &original, "work:22,work:21");
    assert_eq!(
        reasons(&new_argument),
        ["new arguments: `x` differs, `s` same"],
        "{new_argument:?}"
    );
    assert_eq!(new_argument.count("computing work(22, s)"), 1);
    assert_eq!(new_argument.count("computing work(21, s)"), 0);

    let edited = program("edited", 3, 10);
    let after_edit = run(&fixture, "edited", &edited, "work:21");
    assert_eq!(after_edit.count("computing work(21, s)"), 1);
    let said = reasons(&after_edit);
    assert_eq!(said.len(), 1, "{after_edit:?}");
    assert!(
        said[0].starts_with("code changed (version ") && said[0].contains(" → "),
        "{after_edit:?}"
    );
    assert!(
        said[0].contains("the old version's newest result was computed"),
        "{after_edit:?}"
    );

    let stored = run(&fixture, "edited", &edited, "fresh:1");
    assert_eq!(
        reasons(&stored),
        ["first call of the function"],
        "{stored:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let expired = run(&fixture, "edited", &edited, "fresh:1");
    assert_eq!(expired.count("computing fresh(1)"), 1, "{expired:?}");
    let said = reasons(&expired);
    assert_eq!(said.len(), 1, "{expired:?}");
    assert!(
        said[0].starts_with("the stored entry expired (computed ")
            && said[0].ends_with("expires after 1.0 s)"),
        "{expired:?}"
    );

    let why = memo(fixture.cache.path(), &["why", "work"]);
    let text = &why.stdout;
    assert!(text.contains("first call"), "{why:?}");
    assert!(
        text.contains("new arguments: `x` differs, `s` same"),
        "{why:?}"
    );
    assert!(text.contains("code changed (version "), "{why:?}");
    assert!(text.contains("work(22, \"s\")"), "{why:?}");
    let json = memo(fixture.cache.path(), &["--json", "why", "work"]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(parsed["by_reason"]["first call"], 1, "{parsed}");
    assert_eq!(parsed["by_reason"]["new arguments"], 1, "{parsed}");
    assert_eq!(parsed["by_reason"]["code changed"], 1, "{parsed}");
    let fresh = memo(fixture.cache.path(), &["--json", "why", "fresh"]);
    let parsed: serde_json::Value = serde_json::from_str(&fresh.stdout).expect("JSON");
    assert_eq!(parsed["by_reason"]["expired"], 1, "{parsed}");
}

#[test]
fn ignore_code_keeps_serving_after_an_edit_and_says_so() {
    let fixture = FixtureCrate::new("ignore-code-fixture");
    let original = program("original", 2, 10);
    let first = run(&fixture, "original", &original, "kept:4");
    assert_eq!(first.count("kept(4) = 40"), 1, "{first:?}");

    let edited = program("edited", 2, 100);
    let after_edit = run(&fixture, "edited", &edited, "kept:4");
    assert_eq!(
        after_edit.count("computing kept(4)"),
        0,
        "an edit invalidated an ignore_code function: {after_edit:?}"
    );
    assert_eq!(after_edit.count("kept(4) = 40"), 1, "{after_edit:?}");
    assert!(
        after_edit.stderr.contains(
            "::kept: code changed since these results were computed; kept by ignore_code, version 1"
        ),
        "{after_edit:?}"
    );
    // New arguments run the edited code.
    let new_argument = run(&fixture, "edited", &edited, "kept:5");
    assert_eq!(new_argument.count("kept(5) = 500"), 1, "{new_argument:?}");
    let why = memo(fixture.cache.path(), &["why", "kept"]);
    assert!(
        why.stdout.contains(
            "changed since some results were computed; kept by ignore_code, version 1 \
             (2 code fingerprints)"
        ),
        "{why:?}"
    );
}

static PROBED: LazyLock<Memory> = LazyLock::new(|| Memory::new(memo_tests::process_cache_dir()));

#[memory::cache(memory = PROBED, expires_after = "1s")]
fn area(width: u64, height: u64) -> u64 {
    width * height
}

#[test]
fn a_handle_says_why_a_call_would_miss_without_running_it() {
    let why_not = |width, height| memory::handle(|| area(width, height)).why_not();
    assert_eq!(why_not(2, 3), Some(MissReason::FirstCall));
    assert_eq!(area(2, 3), 6);
    assert_eq!(why_not(2, 3), None, "stored: it would hit");
    assert_eq!(
        why_not(2, 4),
        Some(MissReason::NewArguments {
            differ: vec!["height".into()],
            same: vec!["width".into()],
        })
    );
    std::thread::sleep(Duration::from_millis(1100));
    match why_not(2, 3) {
        Some(MissReason::Expired { age, limit }) => {
            assert_eq!(limit, Duration::from_secs(1));
            assert!(age > limit, "{age:?}");
        }
        other => panic!("expected an expired entry, got {other:?}"),
    }
}

static CLEARED: LazyLock<Memory> = LazyLock::new(|| Memory::new(memo_tests::process_cache_dir()));

#[memory::cache(memory = CLEARED)]
fn volume(side: u64) -> u64 {
    side * side * side
}

#[test]
fn after_a_clear_a_call_is_a_first_call_again() {
    let why_not = |side| memory::handle(|| volume(side)).why_not();
    assert_eq!(volume(2), 8);
    assert_eq!(
        why_not(3),
        Some(MissReason::NewArguments {
            differ: vec!["side".into()],
            same: vec![],
        })
    );
    CLEARED.clear().unwrap();
    assert_eq!(
        why_not(3),
        Some(MissReason::FirstCall),
        "after Memory::clear"
    );
    assert_eq!(volume(2), 8);
    memory::handle(|| volume(2)).clear().unwrap();
    assert_eq!(
        why_not(3),
        Some(MissReason::FirstCall),
        "after the function's clear"
    );
}
