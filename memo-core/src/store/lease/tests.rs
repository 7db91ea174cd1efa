use std::collections::BTreeMap;

use super::*;
use crate::store::object::{ObjectMeta, Put};
use crate::store::versioned::VersionedStore;

/// Objects in memory with versions, and a clock the test can set.
#[derive(Debug, Default)]
struct Versions {
    objects: Mutex<BTreeMap<String, (Vec<u8>, ObjectVersion)>>,
    writes: std::sync::atomic::AtomicU64,
}

impl Versions {
    fn version(&self) -> ObjectVersion {
        let n = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ObjectVersion {
            tag: format!("\"{n}\""),
            modified: SystemTime::now(),
        }
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Vec<u8>, ObjectVersion)>> {
        self.objects.lock().unwrap()
    }

    /// Puts `bytes` at `path` as last written at `modified`.
    fn plant(&self, path: &str, bytes: &[u8], modified: SystemTime) {
        let mut version = self.version();
        version.modified = modified;
        self.objects()
            .insert(path.into(), (bytes.to_vec(), version));
    }

    fn tag(&self, path: &str) -> Option<String> {
        self.objects().get(path).map(|(_, v)| v.tag.clone())
    }
}

impl Store for Versions {
    fn location(&self) -> String {
        "memory://leases".into()
    }
    fn get(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.objects().get(path).map(|(b, _)| b.clone()))
    }
    fn put(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        let version = self.version();
        self.objects()
            .insert(path.into(), (parts.concat(), version));
        Ok(())
    }
    fn put_if_absent(&self, path: &str, parts: &[&[u8]]) -> io::Result<Put> {
        Ok(match self.create(path, &parts.concat())? {
            Some(_) => Put::Created,
            None => Put::Exists,
        })
    }
    fn delete(&self, path: &str) -> io::Result<()> {
        self.objects().remove(path);
        Ok(())
    }
    fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
        let below = format!("{prefix}/");
        Ok(self
            .objects()
            .iter()
            .filter(|(path, _)| path.starts_with(&below))
            .map(|(path, (bytes, v))| ObjectMeta::new(path.clone(), bytes.len() as u64, v.modified))
            .collect())
    }
    fn versioned(&self) -> Option<&dyn VersionedStore> {
        Some(self)
    }
}

impl VersionedStore for Versions {
    fn get_versioned(&self, path: &str) -> io::Result<Option<(Vec<u8>, ObjectVersion)>> {
        Ok(self.objects().get(path).cloned())
    }
    fn create(&self, path: &str, bytes: &[u8]) -> io::Result<Option<ObjectVersion>> {
        let mut objects = self.objects();
        if objects.contains_key(path) {
            return Ok(None);
        }
        let version = self.version();
        objects.insert(path.into(), (bytes.to_vec(), version.clone()));
        Ok(Some(version))
    }
    fn replace(
        &self,
        path: &str,
        bytes: &[u8],
        expected: &ObjectVersion,
    ) -> io::Result<Option<ObjectVersion>> {
        let mut objects = self.objects();
        match objects.get(path) {
            Some((_, current)) if current.tag == expected.tag => {
                let version = self.version();
                objects.insert(path.into(), (bytes.to_vec(), version.clone()));
                Ok(Some(version))
            }
            _ => Ok(None),
        }
    }
}

const KEY: Digest = 0x00ff_00ff;

fn store() -> (Arc<Versions>, Arc<dyn Store>) {
    let versions = Arc::new(Versions::default());
    let store: Arc<dyn Store> = versions.clone();
    (versions, store)
}

fn options(time_ms: u64, wait_ms: Option<u64>) -> LeaseOptions {
    LeaseOptions {
        time: Duration::from_millis(time_ms),
        wait: wait_ms.map(Duration::from_millis),
    }
}

fn held(acquired: Acquired) -> HeldLease {
    match acquired {
        Acquired::Held(lease) => lease,
        Acquired::GaveUp { holder } => panic!("gave up on {holder}'s lease"),
    }
}

fn a_dead_holders_lease(time: Duration) -> Vec<u8> {
    Terms {
        holder: "elsewhere-1-0".into(),
        time,
        renewal: 0,
    }
    .encode()
}

#[test]
fn terms_round_trip_and_nothing_else_parses() {
    let terms = Terms {
        holder: "host-12-00ab".into(),
        time: Duration::from_millis(1500),
        renewal: 7,
    };
    assert_eq!(Terms::parse(&terms.encode()), Some(terms));
    for foreign in [
        &b""[..],
        b"memo lease 2\nholder h\ntime_ms 1\nrenewal 0\n",
        b"memo lease 1\nholder \ntime_ms 1\nrenewal 0\n",
        b"memo lease 1\nholder a b\ntime_ms 1\nrenewal 0\n",
        b"memo lease 1\nholder h\ntime_ms x\nrenewal 0\n",
        b"memo lease 1\nholder h\n",
        b"\xff\xfe",
    ] {
        assert_eq!(Terms::parse(foreign), None, "{foreign:?}");
    }
}

#[test]
fn a_lease_is_created_and_deleted_when_dropped() {
    let (versions, store) = store();
    let path = layout::lease_path(KEY);
    let lease = held(acquire(&store, KEY, options(30_000, None)).unwrap());
    let terms = Terms::parse(&versions.get(&path).unwrap().unwrap()).unwrap();
    assert!(
        terms.holder.contains(&std::process::id().to_string()),
        "{terms:?}"
    );
    assert_eq!(terms.time, Duration::from_secs(30));
    assert!(lease.held());
    drop(lease);
    assert_eq!(versions.get(&path).unwrap(), None);
}

