//! The blob area of a shared store (`s3://...`): large arrays stored once
//! per content digest across machines, without a lock between them.
//!
//! A shared store holds the same `.blobs/<digest>.blob` objects as a cache
//! directory (`blobs.rs`), and entries refer to them the same way. What
//! differs is removal: no lock spans machines, so a *grace period* stands
//! in for the directory's shared lock.
//!
//! - **A writer**, before it writes an entry, *confirms* each blob the
//!   entry refers to: it writes the blob's use mark `.blobs/<digest>.used`
//!   (a few bytes; its time is the store's clock), then asks whether the
//!   blob is there (`HEAD`) and uploads it with `put_if_absent` if not.
//!   If confirming the entry's blobs took over [`REMARK_AFTER`] (large
//!   uploads), it marks them all again. After its entry is written, it
//!   asks again for each blob, and uploads any that went meanwhile.
//! - **A sweep** (after clear, forget, gc, limits and verify's repair on
//!   the store) lists the blob area, and, only if some blob is older than
//!   the grace period, lists and reads every entry for the blobs they
//!   refer to; then lists the blob area again and removes each blob that
//!   no entry refers to *and* whose object and use mark were both last
//!   written longer than the grace period before that second listing (by
//!   the sweeping machine's clock), with its mark; and marks whose blob is
//!   gone, once as old. A sweep that started listing entries more than
//!   half the grace period before that second listing removes nothing.
//! - **Why that is safe**: a blob goes only if its newest mark or upload is
//!   older than the grace period G, and the entries were listed from no
//!   earlier than G/2 before that. So a writer that wrote its entry within
//!   G/2 − S of confirming the blob (S: the skew between the sweeping
//!   machine's clock and the store's) has its entry seen by the sweep.
//!   What remains is a writer that confirms a blob between a sweep's
//!   second listing and its delete request: its check after writing the
//!   entry uploads the blob again, unless the delete lands after that
//!   check too. `docs/format.md` has the rule and its proof.
//! - **A reader** whose blob is gone (or damaged) treats the entry as a
//!   miss and recomputes it, which stores the blob again: never a wrong
//!   hit. A fetched blob is checked against its digest before it is kept.
//!
//! The local tier keeps its own blob area (`blobs.rs`): blobs fetched from
//! the store, and those of new entries, are stored there once per digest.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime};

use memmap2::Mmap;

use super::blobs::{BlobSweep, Damaged};
use super::fs::{FdWriter, FsStore};
use super::object::{ObjectMeta, Put, Store};
use crate::array::{BlobReader, BlobRef};
use crate::entry::Entry;
use crate::hash::{Digest, RunDigester};
use crate::layout::{self, BLOBS_DIR};

/// The environment variable that sets the grace period of sweeps of a
/// shared store's blob area, in memo's duration words (`1h`, `30min`).
/// `0s` removes unreferenced blobs at once: safe only while no other
/// process writes to the store (see `docs/backends.md`).
pub const BLOB_GRACE_ENV: &str = "MEMO_BLOB_GRACE";

/// The grace period when [`BLOB_GRACE_ENV`] is not set: a writer has half
/// of it between confirming a blob and writing its entry.
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(2 * 3600);

/// The grace period of sweeps: [`BLOB_GRACE_ENV`], else [`DEFAULT_GRACE`].
/// A value that does not parse is said once and the default used.
pub(crate) fn grace() -> Duration {
    let Some(value) = std::env::var_os(BLOB_GRACE_ENV) else {
        return DEFAULT_GRACE;
    };
    let text = value.to_string_lossy();
    match memo_units::parse_duration(&text) {
        Ok(grace) => grace,
        Err(_) => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                crate::trace::warn(format_args!(
                    "{BLOB_GRACE_ENV}={text:?} is not a duration; using {DEFAULT_GRACE:?}"
                ));
            });
            DEFAULT_GRACE
        }
    }
}

/// The blobs that the entry starting with `head` (of `len` bytes in all)
/// refers to; none if it does not parse.
pub(crate) fn refs_of(head: &[u8], len: u64) -> Vec<BlobRef> {
    Entry::parse_head(head, len, None)
        .map(|entry| entry.blob_refs().collect())
        .unwrap_or_default()
}

