//! The serde `Serializer` that turns a value into the canonical stream.
//!
//! One method per serde event, each writing the tokens listed in the module
//! docs of [`super`]; buffering and run grouping live in [`Sink`], the slice
//! fast path in [`bulk`], maps and sets in [`sorted`].

use std::fmt::{self, Display, Write as _};

use serde::Serialize;
use serde::ser::{self, Serializer};

use super::sink::Sink;
use super::sorted::{self, Unordered};
use super::{Digest, HashError, bulk, tags};

/// Sub-encoders kept after a call: enough for maps of maps. Deeper ones
/// are freed, so one deeply nested value does not pin memory.
const KEEP_DEPTH: usize = 2;

/// A stream plus, allocated on first use, the sub-encoder that maps and
/// sets at this nesting depth hash their entries with (one per depth,
/// reused by every entry).
pub(super) struct Encoder {
    sink: Sink,
    sub: Option<Box<Encoder>>,
}

impl Encoder {
    pub(super) fn boxed() -> Box<Self> {
        Box::new(Encoder {
            sink: Sink::new(),
            sub: None,
        })
    }

    /// Hashes `value` as a fresh stream.
    pub(super) fn digest<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<Digest, HashError> {
        self.reset();
        let result = value.serialize(&mut *self).map(|()| self.finish());
        self.trim(KEEP_DEPTH);
        result
    }

    fn trim(&mut self, keep: usize) {
        match (&mut self.sub, keep) {
            (sub, 0) => *sub = None,
            (Some(sub), _) => sub.trim(keep - 1),
            (None, _) => {}
        }
    }

    pub(super) fn sink(&mut self) -> &mut Sink {
        &mut self.sink
    }

    /// The encoder for entries of a map or set at this depth (not reset).
    pub(super) fn sub(&mut self) -> &mut Encoder {
        self.sub.get_or_insert_with(Encoder::boxed)
    }

    pub(super) fn reset(&mut self) {
        self.sink.reset();
    }

    pub(super) fn finish(&mut self) -> Digest {
        self.sink.finish()
    }

    /// A token made of names (struct, variant, field) and a tag.
    fn token(&mut self, names: &[&str], tag: u8) {
        for name in names {
            self.sink.name(name.as_bytes());
        }
        self.sink.tag(tag);
    }
}

