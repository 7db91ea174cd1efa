//! When a walk may trust a directory's stamp (`scan_index.rs`): when the
//! directory last changed before a time its own file system gave out
//! before the walk looked at it.

use std::os::fd::AsFd;
use std::path::Path;
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags, Stat};

use crate::layout::USAGE_DIR;
use crate::sys;

use super::scan_index::ns;

/// Without a time from the file system itself ([`Settled`]), directories
/// changed this recently by this machine's clock are listed again by the
/// next walk. The kernel stamps changes with its coarse clock (one tick
/// behind at most: ≤ 10 ms), but some file systems keep whole seconds
/// (ext3 with small inodes, many NFS servers) or even two (FAT), and a
/// network file system stamps with its server's clock: two seconds covers
/// those granularities and a small clock difference. It only applies where
/// no time can be had from the file system (a cache we may not write to).
pub(crate) const RACY_MS: u64 = 2000;

/// What a walk compares directory times with to decide whether their
/// stamps can be trusted: a time the file system gave out *before* the
/// walk `fstat`s the directories it judges.
///
/// A directory's change time moves on every link, unlink or rename in it,
/// to the file system's clock at that moment, which does not run backwards
/// (Linux takes it from one coarse clock, a tick behind at most, and with
/// multigrain timestamps never below a finer time already given out; a
/// clock set back by hand is the hourly full walk's to catch). So
/// if a directory's times are strictly older than a time `T` the file
/// system gave out before our `fstat`, any change after the `fstat` is
/// stamped `T` or later and moves the stamp: no margin is needed, whatever
/// the granularity (nanoseconds, a tick, whole seconds). An equal time is
/// not enough: a change in the same tick as `T` may still follow.
///
/// `T` is the change time of a file created with `O_TMPFILE` in the
/// usage directory: it has no name and is gone when closed, so nothing is
/// left behind. Where that cannot be done (a cache we may not write to, a
/// file system without `O_TMPFILE`, a directory on another device), the
/// walk's start by this machine's clock less [`RACY_MS`] stands in.
#[derive(Debug)]
pub(crate) struct Settled {
    /// When the walk started, by this machine's clock, in milliseconds.
    walk_ms: u64,
    /// The file system's time (device, nanoseconds), once taken.
    fs_time: OnceLock<Option<(u64, u64)>>,
    /// The usage directory the time is taken in (absent: none is taken).
    usage_dir: Option<rustix::fd::OwnedFd>,
}

impl Settled {
    /// For a walk of the cache at `root` starting now: nothing is read or
    /// created until [`Settled::take`].
    pub(crate) fn new(root: &Path) -> Settled {
        let walk_ms = sys::now_ms();
        let usage_dir = sys::open_root(root)
            .ok()
            .and_then(|root| sys::open_dir(&root, USAGE_DIR).ok());
        Settled {
            walk_ms,
            fs_time: OnceLock::new(),
            usage_dir,
        }
    }

    /// A walk that started at `walk_ms` and took the file system time
    /// `fs_time` (device, nanoseconds), if any: for tests.
    #[cfg(test)]
    fn at(walk_ms: u64, fs_time: Option<(u64, u64)>) -> Settled {
        Settled {
            walk_ms,
            fs_time: OnceLock::from(fs_time),
            usage_dir: None,
        }
    }

    /// When the walk started, by this machine's clock.
    pub(crate) fn walk_ms(&self) -> u64 {
        self.walk_ms
    }

    /// Takes the file system's time now, once: to be called before the
    /// `fstat`s whose stamps [`Stamp::of`](super::scan_index::Stamp::of) judges.
    pub(crate) fn take(&self) {
        self.fs_time.get_or_init(|| {
            let dir = self.usage_dir.as_ref()?;
            fs_time(dir)
        });
    }

    /// The time a directory described by `stat` must have changed before
    /// to be trusted.
    pub(super) fn before_ns(&self, stat: &Stat) -> u64 {
        // `st_dev` is `u64` on some targets and `u32` on others.
        #[allow(clippy::unnecessary_cast)]
        let dev = stat.st_dev as u64;
        match self.fs_time.get() {
            Some(Some((on, ns))) if *on == dev => *ns,
            _ => self
                .walk_ms
                .saturating_sub(RACY_MS)
                .saturating_mul(1_000_000),
        }
    }
}

