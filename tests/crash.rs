//! Crashes: 200 runs killed with SIGKILL at random moments while they write
//! entries. Afterwards every entry verifies or is absent, nothing
//! half-written is left, and no wrong value is ever returned.

use std::process::{Command, Stdio};
use std::time::Duration;

use memo_tests::{Random, cache_dir, entry_files, run, walk};
use memory::entry::Entry;

const CRASHER: &str = env!("CARGO_BIN_EXE_crasher");
const RUNS: u64 = 200;

#[test]
fn runs_killed_during_writes_leave_only_valid_entries() {
    let cache = cache_dir();
    let mut random = Random(0x2545_F491_4F6C_DD1D);
    for seed in 0..RUNS {
        let mut child = Command::new(CRASHER)
            .env("MEMO_CACHE_DIR", cache.path())
            .arg(seed.to_string())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the crasher");
        std::thread::sleep(Duration::from_micros(random.next_u64() % 40_000));
        let _ = child.kill(); // SIGKILL
        let output = child.wait_with_output().unwrap();
        // Killed, or (never) exited on its own: a wrong value exits with 3.
        assert_ne!(
            output.status.code(),
            Some(3),
            "run {seed} saw a wrong value"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("wrong result"), "run {seed}: {stderr}");
    }

    let entries = entry_files(cache.path());
    assert!(
        entries.len() > 20,
        "the runs wrote entries ({})",
        entries.len()
    );
    for path in &entries {
        let bytes = std::fs::read(path).unwrap();
        let entry =
            Entry::parse(&bytes, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let call = entry.meta().unwrap().call;
        let key: u64 = call
            .trim_start_matches("blob(")
            .trim_end_matches(')')
            .parse()
            .unwrap();
        let output: Vec<u64> = entry.output().unwrap();
        assert_eq!(output.len(), 16 * 1024, "{call}");
        assert_eq!(
            output[1],
            key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 1,
            "{call}"
        );
    }
    let leftovers: Vec<_> = walk(cache.path())
        .into_iter()
        .filter(|p| p.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "half-written files: {leftovers:?}");

    // Every key of every run, through the cache: hits verify, the rest are
    // computed; none is wrong, and no lock of a killed run blocks.
    let checked = run(CRASHER, cache.path(), &["check", &RUNS.to_string()]);
    assert_eq!(checked.stdout.trim(), format!("checked {}", RUNS * 8));
    assert!(checked.stderr.is_empty(), "{checked:?}");
}
