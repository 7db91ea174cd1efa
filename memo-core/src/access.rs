//! Who may read and write a cache directory.

/// Who can use a cache directory that memo creates (set with
/// [`Memory::access`](crate::Memory::access)).
///
/// Anyone who can write to a cache can make every program that uses it
/// return what they wrote: checksums catch damage, not forgery. So by
/// default a cache is private to its owner; share one only with people whose
/// results you would accept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Only the owner reads and writes: directories `0700`, files `0600`.
    #[default]
    Owner,
    /// The owner's group reads and writes too: directories `2770` (new files
    /// inherit the directory's group), files `0660`, whatever the umask.
    Group,
}

impl Access {
    /// Mode bits of directories memo creates.
    pub(crate) fn dir_mode(self) -> u32 {
        match self {
            Access::Owner => 0o700,
            Access::Group => 0o2770,
        }
    }

    /// Mode bits of files memo creates.
    pub(crate) fn file_mode(self) -> u32 {
        match self {
            Access::Owner => 0o600,
            Access::Group => 0o660,
        }
    }
}