#[test]
fn a_live_lease_is_waited_for_until_the_wait_limit() {
    let (_, store) = store();
    let _first = held(acquire(&store, KEY, options(30_000, None)).unwrap());
    let started = Instant::now();
    match acquire(&store, KEY, options(30_000, Some(300))).unwrap() {
        Acquired::GaveUp { holder } => {
            assert!(holder.contains(&std::process::id().to_string()), "{holder}");
        }
        Acquired::Held(_) => panic!("took a live lease"),
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn a_waiter_gets_the_lease_once_the_holder_is_done() {
    let (_, store) = store();
    let first = held(acquire(&store, KEY, options(30_000, None)).unwrap());
    let waiter = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || held(acquire(&store, KEY, options(30_000, None)).unwrap()))
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiter.is_finished(), "waits while the lease is held");
    drop(first);
    let second = waiter.join().unwrap();
    assert!(second.held());
}

#[test]
fn a_held_lease_is_renewed_with_a_new_version() {
    let (versions, store) = store();
    let path = layout::lease_path(KEY);
    let lease = held(acquire(&store, KEY, options(1_000, None)).unwrap());
    let first = versions.tag(&path).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let later = versions.tag(&path).unwrap();
    assert_ne!(first, later, "renewed every third of its time");
    let terms = Terms::parse(&versions.get(&path).unwrap().unwrap()).unwrap();
    assert!(terms.renewal >= 1, "{terms:?}");
    // A waiter meanwhile never judges it expired.
    let waited = acquire(&store, KEY, options(1_000, Some(1_500))).unwrap();
    assert!(matches!(waited, Acquired::GaveUp { .. }));
    drop(lease);
}

#[test]
fn an_unrenewed_lease_is_taken_over_after_its_time() {
    let (versions, store) = store();
    let path = layout::lease_path(KEY);
    // Written just now by a holder that then died: nothing renews it.
    versions.plant(
        &path,
        &a_dead_holders_lease(Duration::from_millis(1_000)),
        SystemTime::now(),
    );
    let started = Instant::now();
    let lease = held(acquire(&store, KEY, options(30_000, None)).unwrap());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1_000), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    let terms = Terms::parse(&versions.get(&path).unwrap().unwrap()).unwrap();
    assert!(terms.holder.contains(&std::process::id().to_string()));
    drop(lease);
}

/// A lease whose holder died an hour ago, by the server's clock.
fn plant_a_lease_dead_for_an_hour(versions: &Versions) {
    let long_ago = SystemTime::now() - Duration::from_secs(3_600);
    versions.plant(
        &layout::lease_path(KEY),
        &a_dead_holders_lease(Duration::from_secs(30)),
        long_ago,
    );
}

#[test]
fn a_lease_long_over_by_the_servers_clock_is_taken_at_once() {
    let (versions, store) = store();
    plant_a_lease_dead_for_an_hour(&versions);
    let started = Instant::now();
    let _lease = held(acquire(&store, KEY, options(30_000, None)).unwrap());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn of_several_takers_of_an_expired_lease_one_wins() {
    let (versions, store) = store();
    plant_a_lease_dead_for_an_hour(&versions);
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let takers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                acquire(&store, KEY, options(30_000, Some(500))).unwrap()
            })
        })
        .collect();
    // Joined together, so every lease is still held while others look.
    let outcomes: Vec<Acquired> = takers.into_iter().map(|t| t.join().unwrap()).collect();
    let winners = outcomes
        .iter()
        .filter(|o| matches!(o, Acquired::Held(_)))
        .count();
    assert_eq!(winners, 1);
}

#[test]
fn a_lost_lease_is_not_deleted() {
    let (versions, store) = store();
    let path = layout::lease_path(KEY);
    let lease = held(acquire(&store, KEY, options(1_000, None)).unwrap());
    // Someone else's now (taken over while this holder was cut off).
    versions.put(&path, &[b"theirs"]).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(!lease.held(), "the failed renewal says it is lost");
    drop(lease);
    assert_eq!(
        versions.get(&path).unwrap().as_deref(),
        Some(&b"theirs"[..])
    );
}

#[test]
fn only_memos_expired_leases_are_removed() {
    let (versions, store) = store();
    let long_ago = SystemTime::now() - Duration::from_secs(3_600);
    let dead = a_dead_holders_lease(Duration::from_secs(30));
    let stale = layout::lease_path(1);
    let live = layout::lease_path(2);
    let foreign_content = layout::lease_path(3);
    let foreign_name = ".leases/notes.txt";
    versions.plant(&stale, &dead, long_ago);
    versions.plant(&live, &dead, SystemTime::now());
    versions.plant(&foreign_content, b"not a lease", long_ago);
    versions.plant(foreign_name, &dead, long_ago);
    let removed = crate::store::owned::remove_stale_leases(&*store).unwrap();
    assert_eq!(removed, 1);
    assert_eq!(versions.get(&stale).unwrap(), None);
    for kept in [&live, &foreign_content, foreign_name] {
        assert!(versions.get(kept).unwrap().is_some(), "{kept}");
    }
}
