//! The byte end of the canonical stream: runs, buffering, hashing.
//!
//! Tokens are gathered in an inline [`Buffer`] and handed to xxh3 in large
//! pieces, because a hasher call per primitive costs more than the hashing.
//! Consecutive scalars of one tag form a run whose count and tag are
//! written *after* its values, when the run ends: so the values can be
//! flushed as they come, and a slice can be fed to the hasher in one piece
//! (the bulk path) with exactly the bytes the element path would write.
//! Large byte strings and slices bypass the buffer. A run of
//! [`LARGE_RUN`] bytes or more is written as its [`run_digest`] (a *digest
//! run*), which hashes on every core and which an array that knows its digest
//! skips entirely; an element-by-element run that grows that large is moved
//! out of the buffer (a *spill*) until it is known whether it will.
//!
//! [`run_digest`]: super::run::run_digest

use xxhash_rust::xxh3::{Xxh3Default, xxh3_128};

use super::Digest;
use super::buffer::Buffer;
use super::run::{self, LARGE_RUN, RunDigester};
use super::tags;

/// Pieces at least this long go to the hasher directly instead of being
/// copied into the buffer first.
const DIRECT: usize = 1024;

/// The run being written: its scalars' tag and how many so far.
#[derive(Clone, Copy)]
struct Run {
    tag: u8,
    count: u64,
    /// Where its values start in the buffer (unless spilled).
    start: usize,
}

/// The values of a run too long for the buffer.
// Held boxed (`Sink::spill`), so its size costs nothing.
#[allow(clippy::large_enum_variant)]
enum Spill {
    /// Not yet [`LARGE_RUN`] bytes: kept, in case the run ends short of it.
    Raw(Vec<u8>),
    /// Long enough to be a digest run.
    Digesting(RunDigester),
}

impl Spill {
    fn push(&mut self, data: &[u8]) {
        match self {
            Spill::Raw(raw) => {
                raw.extend_from_slice(data);
                if raw.len() >= LARGE_RUN {
                    let mut digester = RunDigester::new();
                    digester.update(raw);
                    *self = Spill::Digesting(digester);
                }
            }
            Spill::Digesting(digester) => digester.update(data),
        }
    }
}

/// A canonical stream being hashed.
pub(super) struct Sink {
    // Xxh3Default is xxh3 with seed 0 and the default secret, i.e. exactly
    // `Xxh3::new()`, without copying the secret into every (sub-)state.
    hasher: Xxh3Default,
    buf: Buffer,
    run: Option<Run>,
    /// The current run's values when they outgrew the buffer (which then
    /// holds nothing).
    spill: Option<Box<Spill>>,
    /// Whether the hasher has been fed (else everything is in `buf`).
    streamed: bool,
}

impl Sink {
    pub(super) const fn new() -> Self {
        Sink {
            hasher: Xxh3Default::new(),
            buf: Buffer::new(),
            run: None,
            spill: None,
            streamed: false,
        }
    }

    /// Starts an empty stream.
    pub(super) fn reset(&mut self) {
        self.hasher.reset();
        self.buf.clear();
        self.run = None;
        self.spill = None;
        self.streamed = false;
    }

    /// Appends one scalar (its little-endian bytes) to the current run, or
    /// ends that run and starts another.
    #[inline]
    pub(super) fn scalar<const W: usize>(&mut self, tag: u8, value: [u8; W]) {
        match &mut self.run {
            Some(run) if run.tag == tag => run.count += 1,
            _ => {
                self.end_run();
                self.run = Some(Run {
                    tag,
                    count: 1,
                    start: self.buf.filled().len(),
                });
            }
        }
        if self.spill.is_none() && W <= self.buf.spare() {
            self.buf.push(&value);
        } else {
            self.spill_value(&value);
        }
    }

    /// Adds a value of the current run when it does not fit the buffer:
    /// moves the run's values out of it first (and everything before them
    /// to the hasher).
    #[cold]
    fn spill_value(&mut self, value: &[u8]) {
        let spill = match &mut self.spill {
            Some(spill) => spill,
            None => {
                let start = self.run.as_ref().map_or(0, |run| run.start);
                let (before, values) = self.buf.filled().split_at(start);
                self.hasher.update(before);
                self.streamed = true;
                let mut raw = Vec::with_capacity(4 * values.len());
                raw.extend_from_slice(values);
                self.buf.clear();
                self.spill.insert(Box::new(Spill::Raw(raw)))
            }
        };
        spill.push(value);
    }

    /// Writes a whole run from memory: `data` is the little-endian bytes of
    /// the scalars, `width` bytes each. Callers put a non-scalar token on
    /// both sides (the bulk path: `SEQ`, run, `END`), which makes this the
    /// same bytes as one [`Sink::scalar`] call per value.
    pub(super) fn scalar_run(&mut self, tag: u8, width: usize, data: &[u8]) {
        self.end_run();
        if data.len() >= LARGE_RUN {
            self.digest_run(tag, (data.len() / width) as u64, run::digest_of(data));
        } else if !data.is_empty() {
            self.append(data);
            self.len(data.len() / width);
            self.tag(tag);
        }
    }

    /// Writes a digest run: `digest: u128, count: u64, tag, RUN_DIGEST`.
    fn digest_run(&mut self, tag: u8, count: u64, digest: Digest) {
        self.append(&digest.to_le_bytes());
        self.append(&count.to_le_bytes());
        self.append(&[tag, tags::RUN_DIGEST]);
    }

    /// Appends bytes of a non-scalar token (ending any run).
    #[inline]
    pub(super) fn write(&mut self, data: &[u8]) {
        self.end_run();
        self.append(data);
    }

    /// Appends a tag byte, ending a non-scalar token.
    #[inline]
    pub(super) fn tag(&mut self, tag: u8) {
        self.write(&[tag]);
    }

    /// Appends a length or count as `u64` LE.
    #[inline]
    pub(super) fn len(&mut self, len: usize) {
        self.write(&(len as u64).to_le_bytes());
    }

    /// Appends a byte string followed by its length.
    pub(super) fn name(&mut self, bytes: &[u8]) {
        self.write(bytes);
        self.len(bytes.len());
    }

    /// The digest of everything written so far.
    pub(super) fn finish(&mut self) -> Digest {
        self.end_run();
        if self.streamed {
            self.flush();
            self.hasher.digest128()
        } else {
            // All of it is still in the buffer (the common case for small
            // arguments and map entries): the one-shot function gives the
            // same digest without a trip through the streaming state.
            xxh3_128(self.buf.filled())
        }
    }

    /// Closes the open run, if any, with its count and tag.
    #[inline]
    fn end_run(&mut self) {
        let Some(Run { tag, count, .. }) = self.run.take() else {
            return;
        };
        match self.spill.take().map(|spill| *spill) {
            // The values are in the buffer.
            None => {}
            Some(Spill::Raw(raw)) => self.append(&raw),
            Some(Spill::Digesting(digester)) => {
                return self.digest_run(tag, count, digester.finish());
            }
        }
        self.append(&count.to_le_bytes());
        self.append(&[tag]);
    }

    /// Appends raw bytes: buffered if small, else straight to the hasher.
    #[inline]
    fn append(&mut self, data: &[u8]) {
        if data.len() > self.buf.spare() || data.len() >= DIRECT {
            self.flush();
            if data.len() >= DIRECT {
                self.hasher.update(data);
                return;
            }
        }
        self.buf.push(data);
    }

    /// Feeds the buffer to the hasher.
    fn flush(&mut self) {
        self.streamed = true;
        self.hasher.update(self.buf.filled());
        self.buf.clear();
    }
}
