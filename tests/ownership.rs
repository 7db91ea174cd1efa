//! memo removes only what it can prove is its own, and never adopts a
//! directory holding files it did not create: a user's files beside or
//! inside a cache survive every operation (library and `memo`), and
//! `MEMO_CACHE_DIR` pointing at a project, a home-like tree or `/` changes
//! nothing there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use memo_tests::{cache_dir, entry_files, memo_cli, run, run_with};

const WORKER: &str = env!("CARGO_BIN_EXE_owner_worker");

/// Every file and directory below `dir` (links not followed), with each
/// file's contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for child in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = child.path();
            let kind = child.file_type().unwrap();
            if kind.is_dir() {
                pending.push(path.clone());
                found.insert(path, None);
            } else {
                found.insert(path.clone(), std::fs::read(&path).ok());
            }
        }
    }
    found
}

/// A user's files: a project with a `.git`, nested directories, and names
/// that look like memo's.
fn plant_user_files(dir: &Path) -> Vec<PathBuf> {
    let files = [
        "Cargo.toml",
        ".git/HEAD",
        ".git/objects/ab/cdef",
        "src/main.rs",
        "src/0123456789abcdef/00000000000000000000000000000001.memo",
        "notes.txt",
    ];
    files
        .iter()
        .map(|name| {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, format!("the user's {name}")).unwrap();
            path
        })
        .collect()
}

fn assert_intact(files: &[PathBuf]) {
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy();
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("{} was removed: {e}", file.display()));
        assert!(text.ends_with(&*name), "{} was changed", file.display());
    }
}

#[test]
fn a_users_files_inside_a_cache_survive_every_operation() {
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1", "2", "3"]);
    let function = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().contains("square"))
        .unwrap()
        .path();
    let version = std::fs::read_dir(&function)
        .unwrap()
        .flatten()
        .find(|e| e.file_type().unwrap().is_dir())
        .unwrap()
        .path();
    let mut files = plant_user_files(cache.path());
    // Inside memo's own directories too, with memo-like names.
    for (dir, name) in [
        (&function, "mine.txt"),
        (&version, "mine.txt"),
        (&version, "ffffffffffffffffffffffffffffffff.memo"),
        (&version, ".tmp-0123456789abcdef.memo"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, format!("the user's {name}")).unwrap();
        files.push(path);
    }
    let memo = memo_cli();
    let location = cache.path().to_str().unwrap();
    for operation in [&["forget", "1"][..], &["gc"], &["reduce"], &["clear"]] {
        let result = run(WORKER, cache.path(), operation);
        assert_eq!(result.stdout.trim(), "ok", "{operation:?}: {result:?}");
        assert_intact(&files);
        run(WORKER, cache.path(), &["square", "1", "2"]);
    }
    for arguments in [
        &["gc", "--stale"][..],
        &["gc", "--items-limit", "0"],
        &["verify", "--repair"],
        &["clear", "--yes"],
    ] {
        let output = Command::new(&memo)
            .args(["--location", location])
            .args(arguments)
            .output()
            .unwrap();
        // `verify` reports the user's entry-named files (exit 1, "problems
        // found") and leaves them.
        let expected = if arguments[0] == "verify" { 1 } else { 0 };
        assert_eq!(
            output.status.code(),
            Some(expected),
            "memo {arguments:?}: {output:?}"
        );
        assert_intact(&files);
    }
    // memo's own entries are gone, the user's stay.
    let left: Vec<PathBuf> = entry_files(cache.path())
        .into_iter()
        .filter(|path| !files.contains(path))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A directory holding a user's files is never a cache: calls run