/// Makes sure the blob `blob` is in `store` before an entry referring to
/// it is written: marks it, then uploads it from the local blob area
/// `local` unless it is there (see the module docs). `replace`: upload it
/// even if it is there (its copy there was found damaged).
pub(crate) fn confirm(
    store: &dyn Store,
    local: &FsStore,
    blob: BlobRef,
    replace: bool,
) -> io::Result<()> {
    let mark = mark_path(blob.digest);
    store.put(&mark, &[&blob.digest.to_le_bytes()])?;
    let path = layout::blob_path(blob.digest);
    if !replace
        && let Some(found) = store.head(&path)?
        && found.size == blob.len
    {
        return Ok(());
    }
    upload(store, local, blob, replace)
}

/// Confirming an entry's blobs that took longer than this is followed by
/// marking them all again, just before the entry is written.
pub(crate) const REMARK_AFTER: Duration = Duration::from_secs(60);

/// Writes the use mark of each of `refs` again.
pub(crate) fn mark_all(store: &dyn Store, refs: &[BlobRef]) -> io::Result<()> {
    for blob in refs {
        store.put(&mark_path(blob.digest), &[&blob.digest.to_le_bytes()])?;
    }
    Ok(())
}

/// After the entry is written: uploads again each of its blobs `refs`
/// that a sweep removed since it was confirmed.
pub(crate) fn recheck(store: &dyn Store, local: &FsStore, refs: &[BlobRef]) -> io::Result<()> {
    for &blob in refs {
        if store.head(&layout::blob_path(blob.digest))?.is_none() {
            upload(store, local, blob, false)?;
        }
    }
    Ok(())
}

/// Uploads the blob from the local blob area.
fn upload(store: &dyn Store, local: &FsStore, blob: BlobRef, replace: bool) -> io::Result<()> {
    let path = layout::blob_path(blob.digest);
    let Some((file, len)) = BlobReader::open(local, blob.digest)? else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("the local tier lost {path} before it was uploaded"),
        ));
    };
    if len != blob.len || len == 0 {
        return Err(io::Error::other(format!(
            "the local tier's {path} has {len} bytes, not {}",
            blob.len
        )));
    }
    // SAFETY: blob files are never written after they are linked (they are
    // created complete under a new name, and removed, never truncated), so
    // the map's bytes do not change while it is read.
    let map = unsafe { Mmap::map(&file)? };
    if replace {
        store.put(&path, &[&map])
    } else {
        store.put_if_absent(&path, &[&map]).map(|_: Put| ())
    }
}

/// What fetching a blob found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// It is in the local blob area now.
    Stored,
    /// The store has none.
    Missing,
    /// The store's copy does not match its digest (nothing was kept).
    Damaged,
}

/// Fetches the blob `digest` from `store` into the local blob area,
/// checking it against its digest as it arrives.
pub(crate) fn fetch(store: &dyn Store, local: &FsStore, digest: Digest) -> io::Result<Fetched> {
    let path = layout::blob_path(digest);
    let mut outcome = Fetched::Missing;
    local.store_blob_with(&mut |file: &OwnedFd| {
        let mut out = Digesting {
            file: FdWriter(file),
            digester: RunDigester::new(),
        };
        if !store.get_to(&path, &mut out)? {
            outcome = Fetched::Missing;
            return Ok(None);
        }
        if out.digester.finish() != digest {
            outcome = Fetched::Damaged;
            return Ok(None);
        }
        outcome = Fetched::Stored;
        Ok(Some(digest))
    })?;
    Ok(outcome)
}

/// Writes to a file and digests what it writes.
struct Digesting<'a> {
    file: FdWriter<'a>,
    digester: RunDigester,
}

impl io::Write for Digesting<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.file.write(bytes)?;
        self.digester.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn mark_path(digest: Digest) -> String {
    format!("{BLOBS_DIR}/{}", layout::blob_mark_name(digest))
}

