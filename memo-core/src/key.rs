//! Keys: where an entry lives in a store.

/// A readable, file-name-safe directory name for a function identity.
pub(crate) fn dir_name(identity: &str) -> String {
    identity.to_owned()
}