impl<'a> Serializer for &'a mut Encoder {
    type Ok = ();
    type Error = HashError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Unordered<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), HashError> {
        self.sink.scalar(tags::BOOL, [u8::from(v)]);
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), HashError> {
        self.sink.scalar(tags::I8, v.to_le_bytes());
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<(), HashError> {
        self.sink.scalar(tags::I16, v.to_le_bytes());
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<(), HashError> {
        self.sink.scalar(tags::I32, v.to_le_bytes());
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<(), HashError> {
        self.sink.scalar(tags::I64, v.to_le_bytes());
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), HashError> {
        self.sink.scalar(tags::I128, v.to_le_bytes());
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), HashError> {
        self.sink.scalar(tags::U8, v.to_le_bytes());
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<(), HashError> {
        self.sink.scalar(tags::U16, v.to_le_bytes());
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<(), HashError> {
        self.sink.scalar(tags::U32, v.to_le_bytes());
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<(), HashError> {
        self.sink.scalar(tags::U64, v.to_le_bytes());
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), HashError> {
        self.sink.scalar(tags::U128, v.to_le_bytes());
        Ok(())
    }

    // Floats hash their bit pattern: -0.0 and 0.0 differ, and so do NaNs
    // with different payloads (a NaN argument still hits itself).
    fn serialize_f32(self, v: f32) -> Result<(), HashError> {
        self.sink.scalar(tags::F32, v.to_bits().to_le_bytes());
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), HashError> {
        self.sink.scalar(tags::F64, v.to_bits().to_le_bytes());
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), HashError> {
        self.sink.scalar(tags::CHAR, u32::from(v).to_le_bytes());
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), HashError> {
        self.sink.name(v.as_bytes());
        self.sink.tag(tags::STR);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), HashError> {
        self.sink.name(v);
        self.sink.tag(tags::BYTES);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), HashError> {
        self.sink.tag(tags::NONE);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), HashError> {
        self.sink.tag(tags::SOME);
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), HashError> {
        self.sink.tag(tags::UNIT);
        Ok(())
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<(), HashError> {
        self.token(&[name], tags::UNIT_STRUCT);
        Ok(())
    }

    // Variants are identified by name, not index: reordering the variants
    // of an enum keeps its digests, renaming one changes them.
    fn serialize_unit_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), HashError> {
        self.token(&[name, variant], tags::UNIT_VARIANT);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), HashError> {
        self.token(&[name], tags::NEWTYPE_STRUCT);
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), HashError> {
        self.token(&[name, variant], tags::NEWTYPE_VARIANT);
        value.serialize(self)
    }

    // The length hint is not hashed (it is optional): the END bracket is
    // what delimits a sequence.
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self, HashError> {
        self.sink.tag(tags::SEQ);
        Ok(self)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self, HashError> {
        self.sink.tag(tags::TUPLE);
        Ok(self)
    }

    fn serialize_tuple_struct(self, name: &'static str, _len: usize) -> Result<Self, HashError> {
        self.token(&[name], tags::TUPLE_STRUCT);
        Ok(self)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, HashError> {
        self.token(&[name, variant], tags::TUPLE_VARIANT);
        Ok(self)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Unordered<'a>, HashError> {
        Ok(Unordered::new(self, tags::MAP, len))
    }

    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Self, HashError> {
        self.token(&[name], tags::STRUCT);
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, HashError> {
        self.token(&[name, variant], tags::STRUCT_VARIANT);
        Ok(self)
    }

    /// `[T]` and `Vec<T>` of numbers take the bulk path, sets the sorted
    /// one, everything else is a plain sequence.
    fn collect_seq<I>(self, iter: I) -> Result<(), HashError>
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        if let Some((tag, width, bytes)) = bulk::scalar_bytes(&iter) {
            self.sink.tag(tags::SEQ);
            self.sink.scalar_run(tag, width, bytes);
            self.sink.tag(tags::END);
            return Ok(());
        }
        let iter = iter.into_iter();
        if sorted::is_unordered::<I>() {
            let mut set = Unordered::new(self, tags::SET, Some(iter.size_hint().0));
            for item in iter {
                set.part(&item, true)?;
            }
            return set.end();
        }
        self.sink.tag(tags::SEQ);
        for item in iter {
            item.serialize(&mut *self)?;
        }
        self.sink.tag(tags::END);
        Ok(())
    }

    /// Streams the `Display` output instead of building a `String` (the
    /// default); its length goes after it, like every string's.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), HashError> {
        let mut stream = Stream {
            sink: &mut self.sink,
            len: 0,
        };
        write!(stream, "{value}")
            .map_err(|_| HashError("a `Display` implementation returned an error".into()))?;
        let len = stream.len;
        self.sink.len(len);
        self.sink.tag(tags::STR);
        Ok(())
    }
}

/// Writes `Display` output into the stream, counting its bytes.
struct Stream<'a> {
    sink: &'a mut Sink,
    len: usize,
}

impl fmt::Write for Stream<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.sink.write(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

/// Elements of sequences and tuples: the values, then `END`.
macro_rules! bracketed {
    ($($trait:ident::$method:ident),*) => { $(
        impl ser::$trait for &mut Encoder {
            type Ok = ();
            type Error = HashError;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
                value.serialize(&mut **self)
            }

            fn end(self) -> Result<(), HashError> {
                self.sink.tag(tags::END);
                Ok(())
            }
        }
    )* };
}

bracketed!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// Fields of structs: `FIELD`, the field name and the value each, then
/// `END`. Skipped fields write nothing.
macro_rules! fields {
    ($($trait:ident),*) => { $(
        impl ser::$trait for &mut Encoder {
            type Ok = ();
            type Error = HashError;

            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), HashError> {
                self.token(&[key], tags::FIELD);
                value.serialize(&mut **self)
            }

            fn end(self) -> Result<(), HashError> {
                self.sink.tag(tags::END);
                Ok(())
            }
        }
    )* };
}

fields!(SerializeStruct, SerializeStructVariant);