/// The blob area of a store as one listing saw it.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Each blob's object, by digest.
    pub blobs: HashMap<Digest, ObjectMeta>,
    /// When each blob's use mark was written, by digest.
    pub marks: HashMap<Digest, SystemTime>,
}

/// Lists the blob area of `store`.
pub(crate) fn list(store: &dyn Store) -> io::Result<Listing> {
    let mut listing = Listing::default();
    for object in store.list(BLOBS_DIR)? {
        let Some(name) = object
            .path
            .strip_prefix(BLOBS_DIR)
            .and_then(|r| r.strip_prefix('/'))
        else {
            continue;
        };
        if let Some(digest) = layout::parse_blob_name(name) {
            listing.blobs.insert(digest, object);
        } else if let Some(digest) = layout::parse_blob_mark_name(name) {
            listing.marks.insert(digest, object.modified);
        }
    }
    Ok(listing)
}

impl Listing {
    /// When the blob `digest` was last uploaded or marked.
    fn last_confirmed(&self, digest: Digest) -> Option<SystemTime> {
        let blob = self.blobs.get(&digest).map(|meta| meta.modified);
        let mark = self.marks.get(&digest).copied();
        blob.max(mark)
    }

    /// Whether some blob or mark was last written more than `grace` before
    /// `now`.
    fn any_older(&self, grace: Duration, now: SystemTime) -> bool {
        self.blobs.keys().chain(self.marks.keys()).any(|&digest| {
            self.last_confirmed(digest)
                .is_some_and(|t| older(t, grace, now))
        })
    }
}

fn older(time: SystemTime, grace: Duration, now: SystemTime) -> bool {
    time.checked_add(grace).is_some_and(|until| until < now)
}

/// The entry objects of `store`: paths in memo's layout, named as entries.
pub(crate) fn entry_paths(store: &dyn Store) -> io::Result<Vec<ObjectMeta>> {
    Ok(store
        .list("")?
        .into_iter()
        .filter(|object| is_entry_path(&object.path))
        .collect())
}

fn is_entry_path(path: &str) -> bool {
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(function), Some(version), Some(name), None) => {
            layout::is_function_dir(function)
                && layout::is_version_dir(version)
                && layout::parse_entry_name(name.as_bytes()).is_some()
        }
        _ => false,
    }
}

/// The blobs the entry object `path` refers to; none if it is gone or
/// does not parse (an unusable entry is recomputed when read: its
/// references protect nothing). An error if the store cannot answer.
pub(crate) fn entry_refs(store: &dyn Store, path: &str) -> io::Result<Vec<BlobRef>> {
    Ok(match store.get(path)? {
        Some(bytes) => refs_of(&bytes, bytes.len() as u64),
        None => Vec::new(),
    })
}

/// Removes the blobs of `store` that no entry refers to and that were
/// neither uploaded nor marked within `grace`, with their marks, and
/// marks of blobs that are gone (see the module docs).
pub(crate) fn sweep(store: &dyn Store, grace: Duration) -> io::Result<BlobSweep> {
    if !list(store)?.any_older(grace, SystemTime::now()) {
        return Ok(BlobSweep::default());
    }
    let listed_entries = Instant::now();
    let mut referenced = HashSet::new();
    for entry in entry_paths(store)? {
        referenced.extend(
            entry_refs(store, &entry.path)?
                .into_iter()
                .map(|r| r.digest),
        );
    }
    let listing = list(store)?;
    let now = SystemTime::now();
    // Every entry written before `listed_entries` was seen; the rule needs
    // that to be at most half the grace period before `now`.
    if !grace.is_zero() && listed_entries.elapsed() > grace / 2 {
        tracing::debug!(target: "memory", store = store.location(),
            "reading the entries took over half the blob grace period; no blob removed");
        return Ok(BlobSweep::default());
    }
    let mut swept = BlobSweep::default();
    let mut victims = Vec::new();
    let mut bytes = HashMap::new();
    for digest in listing.blobs.keys().chain(listing.marks.keys()) {
        let old = listing
            .last_confirmed(*digest)
            .is_some_and(|t| older(t, grace, now));
        if !old || referenced.contains(digest) {
            continue;
        }
        if let Some(blob) = listing.blobs.get(digest) {
            victims.push(blob.path.clone());
            bytes.insert(blob.path.clone(), blob.size);
        }
        if listing.marks.contains_key(digest) {
            victims.push(mark_path(*digest));
        }
    }
    victims.sort();
    victims.dedup();
    let failed: HashSet<String> = super::owned::remove_store_blobs(store, &victims)
        .into_iter()
        .collect();
    for victim in &victims {
        if let Some(size) = bytes.get(victim)
            && !failed.contains(victim)
        {
            swept.removed += 1;
            swept.bytes += size;
        }
    }
    if let Some(first) = failed.iter().next() {
        return Err(io::Error::other(format!(
            "cannot remove {}/{first} (and {} more)",
            store.location(),
            failed.len() - 1
        )));
    }
    Ok(swept)
}

