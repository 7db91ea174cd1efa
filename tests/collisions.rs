//! Name collisions (joblib's gotcha, which it detects by a heuristic that
//! misfires): two cached functions of one identity are reported once,
//! naming both `file:line`s, when one of them is first called — and their
//! results never mix, across runs, nor does managing one (`gc_stale`, a
//! handle's `clear`) touch the other's. In one scope they are a compile
//! error (see `ui/name_collision_same_scope.rs`).

use memo_tests::{cache_dir, run};

const COLLISIONS: &str = env!("CARGO_BIN_EXE_collisions");
const FILE: &str = "tests/src/bin/collisions.rs";

/// The line of the first line of `source` containing `needle`, 1-based.
fn line_of(needle: &str, nth: usize) -> usize {
    let source = include_str!("src/bin/collisions.rs");
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .nth(nth)
        .map(|(at, _)| at + 1)
        .unwrap_or_else(|| panic!("{needle} #{nth} not in the source"))
}

#[test]
fn colliding_functions_return_their_own_results_across_two_runs() {
    let cache = cache_dir();
    let expected = [
        "first = 2",
        "second = 3",
        "third = 101",
        "fourth = 201",
        "reports = 10",
        "legacy = 100",
        "inherent = 2",
        "trait = 3",
    ];
    let first = run(COLLISIONS, cache.path(), &["all"]);
    for line in expected {
        assert_eq!(first.count(line), 1, "{line}: {first:?}");
    }
    assert_eq!(first.stdout.matches("computing").count(), 8, "{first:?}");
    let second = run(COLLISIONS, cache.path(), &["all"]);
    for line in expected {
        assert_eq!(second.count(line), 1, "{line}: {second:?}");
    }
    assert_eq!(second.stdout.matches("computing").count(), 0, "{second:?}");
}

#[test]
fn each_collision_is_reported_once_naming_both_locations() {
    let cache = cache_dir();
    let all = run(COLLISIONS, cache.path(), &["all"]);
    let reports: Vec<&str> = all
        .stderr
        .lines()
        .filter(|line| line.contains("share the identity"))
        .collect();
    assert_eq!(reports.len(), 4, "{reports:#?}");
    let expect = |identity: &str, needle: &str| {
        let report = reports
            .iter()
            .find(|r| r.contains(&format!("`{identity}`")))
            .unwrap_or_else(|| panic!("no report for {identity}: {reports:#?}"));
        for nth in 0..2 {
            let location = format!("{FILE}:{}", line_of(needle, nth));
            assert!(report.contains(&location), "{location} in {report}");
        }
    };
    expect("collisions::helper", "fn helper(");
    expect("collisions::shift", "fn shift(");
    expect("reports::total", "pub fn total(");
    expect("collisions::Tool::run", "fn run(&self) -> u64 {");
}

#[test]
fn an_unrelated_call_reports_no_collision() {
    let cache = cache_dir();
    let unrelated = run(COLLISIONS, cache.path(), &["unrelated"]);
    assert!(
        !unrelated.stderr.contains("share the identity"),
        "{unrelated:?}"
    );
}

#[test]
fn a_collision_is_reported_when_one_of_its_functions_is_first_called() {
    let cache = cache_dir();
    let helpers = run(COLLISIONS, cache.path(), &["helpers"]);
    let reports: Vec<&str> = helpers
        .stderr
        .lines()
        .filter(|line| line.contains("share the identity"))
        .collect();
    assert_eq!(reports.len(), 1, "{helpers:?}");
    assert!(reports[0].contains("`collisions::helper`"), "{reports:?}");
}

/// How many `computing` lines a run printed.
fn computed(run: &memo_tests::Run) -> usize {
    run.stdout.matches("computing").count()
}

#[test]
fn gc_stale_keeps_the_live_entries_of_both_colliding_definitions() {
    let cache = cache_dir();
    let first = run(COLLISIONS, cache.path(), &["helpers"]);
    assert_eq!(computed(&first), 2, "{first:?}");
    run(COLLISIONS, cache.path(), &["gc"]);
    let again = run(COLLISIONS, cache.path(), &["helpers"]);
    assert_eq!(
        computed(&again),
        0,
        "gc_stale removed a live entry: {again:?}"
    );
    assert_eq!(again.count("first = 2"), 1, "{again:?}");
    assert_eq!(again.count("second = 3"), 1, "{again:?}");
}

#[test]
fn a_handle_clear_on_one_definition_leaves_the_other_results() {
    let cache = cache_dir();
    run(COLLISIONS, cache.path(), &["helpers"]);
    let cleared = run(COLLISIONS, cache.path(), &["clear-first"]);
    assert_eq!(cleared.count("computing first helper(1)"), 1, "{cleared:?}");
    let again = run(COLLISIONS, cache.path(), &["helpers"]);
    assert_eq!(
        computed(&again),
        0,
        "the clear reached the other definition: {again:?}"
    );
}

#[test]
fn each_colliding_definition_has_its_own_directory() {
    let cache = cache_dir();
    run(COLLISIONS, cache.path(), &["helpers"]);
    let mut dirs: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("collisions.helper"))
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    assert!(
        dirs.iter().all(|d| d.starts_with("collisions.helper@")),
        "{dirs:?}"
    );
}

#[test]
fn the_registry_lists_every_definition() {
    let cache = cache_dir();
    let listed = run(COLLISIONS, cache.path(), &["registry"]);
    let lines: Vec<&str> = listed.stdout.lines().collect();
    let with = |identity: &str| -> Vec<&str> {
        lines
            .iter()
            .copied()
            .filter(|line| line.starts_with(&format!("{identity} ")))
            .collect()
    };
    assert_eq!(with("collisions::helper").len(), 2, "{lines:#?}");
    // Same code: the keys hold the location. Different code: no need.
    assert!(
        with("collisions::shift")
            .iter()
            .all(|l| l.ends_with("keyed_by_location=true"))
    );
    assert!(
        with("collisions::helper")
            .iter()
            .all(|l| l.ends_with("keyed_by_location=false"))
    );
    assert_eq!(with("collisions::Tool::run").len(), 2, "{lines:#?}");
    assert_eq!(with("collisions::unrelated").len(), 1, "{lines:#?}");
    assert!(
        with("collisions::unrelated")[0]
            .contains(&format!("{FILE}:{}", line_of("fn unrelated(", 0)))
    );
}

#[test]
fn an_explicit_name_keeps_results_when_a_function_moves() {
    let cache = cache_dir();
    let before = run(env!("CARGO_BIN_EXE_renamed_before"), cache.path(), &[]);
    assert_eq!(before.count("computing step(4)"), 1, "{before:?}");
    let after = run(env!("CARGO_BIN_EXE_renamed_after"), cache.path(), &[]);
    assert_eq!(after.count("computing step(4)"), 0, "{after:?}");
    assert_eq!(after.count("step(4) = 12"), 1, "{after:?}");
    assert!(
        after.stderr.is_empty(),
        "one definition per program: {after:?}"
    );
}
