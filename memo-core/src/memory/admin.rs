//! The administration side of [`Memory`]: limits (by hand and automatic),
//! stale code versions, expiry, usage records and statistics, each
//! delegating to `manage`.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::info::EntryInfo;
use crate::manage::{
    Cache, FunctionStats, IntoByteSize, Limits, NoProgress, ReduceOptions, Reduced,
};
use crate::memory::Memory;

impl Memory {
    /// Keeps this cache under `limit` bytes (`"10G"`, `"500M"`, `"1.5GiB"`,
    /// or a number), evicting least recently used entries automatically.
    ///
    /// The check is cheap enough to leave on: no call scans the cache.
    /// Each process counts the bytes it writes and, after every tenth of the
    /// limit (and on its first write when no process checked in the last
    /// ten minutes), runs [`Memory::reduce_size`] in a background thread.
    /// The cache can therefore exceed the limit by about a tenth, plus what
    /// other processes wrote since their last check.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let memory = memory::Memory::new(dir.path()).bytes_limit("10G");
    /// ```
    ///
    /// # Panics
    ///
    /// If `limit` is a string that is not a size (see
    /// [`ByteSize`](crate::manage::ByteSize)).
    pub fn bytes_limit(mut self, limit: impl IntoByteSize) -> Self {
        self.upkeep.limits.bytes = Some(limit.into_byte_size());
        self
    }

    /// Keeps at most `limit` entries, evicting least recently used ones
    /// automatically (checked like [`Memory::bytes_limit`]).
    pub fn items_limit(mut self, limit: u64) -> Self {
        self.upkeep.limits.items = Some(limit);
        self
    }

    /// Removes entries unused for longer than `limit` automatically
    /// (checked like [`Memory::bytes_limit`]).
    pub fn age_limit(mut self, limit: Duration) -> Self {
        self.upkeep.limits.age = Some(limit);
        self
    }

    /// Recomputes (and replaces) any entry computed longer than `age` ago,
    /// for every function of this `Memory`; a function's own
    /// `expires_after = "..."` applies as well (the shorter wins). An
    /// expired entry is never served.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let memory = memory::Memory::new(dir.path()).expires_after(Duration::from_secs(3600));
    /// ```
    pub fn expires_after(mut self, age: Duration) -> Self {
        self.upkeep.expires_after = Some(age);
        self
    }

    /// joblib's `cache_validation_callback`: before an entry is served,
    /// `valid` sees its [`EntryInfo`]; `false` has it recomputed and
    /// replaced. A function's own `validate = path` applies as well.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// // Only cache results that took more than a second to compute.
    /// let memory = memory::Memory::new(dir.path())
    ///     .cache_validation(|entry| entry.duration > Duration::from_secs(1));
    /// // Or joblib's helper: entries expire a day after they were computed.
    /// let memory = memory::Memory::new(dir.path())
    ///     .cache_validation(memory::manage::expires_after(Duration::from_secs(86_400)));
    /// ```
    pub fn cache_validation(
        mut self,
        valid: impl Fn(&EntryInfo) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.upkeep.validation = Some(Arc::new(valid));
        self
    }

    /// joblib's `reduce_size`: removes least recently used entries until
    /// the cache is within `limits` (entries unused for longer than the age
    /// limit go first, and with [`Limits::stale`] every stale code version).
    /// Last use is memo's own record, not the file's access time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memory::manage::Limits;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let memory = memory::Memory::new(dir.path());
    /// let report = memory
    ///     .reduce_size(Limits::new().bytes("10G").items(10_000).age(Duration::from_secs(7 * 86_400)))
    ///     .unwrap();
    /// println!("removed {} entries ({} bytes)", report.removed.entries, report.removed.bytes);
    /// ```
    pub fn reduce_size(&self, limits: Limits) -> io::Result<Reduced> {
        self.forget_in_process();
        let Some(cache) = self.cache()? else {
            return Ok(Reduced::default());
        };
        cache.reduce(&limits, &ReduceOptions::default(), &NoProgress)
    }

    /// Removes every stale code version: for each function, every version
    /// directory but the one its programs use now (the latest announced by
    /// a running program; without one, the most recently used).
    pub fn gc_stale(&self) -> io::Result<Reduced> {
        self.reduce_size(Limits::new().stale(true))
    }

    /// Writes this process's buffered usage records (hits, last use) to
    /// the cache now. memo also does so on every miss, at most a second
    /// after a hit, when the `Memory` is dropped, and at normal process exit.
    pub fn flush_usage(&self) -> io::Result<()> {
        if let Some(Some(store)) = self.store.get() {
            // Hits served from memory are counted on their copies.
            store.flush_kept_hits();
        }
        match self.upkeep.recorder.get() {
            Some(Some(recorder)) => recorder.flush(),
            _ => Ok(()),
        }
    }

    /// Statistics per function: entries, bytes, versions, last use, hits,
    /// misses, and the compute time that hits saved.
    pub fn stats(&self) -> io::Result<Vec<FunctionStats>> {
        let Some(cache) = self.cache()? else {
            return Ok(Vec::new());
        };
        let usage = cache.usage()?;
        let scan = cache.scan(&NoProgress)?;
        Ok(cache.functions(&scan, &usage))
    }

    /// Whether an automatic limit check is running in the background.
    #[doc(hidden)]
    pub fn enforcing_limits(&self) -> bool {
        matches!(self.upkeep.recorder.get(), Some(Some(r)) if r.reducing())
    }

    /// This `Memory`'s directory as a [`Cache`], after flushing usage;
    /// `None` when disabled or not created yet.
    fn cache(&self) -> io::Result<Option<Cache>> {
        let Some(location) = self.root() else {
            return Ok(None);
        };
        if crate::store::is_url(location) || self.remote.is_set() {
            // A shared store (`s3://...`): managed where it is; a read-only
            // one through its local tier alone.
            let Some(store) = self.store() else {
                return Ok(None);
            };
            let _ = self.flush_usage();
            return Ok(Some(match store.remote() {
                Some(shared) => Cache::on_store(Arc::clone(shared)),
                None => Cache::at(store.root().to_owned(), self.access),
            }));
        }
        if !location.is_dir() {
            return Ok(None);
        }
        let _ = self.flush_usage();
        Ok(Some(Cache::at(location.to_owned(), self.access)))
    }

    /// [`Memory::clear`] on a directory: every function and the usage
    /// records, through the same checks as `memo clear`.
    pub(crate) fn clear_directory(&self, root: &Path) -> io::Result<()> {
        self.forget_in_process();
        let _ = self.flush_usage();
        // Creates a new location, marks an empty one, refuses a foreign one.
        crate::store::claim::claim(root, self.access)?;
        let cache = Cache::at(root.to_owned(), self.access);
        let scan = cache.scan(&NoProgress)?;
        let cleared = cache.clear(&scan, None, &NoProgress)?;
        if cleared.failed > 0 {
            return Err(io::Error::other(format!(
                "cannot remove {} entries of {}",
                cleared.failed,
                root.display()
            )));
        }
        Ok(())
    }
}