/// Reads every blob of `store` and checks it against its name; with
/// `repair`, removes the damaged ones (the entries that refer to them are
/// recomputed when next called, which uploads the blob again).
pub(crate) fn verify(store: &dyn Store, repair: bool) -> io::Result<Vec<Damaged>> {
    let mut damaged = Vec::new();
    for (digest, object) in list(store)?.blobs {
        let mut out = DigestOnly(RunDigester::new());
        if !store.get_to(&object.path, &mut out)? {
            continue;
        }
        if out.0.len() != object.size || out.0.finish() != digest {
            let removed = repair
                && super::owned::remove_store_blobs(store, std::slice::from_ref(&object.path))
                    .is_empty();
            damaged.push(Damaged {
                path: object.path,
                size: object.size,
                removed,
            });
        }
    }
    Ok(damaged)
}

/// Digests what is written to it.
struct DigestOnly(RunDigester);

impl io::Write for DigestOnly {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::access::Access;
    use crate::array::Array;
    use crate::store::EntryStore;
    use crate::store::tier::{Sharing, Tier};

    fn tier(shared: &Path, local: &Path) -> Tier {
        Tier::new(
            FsStore::open_with(local, Access::Owner).unwrap(),
            Arc::new(FsStore::open(shared).unwrap()),
            Sharing::default(),
        )
    }

    /// Stores `array` under `key` through `tier`; the entry's path.
    fn store(tier: &Tier, key: u128, array: &Array<f64>) -> String {
        let meta = crate::entry::EntryMeta::sample();
        let writer = tier.blob_writer().unwrap();
        let encoded =
            crate::entry::encode_parts(key, 1, &meta, array, None, Some(&*writer)).unwrap();
        let path = format!("t.f/0000000000000000/{key:032x}.memo");
        tier.write(&path, &encoded.parts()).unwrap();
        path
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn blobs_are_stored_once_fetched_checked_and_swept_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let array: Array<f64> = (0..(1 << 18)).map(f64::from).collect::<Vec<_>>().into();
        let writer = tier(&shared, &dir.path().join("a"));
        let first = store(&writer, 1, &array);
        let second = store(&writer, 2, &array);
        let blobs = names(&shared.join(BLOBS_DIR));
        assert_eq!(blobs.len(), 2, "one blob and its use mark: {blobs:?}");
        let digest = layout::parse_blob_name(&blobs[0]).expect("a blob");
        assert_eq!(layout::parse_blob_mark_name(&blobs[1]), Some(digest));
        let store_view = FsStore::open(&shared).unwrap();
        let entry = store_view.get(&first).unwrap().unwrap();
        assert!(
            entry.len() < 4096,
            "the array is not inline: {}",
            entry.len()
        );
        // A second machine fetches the blob, checked, into its own tier.
        let reader = tier(&shared, &dir.path().join("b"));
        assert!(reader.read(&second).unwrap().is_some());
        let (_, len) = BlobReader::open(&reader, digest).unwrap().expect("fetched");
        assert_eq!(len, 1 << 21);
        assert!(
            dir.path()
                .join("b")
                .join(layout::blob_path(digest))
                .is_file()
        );
        // Referenced: no sweep removes it, whatever the grace period.
        let swept = sweep(&store_view, Duration::ZERO).unwrap();
        assert_eq!(swept.removed, 0);
        // Unreferenced but young: kept; once the grace period is over: gone.
        store_view.delete(&first).unwrap();
        store_view.delete(&second).unwrap();
        assert_eq!(
            sweep(&store_view, Duration::from_secs(3600))
                .unwrap()
                .removed,
            0
        );
        assert_eq!(names(&shared.join(BLOBS_DIR)).len(), 2);
        let swept = sweep(&store_view, Duration::ZERO).unwrap();
        assert_eq!((swept.removed, swept.bytes), (1, 1 << 21));
        assert!(
            names(&shared.join(BLOBS_DIR)).is_empty(),
            "the mark goes too"
        );
    }

