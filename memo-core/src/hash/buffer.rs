//! A fixed-size inline byte buffer.

/// Capacity in bytes. Each flush costs the hasher a little fixed work (it
/// re-buffers the last partial 256-byte block), so bigger is faster; the
/// encoders that hold buffers are reused (see `mod.rs`), so size costs
/// memory once per thread and map nesting depth, not time per call.
pub(super) const CAPACITY: usize = 16 * 1024;

/// Bytes waiting to be fed to the hasher: `bytes[..len]`.
pub(super) struct Buffer {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl Buffer {
    pub(super) const fn new() -> Self {
        Buffer {
            bytes: [0; CAPACITY],
            len: 0,
        }
    }

    pub(super) fn spare(&self) -> usize {
        CAPACITY - self.len
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `data`.
    ///
    /// # Panics
    ///
    /// If `data` does not fit; callers check [`Buffer::spare`] first, so this
    /// is a bug, never an input-dependent failure.
    #[inline]
    pub(super) fn push(&mut self, data: &[u8]) {
        let end = self.len + data.len();
        self.bytes[self.len..end].copy_from_slice(data);
        self.len = end;
    }

    /// The filled bytes.
    #[inline]
    pub(super) fn filled(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}
