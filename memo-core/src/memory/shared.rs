//! The options of a [`Memory`] on a shared store: read-only use, and the
//! compute-once leases between machines.

use std::time::Duration;

use crate::memory::Memory;

impl Memory {
    /// Reads the shared store but never writes to it: no entries, no
    /// compute-once leases, no usage records, no `.current`, no removals
    /// (`clear`, `reduce_size`, `gc_stale` and the automatic limits act on
    /// the local tier alone). Hits come from the local tier or the store as
    /// usual; misses are computed and kept in the local tier only. For CI
    /// jobs that may use a team's cache but must not fill it (sccache's
    /// read-only mode).
    ///
    /// `$MEMO_STORE_READ_ONLY=1` does the same for every `Memory` on a
    /// shared store, whatever the code says. Ignored for a `Memory` on a
    /// directory.
    ///
    /// ```
    /// use memory::Memory;
    /// use memory::store::FsStore;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let shared = FsStore::open(dir.path().join("team-cache")).unwrap();
    /// let memory = Memory::with_store(shared)
    ///     .local_tier(dir.path().join("tier"))
    ///     .store_read_only(true);
    /// ```
    pub fn store_read_only(mut self, read_only: bool) -> Memory {
        self.remote.read_only = read_only;
        self
    }

    /// How long a compute-once lease lives without renewal (default
    /// 30 s; at least 1 s): the time after which a machine that crashed
    /// or lost its network while computing a key gives way to another.
    ///
    /// While a machine computes a key of a shared store that has
    /// conditional writes (S3), it holds a lease object for it and renews it
    /// every third of this time; other machines wait for its result instead
    /// of computing it too (see [`Memory::lease_wait`]). Shorter times
    /// take over a dead holder's key sooner and cost more renewals; a
    /// holder must get a renewal through within two thirds of it.
    /// `Duration::ZERO` turns leases off: machines then each compute a key
    /// they miss at the same moment (one result is kept). Ignored for a
    /// `Memory` on a directory. `docs/backends.md` states the guarantees.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let shared = memory::store::FsStore::open(dir.path().join("shared")).unwrap();
    /// let memory = memory::Memory::with_store(shared).lease_time(Duration::from_secs(10));
    /// ```
    pub fn lease_time(mut self, time: Duration) -> Memory {
        self.remote.lease.time = if time.is_zero() {
            Duration::ZERO
        } else {
            time.max(crate::store::MIN_LEASE_TIME)
        };
        self
    }

    /// How long a call waits for another machine's live lease on its key
    /// before computing the result itself (saying so once). Unset, the
    /// call's [wait limit](Memory::wait_limit) applies (a function's
    /// `wait_limit = ".."`, else its `Memory`'s), and without one it waits
    /// as long as the lease lives: a live lease means its holder is running
    /// and renewing it, and computing in parallel can only finish later
    /// than the holder, unless the holder is stuck. A lease whose
    /// holder died expires after its [lease time](Memory::lease_time) and
    /// is taken over, whatever this says.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let shared = memory::store::FsStore::open(dir.path().join("shared")).unwrap();
    /// let memory = memory::Memory::with_store(shared).lease_wait(Duration::from_secs(600));
    /// ```
    pub fn lease_wait(mut self, limit: Duration) -> Memory {
        self.remote.lease.wait = Some(limit);
        self
    }
}