/// uncached (said once), and nothing there changes, clear included.
fn assert_never_adopted(dir: &Path) {
    let before = snapshot(dir);
    let first = run(WORKER, dir, &["square", "7", "7"]);
    assert_eq!(first.count("computing square(7)"), 2, "uncached: {first:?}");
    assert_eq!(
        first.stderr.matches("is not a memo cache").count(),
        1,
        "said once: {first:?}"
    );
    let cleared = run(WORKER, dir, &["clear"]);
    assert!(
        cleared.stdout.starts_with("error:") && cleared.stdout.contains("not a memo cache"),
        "{cleared:?}"
    );
    for operation in [&["gc"][..], &["reduce"], &["forget", "7"]] {
        run(WORKER, dir, operation);
    }
    let output = Command::new(memo_cli())
        .args(["--location", dir.to_str().unwrap(), "clear", "--yes"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not a memo cache"),
        "{output:?}"
    );
    assert_eq!(
        snapshot(dir),
        before,
        "nothing in {} changed",
        dir.display()
    );
}

#[test]
fn a_project_root_is_never_adopted() {
    let project = cache_dir();
    plant_user_files(project.path());
    assert_never_adopted(project.path());
}

#[test]
fn a_home_like_tree_is_never_adopted() {
    let home = cache_dir();
    for name in [
        ".bashrc",
        ".config/app/settings",
        "Documents/thesis.tex",
        "work/memo/x",
    ] {
        let path = home.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, name).unwrap();
    }
    assert_never_adopted(home.path());
}

#[test]
fn the_root_directory_is_never_adopted() {
    let names = |dir: &Path| -> Vec<_> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        names
    };
    let before = names(Path::new("/"));
    let run = run(WORKER, Path::new("/"), &["square", "7", "7"]);
    assert_eq!(run.count("computing square(7)"), 2, "uncached: {run:?}");
    assert!(run.stderr.contains("is not a memo cache"), "{run:?}");
    assert_eq!(names(Path::new("/")), before, "nothing was written to /");
}

#[test]
fn an_empty_or_new_directory_becomes_a_cache() {
    let parent = cache_dir();
    for dir in [
        parent.path().join("empty"),
        parent.path().join("new/nested"),
    ] {
        if dir.ends_with("empty") {
            std::fs::create_dir(&dir).unwrap();
        }
        let first = run(WORKER, &dir, &["square", "5"]);
        let second = run(WORKER, &dir, &["square", "5"]);
        assert_eq!(first.count("computing square(5)"), 1);
        assert_eq!(second.count("computing square(5)"), 0, "{second:?}");
        assert!(dir.join("CACHEDIR.TAG").is_file());
    }
}

#[test]
fn a_relative_location_is_resolved_once() {
    let dirs = cache_dir();
    let (from, to) = (dirs.path().join("from"), dirs.path().join("to"));
    std::fs::create_dir_all(&from).unwrap();
    // Another memo cache at the same relative path: a clear after the
    // `chdir` must not touch it.
    let other = to.join("rel");
    run(WORKER, &other, &["square", "3"]);
    let others = entry_files(&other);
    assert_eq!(others.len(), 1);
    let result = run_with(
        Command::new(WORKER)
            .env("MEMO_CACHE_DIR", dirs.path().join("unused"))
            .args(["relative", from.to_str().unwrap(), to.to_str().unwrap()]),
    );
    assert!(
        result.stdout.contains("cube(2) = 8") && result.stdout.ends_with("ok\n"),
        "{result:?}"
    );
    assert!(
        entry_files(&from.join("rel")).is_empty(),
        "its own cache was cleared"
    );
    assert_eq!(entry_files(&other), others, "the other cache is untouched");
}

#[test]
fn torn_markers_from_a_full_disk_are_repaired() {
    // What an older memo left when the disk was full at first use: empty
    // markers, then entries once space came back.
    let cache = cache_dir();
    run(WORKER, cache.path(), &["square", "1"]);
    std::fs::write(cache.path().join("CACHEDIR.TAG"), "").unwrap();
    std::fs::write(cache.path().join(".gitignore"), "").unwrap();
    let output = Command::new(memo_cli())
        .args([
            "--location",
            cache.path().to_str().unwrap(),
            "gc",
            "--stale",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let tag = std::fs::read_to_string(cache.path().join("CACHEDIR.TAG")).unwrap();
    assert!(
        tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"),
        "{tag:?}"
    );
    let ignore = std::fs::read_to_string(cache.path().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|line| line == "*"), "{ignore:?}");
    let again = run(WORKER, cache.path(), &["square", "1"]);
    assert_eq!(again.count("computing square(1)"), 0, "{again:?}");
}
