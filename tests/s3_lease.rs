//! Compute-once across machines: a lease per key in a shared S3 bucket,
//! against a real S3 server (`bash scripts/test.sh` starts moto and sets
//! `AWS_ENDPOINT_URL` and `MEMO_TEST_S3_BUCKET`; without them these tests
//! fail, saying so). Every "machine" is a separate process with a local
//! tier of its own; each test works below a prefix of its own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use memo_tests::{Bucket, Run, entry_files, run_with};

const WORKER: &str = env!("CARGO_BIN_EXE_s3_lease_worker");

/// The test's own prefix of the bucket, shared by the worker "machines".
struct Shared(Bucket);

impl std::ops::Deref for Shared {
    type Target = Bucket;
    fn deref(&self) -> &Bucket {
        &self.0
    }
}

impl Shared {
    fn new(test: &str) -> Shared {
        Shared(Bucket::new(test, WORKER))
    }

    /// The worker as machine `machine`, its lease time `lease_ms` if given.
    fn command(&self, machine: &str, lease_ms: Option<u64>, args: &[&str]) -> Command {
        let mut command = self.machine(machine);
        command.env_remove("MEMO_STORE_READ_ONLY").args(args);
        if let Some(ms) = lease_ms {
            command.env("S3_LEASE_WORKER_LEASE_MS", ms.to_string());
        }
        command
    }

