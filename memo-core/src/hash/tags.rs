//! The tag bytes of the canonical stream.
//!
//! Every token of the stream *ends* with one of these bytes, and the tag
//! alone says how long the rest of the token is, reading backwards (see the
//! grammar in the module docs of [`super`]). "name" below is UTF-8 bytes
//! followed by their length as `u64` LE, with no tag of its own. Changing
//! any value here changes digests: bump [`super::SCHEME_VERSION`].

// Scalars. They only ever close a run: `count × value (little-endian,
// fixed width each), count: u64 LE, tag`.
pub(super) const BOOL: u8 = 0x01;
pub(super) const U8: u8 = 0x02;
pub(super) const U16: u8 = 0x03;
pub(super) const U32: u8 = 0x04;
pub(super) const U64: u8 = 0x05;
pub(super) const U128: u8 = 0x06;
pub(super) const I8: u8 = 0x07;
pub(super) const I16: u8 = 0x08;
pub(super) const I32: u8 = 0x09;
pub(super) const I64: u8 = 0x0A;
pub(super) const I128: u8 = 0x0B;
pub(super) const F32: u8 = 0x0C;
pub(super) const F64: u8 = 0x0D;
pub(super) const CHAR: u8 = 0x0E;

// Byte strings: `bytes, len: u64 LE, tag`.
pub(super) const STR: u8 = 0x10;
pub(super) const BYTES: u8 = 0x11;

// Prefixes: after the tag comes the value (if any), as its own tokens.
pub(super) const UNIT: u8 = 0x20;
pub(super) const NONE: u8 = 0x21;
/// The value follows.
pub(super) const SOME: u8 = 0x22;
/// `name, UNIT_STRUCT`.
pub(super) const UNIT_STRUCT: u8 = 0x23;
/// `enum name, variant name, UNIT_VARIANT`.
pub(super) const UNIT_VARIANT: u8 = 0x24;
/// `name, NEWTYPE_STRUCT`, then the value.
pub(super) const NEWTYPE_STRUCT: u8 = 0x25;
/// `enum name, variant name, NEWTYPE_VARIANT`, then the value.
pub(super) const NEWTYPE_VARIANT: u8 = 0x26;

// Bracketed containers: opened by one of these (after their names), then
// the elements, closed by END.
pub(super) const SEQ: u8 = 0x30;
pub(super) const TUPLE: u8 = 0x31;
pub(super) const TUPLE_STRUCT: u8 = 0x32;
pub(super) const TUPLE_VARIANT: u8 = 0x33;
pub(super) const STRUCT: u8 = 0x34;
pub(super) const STRUCT_VARIANT: u8 = 0x35;
/// A struct field: `field name, FIELD`, then the value.
pub(super) const FIELD: u8 = 0x36;
pub(super) const END: u8 = 0x3F;

// Order-independent containers: `count × digest (u128 LE, ascending),
// count: u64 LE, tag`, the digests of the entries (or elements).
pub(super) const MAP: u8 = 0x40;
pub(super) const SET: u8 = 0x41;

// A run of `LARGE_RUN` bytes or more: `digest: u128 LE (run_digest of the
// values), count: u64 LE, scalar tag, RUN_DIGEST`.
pub(super) const RUN_DIGEST: u8 = 0x50;
