//! One argument of a cached call, as the call path sees it: something to
//! hash into the key, and to render for the trace and the metadata.

use serde::Serialize;

use crate::hash::{Digest, HashError};

/// One argument of a cached call, type-erased so a call passes any number of
/// them as `&[&dyn Arg]`.
pub trait Arg {
    /// The canonical digest of the argument.
    fn digest(&self) -> Result<Digest, HashError>;
    /// A readable rendering, for metadata and the verbose trace.
    fn render(&self, limit: usize, out: &mut String);
    /// The argument's type, recorded in the metadata to explain misses.
    fn type_name(&self) -> &'static str;
}

impl<T: Serialize + ?Sized> Arg for T {
    fn digest(&self) -> Result<Digest, HashError> {
        crate::hash::digest(self)
    }

    fn render(&self, limit: usize, out: &mut String) {
        crate::render::render(self, limit, out);
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}