    /// Starts the worker with its output piped, for the test to read.
    fn spawn(&self, machine: &str, lease_ms: Option<u64>, args: &[&str]) -> Child {
        self.command(machine, lease_ms, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the worker starts")
    }

    /// Waits until some machine holds a lease; fails after a minute.
    fn wait_for_a_lease(&self) {
        let began = Instant::now();
        while self.objects(".leases/").is_empty() {
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "no machine took a lease within a minute"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Waits for a spawned worker and fails (with its output) unless it
/// succeeded.
fn finish(child: Child) -> Run {
    let output = child.wait_with_output().expect("the worker ran");
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(output.status.success(), "the worker failed: {run:?}");
    run
}

fn computed(run: &Run) -> usize {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("computing"))
        .count()
}

#[test]
fn two_machines_missing_one_slow_key_at_once_compute_it_once() {
    let shared = Shared::new("lease-once");
    // Both start together; the key takes 3 s to compute.
    let a = shared.spawn("a", None, &["slow", "7", "3000"]);
    let b = shared.spawn("b", None, &["slow", "7", "3000"]);
    let (a, b) = (finish(a), finish(b));
    assert_eq!(
        computed(&a) + computed(&b),
        1,
        "one machine computes, the other waits for its result:\n{a:?}\n{b:?}"
    );
    for run in [&a, &b] {
        assert_eq!(run.count("slow(7) = 49"), 1, "{run:?}");
    }
    assert_eq!(shared.entries().len(), 1, "one entry in the bucket");
    // The waiter fetched the result into its own tier.
    assert_eq!(entry_files(&shared.tier("a")).len(), 1);
    assert_eq!(entry_files(&shared.tier("b")).len(), 1);
    assert_eq!(
        shared.objects(".leases/"),
        Vec::<String>::new(),
        "leases are removed once the result is stored"
    );
}

#[test]
fn a_killed_lease_holders_key_is_computed_by_another_machine_after_the_lease_expires() {
    let shared = Shared::new("lease-killed");
    // The holder's leases last 2 s; its computation would take a minute.
    let mut holder = shared.spawn("a", Some(2_000), &["slow", "9", "60000"]);
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let started = lines.next().expect("a line").expect("text");
    assert_eq!(started, "computing slow(9)");
    let leases = shared.objects(".leases/");
    assert_eq!(leases.len(), 1, "the holder holds a lease: {leases:?}");
    // Renewed while it computes: longer than its lease time, still there.
    std::thread::sleep(Duration::from_millis(3_000));
    assert_eq!(shared.objects(".leases/"), leases, "renewed, not expired");
    holder.kill().expect("SIGKILL");
    holder.wait().unwrap();
    assert_eq!(
        shared.objects(".leases/"),
        leases,
        "a dead holder leaves it"
    );

    let began = Instant::now();
    let taker = run_with(&mut shared.command("b", None, &["slow", "9", "10"]));
    let took = began.elapsed();
    assert_eq!(taker.count("computing slow(9)"), 1, "{taker:?}");
    assert_eq!(taker.count("slow(9) = 81"), 1, "{taker:?}");
    // It waited for the lease to expire (2 s unrenewed, on its own clock).
    assert!(
        took >= Duration::from_millis(2_000),
        "took over after {took:?}"
    );
    assert_eq!(shared.entries().len(), 1);
    assert_eq!(shared.objects(".leases/"), Vec::<String>::new());
    // Leases are not entries: a third machine hits, the tool lists one entry.
    let third = run_with(&mut shared.command("c", None, &["slow", "9", "10"]));
    assert_eq!(computed(&third), 0, "{third:?}");
}

#[test]
fn machines_wait_for_a_live_lease_and_then_hit() {
    let shared = Shared::new("lease-wait");
    let holder = shared.spawn("a", Some(1_000), &["slow", "5", "2500"]);
    // Wait until a holds the lease, then three more machines ask.
    shared.wait_for_a_lease();
    let waiters: Vec<Child> = ["b", "c", "d"]
        .iter()
        .map(|m| shared.spawn(m, Some(1_000), &["slow", "5", "2500"]))
        .collect();
    let holder = finish(holder);
    assert_eq!(computed(&holder), 1, "{holder:?}");
    for waiter in waiters {
        let run = finish(waiter);
        assert_eq!(
            computed(&run),
            0,
            "the lease was renewed, never taken: {run:?}"
        );
        assert_eq!(run.count("slow(5) = 25"), 1, "{run:?}");
    }
    assert_eq!(shared.objects(".leases/"), Vec::<String>::new());
}

#[test]
fn leases_are_not_entries_and_administration_leaves_live_ones() {
    let shared = Shared::new("lease-admin");
    run_with(&mut shared.command("a", None, &["square", "1", "2"]));
    // A machine computing right now holds a lease.
    let holder = shared.spawn("b", Some(30_000), &["slow", "3", "6000"]);
    shared.wait_for_a_lease();
    let live = shared.objects(".leases/");
    let memo = memo_tests::memo_cli();
    let ls = run_with(Command::new(&memo).args(["--location", &shared.url, "--json", "ls"]));
    let listing: serde_json::Value = serde_json::from_str(&ls.stdout).expect("JSON");
    let functions = listing["functions"].as_array().expect("functions");
    assert_eq!(functions.len(), 1, "the lease is no function: {ls:?}");
    assert_eq!(functions[0]["entries"], 2, "the lease is no entry: {ls:?}");
    let verify = run_with(Command::new(&memo).args(["--location", &shared.url, "verify"]));
    assert!(!verify.stdout.contains(".leases"), "{verify:?}");
    // gc by hand (Memory::reduce_size) and `memo gc`, `memo clear`, and
    // Memory::clear: entries go, the live lease stays.
    let gc = run_with(&mut shared.command("c", None, &["gc"]));
    assert_eq!(gc.count("reduced 2"), 1, "{gc:?}");
    run_with(&mut shared.command("a", None, &["square", "1"]));
    run_with(Command::new(&memo).args([
        "--location",
        &shared.url,
        "--no-progress",
        "gc",
        "--items-limit",
        "0",
    ]));
    assert_eq!(shared.entries(), Vec::<String>::new());
    run_with(&mut shared.command("a", None, &["square", "1"]));
    run_with(Command::new(&memo).args(["--location", &shared.url, "clear", "--yes"]));
    run_with(&mut shared.command("c", None, &["clear"]));
    assert_eq!(
        shared.objects(".leases/"),
        live,
        "a live lease is never removed"
    );
    let holder = finish(holder);
    assert_eq!(computed(&holder), 1, "{holder:?}");
    assert_eq!(shared.objects(".leases/"), Vec::<String>::new());
    assert_eq!(shared.entries().len(), 1);
}
