//! Canonical, streaming argument hashing.
//!
//! Every argument of a cached call is fed through a serde `Serializer` that
//! writes a type- and length-tagged byte stream straight into an xxh3-128
//! hasher (seed 0). Nothing is serialized into an intermediate buffer of the
//! whole value: small tokens are gathered in a fixed 16 KiB buffer (one per
//! thread, reused), large strings and numeric slices go to the hasher
//! directly. The stream is
//! canonical: equal values give equal digests in every process and on every
//! machine (no `RandomState`, no addresses), and the digests are pinned by
//! golden vectors in `tests/hashing.rs`.
//!
//! ```
//! use std::collections::{BTreeMap, HashMap};
//!
//! let digest = memory::hash::digest(&(1u64, "a")).unwrap();
//! assert_ne!(digest, memory::hash::digest(&(1u32, "a")).unwrap());
//!
//! let hash: HashMap<_, _> = [("a", 1), ("b", 2)].into();
//! let tree: BTreeMap<_, _> = [("b", 2), ("a", 1)].into();
//! assert_eq!(memory::hash::digest(&hash).unwrap(), memory::hash::digest(&tree).unwrap());
//! ```
//!
//! # The stream
//!
//! Every serde event becomes one or more tokens. A token *ends* with a tag
//! byte (`tags.rs` has the values), and the tag fixes how the token reads
//! backwards from there. A *name* is UTF-8 bytes then their `len: u64`.
//!
//! | event | tokens |
//! | --- | --- |
//! | `bool`, integers, floats, `char` | part of a *run* (below) |
//! | `str`, bytes | the bytes, `len: u64`, `STR`/`BYTES` |
//! | `()`, `None` | `UNIT`, `NONE` |
//! | `Some(v)` | `SOME`, then `v` |
//! | unit struct / unit variant | `name UNIT_STRUCT` / `name variant UNIT_VARIANT` |
//! | newtype struct / variant | `name NEWTYPE_STRUCT` / `name variant NEWTYPE_VARIANT`, then the value |
//! | seq, tuple, tuple struct, tuple variant | `SEQ` / `TUPLE` / `name TUPLE_STRUCT` / `name variant TUPLE_VARIANT`, the elements, `END` |
//! | struct, struct variant | `name STRUCT` / `name variant STRUCT_VARIANT`, then `field FIELD value` per field, `END` |
//! | map, set | the sorted 128-bit digests of the entries, `count: u64`, `MAP` / `SET` |
//!
//! All numbers are little-endian. Struct, field, enum and variant names
//! take part, so renaming any of them changes the digest; variant indices
//! do not (reordering variants keeps the digest). Sequence length hints are
//! not hashed (`END` delimits), so `serialize_seq(None)` and
//! `serialize_seq(Some(n))` agree.
//!
//! **Scalars** are tagged with their width and signedness: `1u32`, `1u64`
//! and `1i64` all differ, and a `char` differs from its `u32`. serde
//! serializes `usize` as `u64` and `isize` as `i64`, so those agree with
//! each other on every platform, which is what lets machines of different
//! pointer width share a cache. Floats hash their bit pattern: `-0.0` and
//! `0.0` differ, NaNs with different payloads differ, and a NaN argument
//! does hit an identical NaN. `bool` is one byte 0/1, `char` its `u32`.
//!
//! **Runs.** A maximal sequence of consecutive scalars with one tag is
//! written as the values, then `count: u64`, then the tag; any other token,
//! or a scalar of another tag, ends the run. Strings, bytes and unit never
//! join runs. Because the count comes after the values, the element path
//! can stream values as they arrive, and a `Vec<f64>` can be hashed
//! straight from memory in one piece (`bulk.rs`) while a `VecDeque<f64>`,
//! or any `Serialize` emitting the same `f64`s one by one, writes the
//! identical bytes.
//!
//! **Large runs.** A run of at least [`LARGE_RUN`] bytes (1 MiB) is written
//! as its [`run_digest`] instead of its values: `digest: u128, count: u64,
//! tag, RUN_DIGEST`, where the digest is xxh3-128 over the xxh3-128s of the
//! values' 1 MiB chunks and their length (`run.rs`). Both paths agree: the
//! bulk path computes it on every core, the element path keeps a growing run
//! aside until it knows which form it takes. The digest is a function of the
//! bytes only, so an [`Array`](crate::Array) that already knows it (one read
//! from a cache, or just stored) is hashed in O(1), and a fresh array with
//! the same values hashes equal. (Collisions between a raw run and a digest
//! run cannot happen: their tags differ.)
//!
//! **Injectivity.** Every token ends with a tag, tags of different token
//! kinds are distinct, and a tag determines how many bytes precede it in
//! its token (fixed-width fields, or a length or count that sits right
//! before the tag). So the stream is a suffix code: read from the end, it
//! splits into tokens in exactly one way. Expanding each run into its
//! scalars gives back the sequence of serde events, and that sequence
//! parses into one value tree, since every container is bracketed (`END`)
//! or prefixed (`SOME`, newtypes, fields). So different event sequences
//! never give the same stream, and the bytes depend only on the events,
//! never on how they were produced. Thus `("ab", "c") != ("a", "bc")`,
//! `[[1], []] != [[], [1]]` and `Some(()) != None != ()`.
//!
//! **Maps and sets** hash each entry (key then value) or element with a
//! fresh sub-stream, sort the digests and write them with their count, so
//! iteration order does not matter and a `HashMap` equals a `BTreeMap` with
//! the same entries. serde has no set event; sets are recognised by type
//! name in `collect_seq` (see `sorted.rs`), and an unrecognised set type
//! falls back to ordered hashing, which can cause misses but never a wrong
//! hit. Arrays `[T; N]` serialize as tuples, so they differ from `Vec<T>`.

