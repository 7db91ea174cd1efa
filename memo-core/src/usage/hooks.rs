//! What happens beside the usage records — noting which code version is
//! in use, forwarding records to a shared store, enforcing the automatic
//! limits — is administration's. A recorder is handed these operations by
//! the `Memory` that owns it, so usage never depends on administration.

use std::fmt;
use std::io;

/// The operations a [`Recorder`](super::Recorder) triggers but does not own.
pub(crate) trait Hooks: Send + Sync + fmt::Debug {
    /// `function` is used by this process for the first time.
    fn announce(&self, function: Used<'_>);
    /// Records about to be appended to this process's log.
    fn records(&self, records: &[u8]);
    /// Writes out what [`Hooks::records`] buffered.
    fn flush(&self) -> io::Result<()>;
    /// Brings the cache within its automatic limits. Blocking: the recorder
    /// calls it on a background thread, one at a time.
    fn reduce(&self);
}

/// The function a record is about, as usage and administration name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Used<'a> {
    /// Its directory in the cache.
    pub dir: &'a str,
    /// Its code-version directory inside `dir`.
    pub version: &'a str,
    /// `crate::module::f`.
    pub identity: &'a str,
}

/// When the automatic limits are due: after this process wrote a tenth of
/// a limit (and on its first write when no process checked for a while).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// The byte limit, if any.
    pub bytes: Option<u64>,
    /// The entry-count limit, if any.
    pub items: Option<u64>,
}