    /// The loser of a race keeps its blob writer's shared lock while it
    /// drops its local copy: that must not wait for a sweep of its own.
    #[test]
    fn the_second_machine_to_store_a_large_entry_drops_its_copy_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let array: Array<f64> = (0..(1 << 18)).map(f64::from).collect::<Vec<_>>().into();
        let first = tier(&shared, &dir.path().join("a"));
        let path = store(&first, 1, &array);
        let (done, finished) = std::sync::mpsc::channel();
        let (shared_dir, local) = (shared.clone(), dir.path().join("b"));
        // Not joined if it hangs: the test fails instead of waiting.
        let loser = std::thread::spawn(move || {
            let second = tier(&shared_dir, &local);
            store(&second, 1, &array);
            done.send(()).unwrap();
            second
        });
        finished
            .recv_timeout(Duration::from_secs(30))
            .expect("the loser's write finished");
        let second = loser.join().unwrap();
        assert!(!dir.path().join("b").join(&path).exists(), "its copy went");
        assert!(
            second.read(&path).unwrap().is_some(),
            "the winner's is fetched"
        );
    }

    #[test]
    fn a_damaged_blob_in_the_store_is_never_kept_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let array: Array<f64> = (0..(1 << 18)).map(f64::from).collect::<Vec<_>>().into();
        let writer = tier(&shared, &dir.path().join("a"));
        let path = store(&writer, 1, &array);
        let blob = names(&shared.join(BLOBS_DIR)).remove(0);
        let digest = layout::parse_blob_name(&blob).unwrap();
        let blob_file = shared.join(BLOBS_DIR).join(&blob);
        let mut bytes = std::fs::read(&blob_file).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&blob_file, &bytes).unwrap();
        let reader = tier(&shared, &dir.path().join("b"));
        assert!(BlobReader::open(&reader, digest).unwrap().is_none());
        assert!(
            !dir.path()
                .join("b")
                .join(layout::blob_path(digest))
                .exists()
        );
        // The recomputation's write replaces the damaged copy.
        reader.rejected(&path);
        store(&reader, 1, &array);
        let fixed = std::fs::read(&blob_file).unwrap();
        assert_ne!(fixed, bytes);
        let mut digester = RunDigester::new();
        digester.update(&fixed);
        assert_eq!(digester.finish(), digest);
    }

    #[test]
    fn only_memos_names_are_store_objects() {
        for ours in [
            "CACHEDIR.TAG",
            ".usage/summary-00000000000000a1",
            ".usage/host-1-ab-00000001.log",
            ".usage/lock",
            "my_crate.f/.current",
            "my_crate.f/0123456789abcdef/0123456789abcdef0123456789abcdef.memo",
        ] {
            assert!(layout::is_store_object(ours), "{ours}");
        }
        for theirs in [
            "notes.txt",
            ".usage/x/y.log",
            ".usage/README",
            "my_crate.f/notes.txt",
            "my_crate.f/0123456789abcdef/data.csv",
            ".blobs/0123456789abcdef0123456789abcdef.blob",
            ".leases/0123456789abcdef0123456789abcdef.lease",
            ".hidden/.current",
        ] {
            assert!(!layout::is_store_object(theirs), "{theirs}");
        }
    }
}
