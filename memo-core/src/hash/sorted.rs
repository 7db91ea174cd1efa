//! Order-independent hashing of maps and sets.
//!
//! A `HashMap` iterates in a different order in every process, so entries
//! cannot simply be streamed. Instead every entry (key then value) or set
//! element is hashed on its own into a 128-bit digest with a fresh
//! sub-stream; the digests are sorted and the parent gets
//! `digests (u128 LE, ascending), count: u64, tag`. Equal contents give
//! equal digests whatever the order, so a `HashMap` and a `BTreeMap` with
//! the same entries hash equal. This costs 16 bytes per entry, the only
//! allocation that grows with the value.

use serde::Serialize;
use serde::ser::SerializeMap;

use super::canonical::Encoder;
use super::{Digest, HashError};

/// Most digests reserved up front from a length hint, which a custom
/// `Serialize` may get wrong.
const MAX_RESERVE: usize = 1 << 16;

/// Whether `I`, the iterable handed to `collect_seq`, is an unordered
/// collection: its outermost type (after any `&`) is named `HashSet`,
/// `BTreeSet`, `IndexSet` or `BinaryHeap`, from whatever crate.
///
/// Serde has no set event (sets call `collect_seq` like a `Vec`), so the
/// type name is all there is to go on. `type_name` output is not a stable
/// format; if it changes, or a set type has another name, the set is hashed
/// in iteration order instead: that can only cause cache misses (equal sets
/// hashing differently), never a wrong hit.
///
/// `BinaryHeap` is included: its iteration order depends on its insertion
/// history, while its value is the multiset of its elements. `IndexSet`
/// keeps insertion order, but its own `==` ignores it, and so do we. The
/// one way to get a wrong hit is a type of one of these names whose order
/// *does* matter and whose `Serialize` passes itself to `collect_seq`.
pub(super) fn is_unordered<I>() -> bool {
    let mut name = std::any::type_name::<I>();
    while let Some(rest) = name.strip_prefix('&') {
        name = rest.strip_prefix("mut ").unwrap_or(rest);
    }
    let path = name.split('<').next().unwrap_or(name);
    // A path, not a slice, array, tuple or pointer of something.
    let is_path = path
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == ':');
    let last = path.rsplit("::").next().unwrap_or(path);
    is_path && matches!(last, "HashSet" | "BTreeSet" | "IndexSet" | "BinaryHeap")
}

/// A map or set being hashed: the digests of the entries seen so far.
pub(super) struct Unordered<'a> {
    parent: &'a mut Encoder,
    tag: u8,
    digests: Vec<Digest>,
    /// A key was written to the sub-stream but its value not yet.
    open: bool,
}

impl<'a> Unordered<'a> {
    pub(super) fn new(parent: &'a mut Encoder, tag: u8, len: Option<usize>) -> Self {
        let digests = Vec::with_capacity(len.unwrap_or(0).min(MAX_RESERVE));
        Unordered {
            parent,
            tag,
            digests,
            open: false,
        }
    }

    /// Hashes one set element, or one part (key or value) of a map entry.
    pub(super) fn part<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        last: bool,
    ) -> Result<(), HashError> {
        let sub = self.parent.sub();
        if !self.open {
            sub.reset();
        }
        value.serialize(&mut *sub)?;
        self.open = !last;
        if last {
            self.digests.push(sub.finish());
        }
        Ok(())
    }

    /// Writes the sorted digests to the parent stream.
    pub(super) fn end(mut self) -> Result<(), HashError> {
        if self.open {
            // A key without a value breaks serde's contract; hash it anyway
            // rather than drop it.
            let digest = self.parent.sub().finish();
            self.digests.push(digest);
        }
        self.digests.sort_unstable();
        let sink = self.parent.sink();
        for digest in &self.digests {
            sink.write(&digest.to_le_bytes());
        }
        sink.len(self.digests.len());
        sink.tag(self.tag);
        Ok(())
    }
}

impl SerializeMap for Unordered<'_> {
    type Ok = ();
    type Error = HashError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), HashError> {
        self.part(key, false)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        self.part(value, true)
    }

    fn end(self) -> Result<(), HashError> {
        Unordered::end(self)
    }
}