/// The file system's time now, as the change time of a new file without a
/// name in `dir`, and its device.
#[allow(clippy::unnecessary_cast)]
fn fs_time(dir: impl AsFd) -> Option<(u64, u64)> {
    let file = rustix::fs::openat(
        dir,
        ".",
        OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .ok()?;
    let stat = rustix::fs::fstat(&file).ok()?;
    let ctime = ns(stat.st_ctime as i64, stat.st_ctime_nsec as i64)?;
    Some((stat.st_dev as u64, ctime))
}

#[cfg(test)]
mod tests {
    use super::super::scan_index::Stamp;
    use super::*;

    /// The stat of a directory on device `dev` last changed at `ctime_ns`
    /// and modified at `mtime_ns`.
    fn dir_stat(dev: u64, ctime_ns: u64, mtime_ns: u64) -> Stat {
        let dir = tempfile::tempdir().unwrap();
        let mut stat = rustix::fs::stat(dir.path()).unwrap();
        let secs = |ns: u64| i64::try_from(ns / 1_000_000_000).unwrap();
        let nsec = |ns: u64| i64::try_from(ns % 1_000_000_000).unwrap();
        stat.st_dev = dev as _;
        stat.st_ctime = secs(ctime_ns) as _;
        stat.st_ctime_nsec = nsec(ctime_ns) as _;
        stat.st_mtime = secs(mtime_ns) as _;
        stat.st_mtime_nsec = nsec(mtime_ns) as _;
        stat
    }

    #[test]
    fn a_stamp_is_trusted_only_if_older_than_the_file_systems_time() {
        let walk_ms = 1_800_000_000_000;
        let fs_ns = 1_700_000_000_123_456_789;
        let settled = Settled::at(walk_ms, Some((7, fs_ns)));
        let trusted = |ctime_ns, mtime_ns| Stamp::of(&dir_stat(7, ctime_ns, mtime_ns), &settled);
        assert!(trusted(fs_ns - 1, fs_ns - 1).is_some());
        // Changed in the same instant (the same tick of a coarse clock, or
        // the same second where times are whole seconds): a change after
        // the walk's `fstat` could still carry that time.
        assert_eq!(trusted(fs_ns, fs_ns - 1), None);
        assert_eq!(trusted(fs_ns - 1, fs_ns), None);
        assert_eq!(trusted(fs_ns + 5_000_000, fs_ns - 1), None);
        // The file system's time, not this machine's: a directory older
        // than the walk by the clock but not by the file system is not
        // trusted.
        let by_clock_recent = (walk_ms - 10) * 1_000_000;
        assert!(by_clock_recent > fs_ns);
        assert_eq!(trusted(by_clock_recent, by_clock_recent), None);
    }

    #[test]
    fn without_the_file_systems_time_recent_directories_are_not_trusted() {
        let walk_ms = 1_700_000_000_000;
        let settled_ns = (walk_ms - RACY_MS) * 1_000_000;
        // No time taken, or one from another device (a directory mounted
        // inside the cache): this machine's clock less the margin.
        for settled in [
            Settled::at(walk_ms, None),
            Settled::at(walk_ms, Some((8, walk_ms * 1_000_000))),
        ] {
            let trusted = |ns| Stamp::of(&dir_stat(7, ns, ns), &settled);
            assert!(trusted(settled_ns - 1).is_some());
            assert_eq!(trusted(settled_ns), None);
            assert_eq!(trusted((walk_ms - 10) * 1_000_000), None);
        }
    }

    /// On the real file system: the time taken is never before a change
    /// made earlier, and a directory trusted against it shows any later
    /// change in its stamp.
    #[test]
    fn the_file_systems_time_follows_its_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(USAGE_DIR)).unwrap();
        let watched = dir.path().join("watched");
        std::fs::create_dir(&watched).unwrap();
        let mut trusted_then_changed = 0;
        for i in 0..200 {
            std::fs::write(watched.join(format!("a{i}")), b"").unwrap();
            if i % 10 == 0 {
                // Past a tick of the coarsest kernel clock (HZ=100).
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
            let before = Stamp::read(&rustix::fs::stat(&watched).unwrap()).unwrap();
            let settled = Settled::new(dir.path());
            settled.take();
            let Some(Some((_, fs_ns))) = settled.fs_time.get().copied() else {
                // No `O_TMPFILE` here: the clock rule applies (tested above).
                return;
            };
            assert!(fs_ns >= before.ctime_ns, "the file system's clock ran back");
            let stamp = Stamp::of(&rustix::fs::stat(&watched).unwrap(), &settled);
            std::fs::write(watched.join(format!("b{i}")), b"").unwrap();
            let after = Stamp::read(&rustix::fs::stat(&watched).unwrap());
            if let Some(stamp) = stamp {
                assert_ne!(Some(stamp), after, "a change after a trusted stamp");
                trusted_then_changed += 1;
            }
        }
        // At least the rounds that waited past a tick are trusted.
        assert!(trusted_then_changed >= 20, "{trusted_then_changed}");
    }
}
