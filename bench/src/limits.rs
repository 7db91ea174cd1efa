//! The machine's own limits, measured in the same run as memo: for the
//! bytes of an array, a plain `write` into the page cache, a plain `pread`
//! into fresh memory, and `memcpy` (xxh3-128 is measured by the Python side,
//! with the C library); for the small calls, the file-system calls any
//! on-disk hit or miss makes (`small_files`). Each is timed alone, the
//! median kept.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Instant;

use crate::{Limit, LimitMeasurement, MIB, Plan, median};

pub fn run(root: &Path, plan: &Plan) -> Vec<LimitMeasurement> {
    let dir = root.join("limits");
    std::fs::create_dir_all(&dir).expect("a directory for the limits");
    let mut results = small_files(&dir, plan);
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

/// About the size of a small call's entry (a `u64` and its metadata).
const SMALL_FILE: usize = 512;

/// What the file system costs a small call, whatever the cache: opening,
/// reading and closing a small file (a hit), and creating one (a miss),
/// plainly and crash-safely.
fn small_files(dir: &Path, plan: &Plan) -> Vec<LimitMeasurement> {
    let mut results = Vec::new();
    let mut record = |limit: Limit, samples: Vec<f64>| {
        let seconds = median(samples);
        eprintln!("  limit  {:<52} {seconds:.9} s", limit.label());
        results.push(LimitMeasurement {
            limit,
            mib: 0,
            seconds,
        });
    };
    let bytes = vec![7u8; SMALL_FILE];
    let path = dir.join("small-read");
    std::fs::write(&path, &bytes).expect("write");
    let mut buffer = vec![0u8; 16 * 1024];
    let read = |_| {
        let started = Instant::now();
        let mut file = File::open(&path).expect("open");
        let read = file.read(&mut buffer).expect("read");
        drop(file);
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(read, SMALL_FILE);
        elapsed
    };
    record(Limit::SmallRead, (0..plan.small_hits).map(read).collect());

    let created = dir.join("small-created");
    std::fs::create_dir_all(&created).expect("a directory for new files");
    let create = |i| {
        let path = created.join(format!("{i:032x}"));
        let started = Instant::now();
        let mut file = File::create_new(&path).expect("create");
        file.write_all(&bytes).expect("write");
        drop(file);
        started.elapsed().as_secs_f64()
    };
    record(
        Limit::SmallCreate,
        (0..plan.small_misses).map(create).collect(),
    );

    let linked = dir.join("small-linked");
    std::fs::create_dir_all(&linked).expect("a directory for new files");
    let create_atomic = |i| {
        let name = CString::new(format!("{i:032x}")).expect("no NUL");
        let started = Instant::now();
        let dir = File::open(&linked).expect("open the directory");
        let mut file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o600)
            .open(&linked)
            .expect("O_TMPFILE");
        file.write_all(&bytes).expect("write");
        // SAFETY: both descriptors are open; the names are NUL-terminated.
        let linked = unsafe {
            libc::linkat(
                file.as_raw_fd(),
                c"".as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        assert_eq!(linked, 0, "linkat: {}", std::io::Error::last_os_error());
        drop((file, dir));
        started.elapsed().as_secs_f64()
    };
    record(
        Limit::SmallCreateAtomic,
        (0..plan.small_misses).map(create_atomic).collect(),
    );
    for dir in [created, linked] {
        std::fs::remove_dir_all(dir).expect("remove the new files");
    }
    std::fs::remove_file(path).expect("remove");
    results
}
