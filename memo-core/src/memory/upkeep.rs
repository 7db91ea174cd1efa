//! What a `Memory` keeps beside its store — limits, expiry, validation,
//! its usage recorder — and the [`Hooks`] through which that recorder
//! reaches administration (`.current`, a shared store's records, the
//! automatic limits). `Memory` sits above both, so it wires them together;
//! usage and the call path never import administration.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::access::Access;
use crate::info::EntryInfo;
use crate::manage::current::{self, Current};
use crate::manage::remote::RemoteSync;
use crate::manage::{Cache, Limits, NoProgress, ReduceOptions};
use crate::store::EntryStore;
use crate::usage::{Hooks, Recorder, Thresholds, Used};

/// A validation callback: `true` keeps an entry, `false` has it recomputed.
pub(crate) type Validator = Arc<dyn Fn(&EntryInfo) -> bool + Send + Sync>;

/// A `Memory`'s limits, expiry and usage recorder.
#[derive(Default)]
pub(crate) struct Upkeep {
    /// Limits enforced automatically (see `Memory::bytes_limit`).
    pub(crate) limits: Limits,
    pub(crate) expires_after: Option<Duration>,
    pub(crate) validation: Option<Validator>,
    /// How long a call waits for another caller computing the same key
    /// (`Memory::wait_limit`); `None`: as long as that caller lives.
    pub(crate) wait_limit: Option<Duration>,
    /// Created on the first recorded call; `None` for a disabled `Memory`.
    pub(crate) recorder: OnceLock<Option<Arc<Recorder>>>,
    /// The byte budget of the in-process tier (`Memory::in_process`), if
    /// one is kept; here rather than in `Memory`, which stays small.
    pub(crate) in_process: Option<u64>,
    /// How often an in-process copy checks its entry file at most
    /// (`Memory::in_process_recheck`); `None`: the default.
    pub(crate) in_process_recheck: Option<Duration>,
}

impl fmt::Debug for Upkeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upkeep")
            .field("limits", &self.limits)
            .field("expires_after", &self.expires_after)
            .field("validation", &self.validation.is_some())
            .field("in_process", &self.in_process)
            .finish()
    }
}

/// A recorder for the local directory of `store` (a shared store's local
/// tier), with administration's hooks and `limits` enforced automatically.
pub(crate) fn recorder(store: &dyn EntryStore, access: Access, limits: &Limits) -> Arc<Recorder> {
    let root = store.root().to_owned();
    let automatic = limits.bytes.is_some() || limits.items.is_some() || limits.age.is_some();
    let thresholds = automatic.then(|| Thresholds {
        bytes: limits.bytes.map(|bytes| bytes.0),
        items: limits.items,
    });
    let hooks = Administration {
        root: root.clone(),
        access,
        limits: limits.clone(),
        shared: store
            .remote()
            .map(|shared| RemoteSync::new(Arc::clone(shared))),
    };
    Recorder::new(root, access, thresholds, Arc::new(hooks))
}

/// Administration's side of a recorder.
#[derive(Debug)]
struct Administration {
    root: PathBuf,
    access: Access,
    limits: Limits,
    /// For a cache in a shared store: uploads records and announcements.
    shared: Option<Arc<RemoteSync>>,
}

impl Hooks for Administration {
    /// Writes `.current` (here and in a shared store) for the function.
    fn announce(&self, function: Used<'_>) {
        let current = Current {
            version: function.version.to_owned(),
            identity: function.identity.to_owned(),
        };
        if let Err(e) = current::announce(&self.root, function.dir, &current, self.access)
            && !current::is_missing(&e)
        {
            tracing::debug!(target: "memory", %e, function = function.identity, "cannot record the current code version");
        }
        if let Some(shared) = &self.shared {
            shared.announce(function.dir, &current);
        }
    }

    fn records(&self, records: &[u8]) {
        if let Some(shared) = &self.shared {
            shared.records(records);
        }
    }

    fn flush(&self) -> io::Result<()> {
        match &self.shared {
            Some(shared) => shared.flush(),
            None => Ok(()),
        }
    }

    /// In a shared store, the limits hold there and in the local tier.
    fn reduce(&self) {
        let caches = self
            .shared
            .as_ref()
            .map(|shared| Cache::on_store(shared.store()))
            .into_iter()
            .chain([Cache::at(self.root.clone(), self.access)]);
        for cache in caches {
            if let Err(e) = cache.reduce(&self.limits, &ReduceOptions::default(), &NoProgress) {
                tracing::warn!(target: "memory", %e, "cannot enforce the cache limits");
            }
        }
    }
}
