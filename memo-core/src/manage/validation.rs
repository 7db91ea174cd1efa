//! joblib's `expires_after` helper, a validation callback for
//! [`Memory::cache_validation`](crate::Memory::cache_validation).

use std::time::Duration;

use crate::info::EntryInfo;

/// joblib's `expires_after`: a validation callback that accepts entries
/// computed less than `age` ago. For [`Memory::cache_validation`](crate::Memory::cache_validation); a
/// function can say `#[memory::cache(expires_after = "1d")]` instead.
///
/// ```
/// use std::time::Duration;
/// # let dir = tempfile::tempdir().unwrap();
/// let memory = memory::Memory::new(dir.path())
///     .cache_validation(memory::manage::expires_after(Duration::from_secs(3600)));
/// ```
pub fn expires_after(age: Duration) -> impl Fn(&EntryInfo) -> bool + Send + Sync + Clone + 'static {
    move |entry: &EntryInfo| entry.age() <= age
}
