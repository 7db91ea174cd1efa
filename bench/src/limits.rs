//! The machine's own limits for the bytes of an array, measured in the same
//! run as memo: a plain `write` into the page cache, a plain `pread` into
//! fresh memory, and `memcpy` (xxh3-128 is measured by the Python side,
//! with the C library). Each is timed alone, the median kept.

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use crate::{Limit, LimitMeasurement, MIB, Plan, median};

pub fn run(root: &Path, plan: &Plan) -> Vec<LimitMeasurement> {
    let dir = root.join("limits");
    std::fs::create_dir_all(&dir).expect("a directory for the limits");
    let mut results = Vec::new();
    for &mib in &plan.sizes_mib {
        let reps = plan.reps(mib);
        let bytes: Vec<u8> = (0..mib * MIB).map(|i| ((i * 31) >> 3) as u8).collect();
        let mut record = |limit: Limit, samples: Vec<f64>| {
            let seconds = median(samples);
            eprintln!(
                "  limit  {:<42} {mib:>5} MiB  {seconds:.6} s",
                limit.label()
            );
            results.push(LimitMeasurement {
                limit,
                mib,
                seconds,
            });
        };

        let path = dir.join(format!("write-{mib}"));
        let write = |_| {
            let started = Instant::now();
            let mut file = File::create(&path).expect("create");
            file.write_all(&bytes).expect("write");
            drop(file);
            let elapsed = started.elapsed().as_secs_f64();
            std::fs::remove_file(&path).expect("remove");
            elapsed
        };
        write(0); // a warm-up
        record(Limit::Write, (0..reps).map(write).collect());

        let path = dir.join(format!("read-{mib}"));
        std::fs::write(&path, &bytes).expect("write");
        let _ = std::process::Command::new("sync").status();
        let file = File::open(&path).expect("open");
        let pread = |_| {
            let started = Instant::now();
            let mut fresh = vec![0u8; bytes.len()];
            file.read_exact_at(&mut fresh, 0).expect("pread");
            let elapsed = started.elapsed().as_secs_f64();
            drop(black_box(fresh));
            elapsed
        };
        pread(0);
        record(Limit::Pread, (0..reps).map(pread).collect());
        drop(file);
        std::fs::remove_file(&path).expect("remove");

        let mut target = vec![1u8; bytes.len()];
        let mut memcpy = |_| {
            let started = Instant::now();
            target.copy_from_slice(black_box(&bytes));
            black_box(&mut target);
            started.elapsed().as_secs_f64()
        };
        memcpy(0);
        record(Limit::Memcpy, (0..reps).map(&mut memcpy).collect());
    }
    results
}
