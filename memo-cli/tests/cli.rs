//! `memo` as the user sees it: every case in `tests/cmd/*.trycmd` runs the
//! real binary in its own sandbox and compares what it prints and its exit
//! status (trycmd, as clap's own tests do). `TRYCMD=overwrite cargo test -p
//! memo-cli --test cli` rewrites the expected output after a deliberate
//! change.
//!
//! The cases build their cache first with `memo-fixture DIR [--corrupt]`:
//! this test binary itself, run with `MEMO_CLI_FIXTURE` set. It writes a
//! small cache with fixed keys and times (entries, usage records, `.current`
//! notes, a stale code version), and `MEMO_NOW` pins the clock `memo`
//! measures ages from, so the output is the same on every run.

use std::path::Path;
use std::time::{Duration, SystemTime};

use memory::MissKind;
use memory::entry::{ArgRecord, EntryMeta, MissRecord, Origin};
use memory::manage::{Cache, UsageRecord};

/// "Now" for every case: 2024-05-01 12:00:00 UTC.
const NOW: u64 = 1_714_564_800;

fn main() {
    if std::env::var_os("MEMO_CLI_FIXTURE").is_some() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        make_fixture(
            Path::new(&args[0]),
            args.iter().any(|a| a == "--corrupt"),
            args.iter().any(|a| a == "--reasons"),
        );
        return;
    }
    let fixture = std::env::current_exe().expect("the test binary's path");
    trycmd::TestCases::new()
        .register_bin("memo", std::path::PathBuf::from(env!("CARGO_BIN_EXE_memo")))
        .register_bin("memo-fixture", fixture)
        .env("MEMO_CLI_FIXTURE", "1")
        .env("MEMO_NOW", NOW.to_string())
        .env("MEMO_CACHE_DIR", "cache")
        .env("NO_COLOR", "1")
        // Help is wrapped to the terminal; pin its width.
        .env("COLUMNS", "100")
        .case("tests/cmd/*.trycmd")
        .run();
}

/// The kind of reason the miss that computed fixture entry `key` had.
fn kind_of(key: u128) -> MissKind {
    match key >> 112 {
        0x3f9a => MissKind::CodeChanged,
        0xa04e if key >> 96 == 0xa04e_93b8 => MissKind::NewArguments,
        0xc7e5 => MissKind::Expired,
        _ => MissKind::FirstCall,
    }
}

/// Why the fixture entry `key` was computed (with `--reasons`).
fn origin_of(key: u128) -> Origin {
    let (kind, reason) = match key >> 112 {
        0x3f9a => (
            "code changed",
            "code changed (version aaaa000000000001 → aaaa000000000002); \
             the old version's newest result was computed 37d 0h ago",
        ),
        0xa04e if key >> 96 == 0xa04e_93b8 => ("new arguments", "new arguments: `x` differs"),
        0xc7e5 => (
            "expired",
            "the stored entry expired (computed 8d 0h ago, expires after 7d 0h)",
        ),
        _ => ("first call", "first call of the function"),
    };
    Origin {
        miss: Some(MissRecord {
            kind: kind.to_owned(),
            reason: reason.to_owned(),
        }),
        ..Origin::default()
    }
}

/// A time `ago` before [`NOW`].
fn ago(ago: Duration) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW) - ago
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// One entry of the fixture.
struct Fixture {
    dir: &'static str,
    identity: &'static str,
    fingerprint: u128,
    key: u128,
    call: &'static str,
    output: &'static str,
    created: Duration,
    duration: Duration,
    /// When it was hit (before now).
    hits: Vec<Duration>,
}

