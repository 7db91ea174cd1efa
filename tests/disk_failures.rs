//! A cache that cannot be written — a full file system, a file-size limit,
//! a read-only directory — still returns every result, with one warning,
//! and leaves no partial entry behind.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use memo_tests::{cache_dir, entry_files, run, run_with};

const WORKER: &str = env!("CARGO_BIN_EXE_worker");

fn squares(n: u64) -> Vec<String> {
    let mut args = vec!["square".to_owned()];
    args.extend((1..=n).map(|k| k.to_string()));
    args
}

fn assert_all_squares(run: &memo_tests::Run, n: u64) {
    for k in 1..=n {
        assert_eq!(
            run.count(&format!("square({k}) = {}", k * k)),
            1,
            "square({k}): {run:?}"
        );
    }
}

fn temp_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for child in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = child.path();
        if path.is_dir() {
            found.extend(temp_files(&path));
        } else if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".tmp")
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[test]
fn a_full_file_system_returns_results_with_one_warning() {
    // A 16 KiB tmpfs in a private mount namespace (`unshare -rm` works for
    // root and, with user namespaces, for everyone else).
    let cache = cache_dir();
    let script = r#"mount -t tmpfs -o size=16k memo-full "$MEMO_CACHE_DIR" || exit 90
"$0" "$@" || exit 91
echo "--- second run"
"$0" "$@" || exit 92
echo "--- temp files: $(find "$MEMO_CACHE_DIR" -name '.tmp*' | wc -l)"
echo "--- entries: $(find "$MEMO_CACHE_DIR" -name '*.memo' | wc -l)""#;
    let output = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, WORKER])
        .args(squares(40))
        .env("MEMO_CACHE_DIR", cache.path())
        .output()
        .expect("`unshare` (util-linux) is needed to mount a small tmpfs for this test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(90),
        "cannot mount a tmpfs: {stderr}"
    );
    assert!(
        output.status.success(),
        "{}: {stdout}\n{stderr}",
        output.status
    );

    let (first, rest) = stdout.split_once("--- second run\n").unwrap();
    let first = memo_tests::Run {
        stdout: first.to_owned(),
        stderr: String::new(),
    };
    assert_all_squares(&first, 40);
    let second = memo_tests::Run {
        stdout: rest.to_owned(),
        stderr: String::new(),
    };
    assert_all_squares(&second, 40);
    let stored: usize = rest
        .rsplit("--- entries: ")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        stored > 0 && stored < 40,
        "some entries fit, not all: {stored}"
    );
    let recomputed = rest.lines().filter(|l| l.starts_with("computing")).count();
    assert_eq!(
        recomputed,
        40 - stored,
        "the stored entries hit in the second run"
    );
    assert!(rest.contains("--- temp files: 0"), "{rest}");
    // One warning per process, naming the cause.
    assert_eq!(stderr.matches("warning").count(), 2, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
}

#[test]
fn a_file_size_limit_returns_results_with_one_warning() {
    let cache = cache_dir();
    let mut command = Command::new(WORKER);
    command.env("MEMO_CACHE_DIR", cache.path()).args(squares(5));
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // Writes past 64 bytes fail with EFBIG instead of killing the
            // process with SIGXFSZ.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let run = run_with(&mut command);
    assert_all_squares(&run, 5);
    assert_eq!(run.stderr.matches("warning").count(), 1, "{run:?}");
    assert!(run.stderr.contains("File too large"), "{run:?}");
    assert!(
        entry_files(cache.path()).is_empty(),
        "a partial entry was left"
    );
    assert!(temp_files(cache.path()).is_empty());
}

#[test]
fn a_read_only_cache_serves_hits_and_computes_the_rest() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1", "2"]);
    make_read_only(cache.path());
    let mut command = Command::new(WORKER);
    command
        .env("MEMO_CACHE_DIR", cache.path())
        .args(["square", "1", "2", "3", "4"]);
    let run = run_with(unprivileged(&mut command, cache.path()));
    assert_all_squares(&run, 4);
    assert_eq!(
        run.count("computing square(1)"),
        0,
        "hits are served: {run:?}"
    );
    assert_eq!(
        run.count("computing square(2)"),
        0,
        "hits are served: {run:?}"
    );
    assert_eq!(run.count("computing square(3)"), 1);
    assert_eq!(run.stderr.matches("warning").count(), 1, "{run:?}");
    assert_eq!(entry_files(cache.path()).len(), 2);
}

#[test]
fn gc_on_a_read_only_cache_reports_what_really_happened() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1", "2", "3", "4"]);
    make_read_only(cache.path());
    let mut command = Command::new(memo_tests::memo_cli());
    command
        .args([
            "--location",
            cache.path().to_str().unwrap(),
            "--no-progress",
            "--json",
        ])
        .args(["gc", "--items-limit", "0"]);
    let output = unprivileged(&mut command, cache.path()).output().unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"));
    assert_eq!(output.status.code(), Some(1), "entries stayed: {output:?}");
    assert_eq!(report["removed"]["entries"], 0, "{report}");
    assert_eq!(report["failed"], 4, "{report}");
    assert_eq!(entry_files(cache.path()).len(), 4);
}

/// Permission bits do not stop root: as root, `command` runs as `nobody`,
/// with the parent of `cache` open to it.
fn unprivileged<'c>(command: &'c mut Command, cache: &Path) -> &'c mut Command {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        std::fs::set_permissions(
            cache.parent().unwrap(),
            std::fs::Permissions::from_mode(0o1777),
        )
        .ok();
        command.uid(65534).gid(65534);
    }
    command
}

/// Directories `0555`, files `0444`, readable by anyone.
fn make_read_only(dir: &Path) {
    for child in std::fs::read_dir(dir).unwrap().flatten() {
        let path = child.path();
        if child.file_type().unwrap().is_dir() {
            make_read_only(&path);
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
}