mod buffer;
mod bulk;
mod canonical;
mod chunks;
mod pool;
mod run;
mod sink;
mod sorted;
mod tags;
mod wide;

#[cfg(test)]
mod tests;

use std::cell::RefCell;

use serde::Serialize;

use canonical::Encoder;
pub use run::{CHUNK, LARGE_RUN, RunDigester, run_digest};
pub(crate) use run::{PARALLEL, digest_beside, digest_filling, with_known};

/// The version of the stream format above. Any change to the bytes written
/// for some value (tags, widths, run layout, ordering rules) must bump it;
/// cache keys include it, so old entries are not mistaken for new ones.
pub const SCHEME_VERSION: u32 = 2;

/// A 128-bit argument digest.
pub type Digest = u128;

/// Why a value could not be hashed: its `Serialize` impl reported an error.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash argument: {0}")]
pub struct HashError(pub String);

impl serde::ser::Error for HashError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        HashError(msg.to_string())
    }
}

/// Hashes `value` canonically (see the module docs).
///
/// Fails only if `value`'s `Serialize` impl fails (or a `Display` that it
/// hands to `collect_str` does); never panics.
pub fn digest<T: Serialize + ?Sized>(value: &T) -> Result<Digest, HashError> {
    thread_local! {
        // Reused across calls: building an encoder means setting up its
        // 16 KiB buffer, which costs more than hashing a small argument.
        static ENCODER: RefCell<Option<Box<Encoder>>> = const { RefCell::new(None) };
    }
    let reused = ENCODER.try_with(|slot| {
        // Busy if `value`'s `Serialize` calls `digest` itself.
        let mut slot = slot.try_borrow_mut().ok()?;
        Some(slot.get_or_insert_with(Encoder::boxed).digest(value))
    });
    match reused {
        Ok(Some(result)) => result,
        // Re-entered, or the thread is shutting down: a one-off encoder.
        _ => Encoder::boxed().digest(value),
    }
}