fn make_fixture(root: &Path, corrupt: bool, reasons: bool) {
    let entries = [
        Fixture {
            dir: "demo.fit",
            identity: "demo::fit",
            fingerprint: 0xaaaa_0000_0000_0002_0000_0000_0000_0001,
            key: 0x3f9a_1c52_77e0_b4d1_9c02_6a1e_55f3_d0a7,
            call: "fit([1.0, 2.0, 3.0], 0.5)",
            output: "model-a",
            created: 3 * DAY,
            duration: Duration::from_millis(2500),
            hits: vec![2 * DAY, 5 * MINUTE],
        },
        Fixture {
            dir: "demo.fit",
            identity: "demo::fit",
            fingerprint: 0xaaaa_0000_0000_0002_0000_0000_0000_0001,
            key: 0xa04e_93b8_1d6f_c2e5_07b9_e4a2_3c81_5f16,
            call: "fit([4.0, 5.0], 0.1)",
            output: "model-b",
            created: 2 * DAY,
            duration: Duration::from_millis(1200),
            hits: vec![],
        },
        Fixture {
            dir: "demo.fit",
            identity: "demo::fit",
            fingerprint: 0xaaaa_0000_0000_0001_0000_0000_0000_0001,
            key: 0xa04e_1f60_4a93_e7b5_2e18_9d4f_b076_1ac3,
            call: "fit([1.0, 2.0, 3.0], 0.5)",
            output: "old-model",
            created: 40 * DAY,
            duration: Duration::from_millis(3000),
            hits: vec![35 * DAY],
        },
        Fixture {
            dir: "demo.load",
            identity: "demo::load",
            fingerprint: 0xbbbb_0000_0000_0001_0000_0000_0000_0001,
            key: 0xc7e5_0b3a_96d2_4f81_a3c9_1e67_d25b_80f4,
            call: "load(\"data/train.csv\")",
            output: "rows: 1000",
            created: 10 * DAY,
            duration: Duration::from_millis(40),
            hits: vec![9 * DAY, 3 * HOUR, 2 * HOUR, HOUR],
        },
        Fixture {
            dir: "demo.load",
            identity: "demo::load",
            fingerprint: 0xbbbb_0000_0000_0001_0000_0000_0000_0001,
            key: 0x19b4_d7e2_5c08_a3f6_7d51_c0e9_842a_b36e,
            call: "load(\"data/test.csv\")",
            output: "rows: 250",
            created: 45 * DAY,
            duration: Duration::from_millis(15),
            hits: vec![],
        },
    ];
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(
        root.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n# This directory is a memo cache.\n",
    )
    .unwrap();
    let mut records = Vec::new();
    for e in &entries {
        let version = format!("{:016x}", e.fingerprint >> 64);
        let dir = root.join(e.dir).join(&version);
        std::fs::create_dir_all(&dir).unwrap();
        let created = ago(e.created);
        let meta = EntryMeta {
            deps: Vec::new(),
            identity: e.identity.to_owned(),
            fingerprint: format!("{:032x}", e.fingerprint),
            output_type: "alloc::string::String".to_owned(),
            call: e.call.to_owned(),
            args: vec![ArgRecord {
                name: "x".to_owned(),
                digest: format!("{:032x}", e.key ^ 0xffff),
            }],
            type_args: Vec::new(),
            created_ms: created
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
            duration_s: e.duration.as_secs_f64(),
            origin: match reasons {
                true => origin_of(e.key),
                false => Default::default(),
            },
        };
        let bytes = memory::entry::encode(
            e.key,
            memory::entry::type_hash(&meta.output_type),
            &meta,
            &e.output.to_owned(),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{:032x}.memo", e.key)), bytes).unwrap();
        records.push(UsageRecord {
            key: e.key,
            function_dir: e.dir.to_owned(),
            time: created,
            hit: false,
            duration: Some(e.duration),
            reason: if reasons {
                kind_of(e.key)
            } else {
                MissKind::Unknown
            },
            stored: true,
        });
        for hit in &e.hits {
            records.push(UsageRecord {
                key: e.key,
                function_dir: e.dir.to_owned(),
                time: ago(*hit),
                hit: true,
                duration: None,
                reason: MissKind::Unknown,
                stored: true,
            });
        }
    }
    if reasons {
        // Misses whose results are not stored: one replaced since (before
        // train.csv expired, it was computed for new arguments), one whose
        // result was an `Err`.
        let miss = |key: u128, time: Duration, reason: MissKind, stored: bool| UsageRecord {
            key,
            function_dir: "demo.load".to_owned(),
            time: ago(time),
            hit: false,
            duration: Some(Duration::from_millis(30)),
            reason,
            stored,
        };
        records.push(miss(
            0xc7e5_0b3a_96d2_4f81_a3c9_1e67_d25b_80f4,
            18 * DAY,
            MissKind::NewArguments,
            true,
        ));
        records.push(miss(
            0x5d20_8c1e_b7a4_4e39_9f06_2b7d_e1c8_a053,
            DAY,
            MissKind::NewArguments,
            false,
        ));
    }
    // The programs use fit's newer code now; its older version is stale.
    std::fs::write(
        root.join("demo.fit/.current"),
        "aaaa000000000002\ndemo::fit\n",
    )
    .unwrap();
    std::fs::write(
        root.join("demo.load/.current"),
        "bbbb000000000001\ndemo::load\n",
    )
    .unwrap();
    Cache::open(root).unwrap().write_usage(&records).unwrap();
    if corrupt {
        // A bit flipped in the output of one entry.
        let path = root.join("demo.load/bbbb000000000001").join(format!(
            "{:032x}.memo",
            0x19b4_d7e2_5c08_a3f6_7d51_c0e9_842a_b36eu128
        ));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
    }
}
