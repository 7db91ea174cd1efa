//! Shared helpers for memo's behaviour tests: running the helper programs in
//! `src/bin` as real, separate processes against a cache directory, and
//! looking at what they left on disk.

use std::path::{Path, PathBuf};
use std::process::Command;

mod bucket;
pub use bucket::Bucket;

/// What a helper program printed.
#[derive(Debug)]
pub struct Run {
    /// Standard output: the program's own lines (results, `computing ...`).
    pub stdout: String,
    /// Standard error: memo's trace and warnings.
    pub stderr: String,
}

impl Run {
    /// How many lines of stdout are exactly `line`.
    pub fn count(&self, line: &str) -> usize {
        self.stdout.lines().filter(|l| *l == line).count()
    }
}

/// Runs the helper program `exe` with `MEMO_CACHE_DIR=cache` and `args`,
/// and fails the test (showing both streams) unless it exits successfully.
pub fn run(exe: &str, cache: &Path, args: &[&str]) -> Run {
    run_with(Command::new(exe).env("MEMO_CACHE_DIR", cache).args(args))
}

/// Runs a prepared command; fails the test unless it exits successfully.
pub fn run_with(command: &mut Command) -> Run {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{run:#?}",
        output.status
    );
    run
}

/// The `memo` tool, built beside the tests by `cargo test --workspace`
/// (the tests crate cannot depend on a binary of another package).
pub fn memo_cli() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let memo = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in target/<profile>/deps")
        .join("memo");
    assert!(
        memo.is_file(),
        "{} is missing: build the workspace (`cargo test --workspace`, or \
         `cargo build -p memo-cli`) before running this test",
        memo.display()
    );
    memo
}

/// A fresh `s3://` location in the test bucket, named after `test`, or a
/// failure that says how to get an S3 server.
pub fn s3_test_url(test: &str) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let bucket = std::env::var("MEMO_TEST_S3_BUCKET").unwrap_or_default();
    assert!(
        !endpoint.is_empty() && !bucket.is_empty(),
        "the S3 tests need an S3 server: run them with `bash scripts/test.sh`, which starts \
         one (moto) and sets AWS_ENDPOINT_URL and MEMO_TEST_S3_BUCKET; or start one yourself: \
         `source scripts/s3-server.sh && memo_start_s3`"
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos();
    format!("s3://{bucket}/{test}-{:x}-{nanos:x}", std::process::id())
}

/// Bytes of every regular file below `dir`, at any depth.
pub fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let entry = entry.expect("a readable directory entry");
        let meta = entry.metadata().expect("its metadata");
        total += match meta.is_dir() {
            true => bytes_under(&entry.path()),
            false => meta.len(),
        };
    }
    total
}

/// Every entry file (`*.memo`) below `dir`, sorted.
pub fn entry_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(children) = std::fs::read_dir(&dir) else {
            continue;
        };
        for child in children.flatten() {
            let path = child.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "memo") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A fresh cache directory for one test.
pub fn cache_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("memo-test-")
        .tempdir()
        .expect("create a temporary cache directory")
}

/// A fresh cache directory that lives as long as the test process: for a
/// `static` (whose `TempDir` would never be dropped), or a `Memory` made
/// from a path. It is removed when the process exits normally, so test runs
/// do not fill the temporary directory.
pub fn process_cache_dir() -> PathBuf {
    let dir = cache_dir().keep();
    process_dirs::remove_at_exit(dir.clone());
    dir
}

/// Directories to remove when the process exits.
mod process_dirs {
    use std::path::PathBuf;
    use std::sync::{Mutex, Once};

    static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(super) fn remove_at_exit(dir: PathBuf) {
        static REGISTER: Once = Once::new();
        // SAFETY: `remove_all` is an `extern "C"` fn of the right signature
        // that neither unwinds (it catches nothing that can panic: a
        // poisoned lock is taken anyway) nor calls `exit`.
        REGISTER.call_once(|| unsafe {
            libc::atexit(remove_all);
        });
        DIRS.lock().unwrap_or_else(|e| e.into_inner()).push(dir);
    }

    extern "C" fn remove_all() {
        let dirs = std::mem::take(&mut *DIRS.lock().unwrap_or_else(|e| e.into_inner()));
        for dir in dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A small deterministic xorshift: random-looking test inputs that a failing
/// run can replay.
pub struct Random(pub u64);

impl Random {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Every path below `dir` (files and directories), as strings.
pub fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for child in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = child.path();
        found.push(path.display().to_string());
        if path.is_dir() {
            found.extend(walk(&path));
        }
    }
    found
}

/// A small crate built with cargo at test time, variant after variant in one
/// directory, each run against one shared cache: for the tests of what code
/// edits do to the cache (`code_change.rs`, `dependencies.rs`).
pub struct FixtureCrate {
    name: &'static str,
    dir: tempfile::TempDir,
    /// The cache every variant runs against.
    pub cache: tempfile::TempDir,
    target: PathBuf,
}

impl FixtureCrate {
    /// A crate called `name` depending on this workspace's memo-core.
    pub fn new(name: &'static str) -> FixtureCrate {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = tempfile::Builder::new()
            .prefix(&format!("memo-{name}-"))
            .tempdir()
            .unwrap();
        let manifest = include_str!("../fixtures/Cargo.toml.in")
            .replace("@NAME@", name)
            .replace(
                "@MEMO_CORE@",
                &workspace.join("memo-core").display().to_string(),
            );
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        // The workspace's lock file pins the same dependency versions, so the
        // build needs no network; one target directory for every fixture
        // crate builds memo-core's dependencies once.
        std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        FixtureCrate {
            name,
            dir,
            cache: cache_dir(),
            target: workspace.join("target").join("fixture-crates"),
        }
    }

    /// Builds the crate with `main_rs` as its `src/main.rs` and runs it. The
    /// program must print `variant {variant}` (outside any cached function),
    /// which proves each run uses the binary just built.
    pub fn build_and_run(&self, variant: &str, main_rs: &str) -> Run {
        self.build_and_run_with(variant, main_rs, &[])
    }

    /// [`FixtureCrate::build_and_run`] with environment variables `env` set
    /// for the run (`MEMO_VERBOSE`, say).
    pub fn build_and_run_with(&self, variant: &str, main_rs: &str, env: &[(&str, &str)]) -> Run {
        std::fs::write(self.dir.path().join("src/main.rs"), main_rs).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let build = Command::new(cargo)
            .args(["build", "--quiet", "--offline", "--manifest-path"])
            .arg(self.dir.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &self.target)
            .status()
            .expect("run cargo");
        assert!(
            build.success(),
            "building the {variant} variant of {} failed",
            self.name
        );
        let exe = self.target.join("debug").join(self.name);
        let run = run_with(
            Command::new(exe)
                .env("MEMO_CACHE_DIR", self.cache.path())
                .envs(env.iter().copied()),
        );
        assert_eq!(
            run.count(&format!("variant {variant}")),
            1,
            "stale binary: {run:?}"
        );
        run
    }
}
