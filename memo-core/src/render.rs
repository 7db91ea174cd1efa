//! Readable rendering of call arguments, built from `Serialize` (no `Debug` bound).
//!
//! A small serde `Serializer` writes Rust-like text for cache metadata and
//! joblib-style traces such as `f(1, "a")`: numbers as Rust prints them
//! (`1`, `1.0`, `-0.0`, `NaN`), strings and chars quoted and escaped like
//! `{:?}`, `Some(1)`/`None`, `()`, `[1, 2, 3]`, `(1, 2)`, `(1,)`,
//! `Point { x: 1, y: 2 }`, `Meters(5)`, unit variants by their bare name
//! (`Red`, as `Debug` prints them), maps `{"a": 1}`, bytes `b"a\x00"`.
//!
//! Output is kept to about `limit` bytes: once that many are written, the
//! next element of any container stops the walk (a private error unwinds
//! out of `Serialize`), and the open containers are closed with an
//! ellipsis and, when known, their length: `[0.0, 1.0, 2.0, … 1000000
//! items]`. Strings and bytes are cut with `…`. So rendering a gigabyte
//! vector costs the same as rendering its first few elements.

use std::fmt::{self, Display, Write as _};

use serde::Serialize;
use serde::ser::{self, Serializer};

/// Renders `value` in Rust-like syntax, shortened to about `limit` characters.
///
/// Never panics: if `value`'s `Serialize` fails, what was rendered so far is
/// kept and `<error>` appended.
pub fn render<T: Serialize + ?Sized>(value: &T, limit: usize, out: &mut String) {
    let start = out.len();
    let mut renderer = Renderer {
        out,
        start,
        limit,
        frames: Vec::new(),
        stopped: false,
    };
    let result = value.serialize(&mut renderer);
    if let Err(Halt::Failed) = result {
        renderer.out.push_str("<error>");
        return;
    }
    // After a stop (or a `Serialize` impl that swallowed one), close what
    // is still open.
    while let Some(frame) = renderer.frames.pop() {
        frame.close_truncated(renderer.out);
    }
}

/// Why the walk ended early.
#[derive(Debug)]
enum Halt {
    /// The output reached the limit (not an error for the caller).
    Stop,
    /// The value's `Serialize` (or a `Display` it used) failed.
    Failed,
}

impl Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Halt::Stop => "rendering limit reached",
            Halt::Failed => "serialization failed",
        })
    }
}

impl std::error::Error for Halt {}

impl ser::Error for Halt {
    fn custom<M: Display>(_msg: M) -> Self {
        Halt::Failed
    }
}

/// The kind of an open container, which decides its punctuation.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `[a, b]`
    Seq,
    /// `(a, b)`, and `(a,)` for one element.
    Tuple,
    /// `Name(a, b)`: tuple structs and tuple variants.
    Named,
    /// `Name(a)`: `Some`, newtype structs and variants; always one value.
    Wrapper,
    /// `{k: v}`
    Map,
    /// `Name { f: v }`, or just `Name` without fields.
    Struct,
}

/// An open container.
#[derive(Clone, Copy)]
struct Frame {
    kind: Kind,
    /// Its number of elements, when serde told us.
    len: Option<usize>,
    /// Elements started so far.
    shown: usize,
}

impl Frame {
    /// What goes before an element.
    fn separator(&self) -> &'static str {
        match (self.shown, self.kind) {
            (0, Kind::Struct) => " { ",
            (0, _) => "",
            _ => ", ",
        }
    }

    fn close(&self, out: &mut String) {
        out.push_str(match (self.kind, self.shown) {
            (Kind::Tuple, 1) => ",)",
            (Kind::Struct, 0) => "",
            _ => self.closer(),
        });
    }

    /// Closes a container whose remaining elements were not rendered:
    /// `[1, 2, … 10 items]`, `Point { x: 1, … }`.
    fn close_truncated(&self, out: &mut String) {
        if self.kind != Kind::Wrapper {
            out.push_str(self.separator());
            out.push('…');
            if let Some(len) = self.len {
                let unit = if self.kind == Kind::Map {
                    "entries"
                } else {
                    "items"
                };
                let _ = write!(out, " {len} {unit}");
            }
        }
        out.push_str(self.closer());
    }

    fn closer(&self) -> &'static str {
        match self.kind {
            Kind::Seq => "]",
            Kind::Tuple | Kind::Named | Kind::Wrapper => ")",
            Kind::Map => "}",
            Kind::Struct => " }",
        }
    }
}

struct Renderer<'a> {
    out: &'a mut String,
    /// Where our output starts in `out`.
    start: usize,
    limit: usize,
    frames: Vec<Frame>,
    /// The limit stopped the walk; what gets closed from now on is cut.
    stopped: bool,
}

impl Renderer<'_> {
    fn full(&self) -> bool {
        self.out.len() - self.start >= self.limit
    }

    /// Writes the `Display` output of `value`.
    fn show<T: Display + ?Sized>(&mut self, value: &T) -> Result<(), Halt> {
        write!(self.out, "{value}").map_err(|_| Halt::Failed)
    }

    fn open(&mut self, prefix: &str, kind: Kind, len: Option<usize>) -> Result<&mut Self, Halt> {
        self.out.push_str(prefix);
        self.frames.push(Frame {
            kind,
            len,
            shown: 0,
        });
        Ok(self)
    }

    /// Starts an element of the innermost container, or stops if the
    /// output is full.
    fn element(&mut self) -> Result<(), Halt> {
        if self.full() {
            self.stopped = true;
            return Err(Halt::Stop);
        }
        if let Some(frame) = self.frames.last_mut() {
            self.out.push_str(frame.separator());
            frame.shown += 1;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), Halt> {
        match self.frames.pop() {
            Some(frame) if self.stopped => frame.close_truncated(self.out),
            Some(frame) => frame.close(self.out),
            None => {}
        }
        Ok(())
    }

    /// A value wrapped as `prefix(value)`.
    fn wrapped<T: Serialize + ?Sized>(&mut self, prefix: &str, value: &T) -> Result<(), Halt> {
        self.open(prefix, Kind::Wrapper, Some(1))?;
        value.serialize(&mut *self)?;
        self.close()
    }

    /// Writes `chars` escaped, between `open` and `"`, cut at the limit.
    fn quoted(&mut self, open: &str, chars: impl Iterator<Item = impl Display>) {
        self.out.push_str(open);
        for c in chars {
            if self.full() {
                self.out.push('…');
                break;
            }
            let _ = write!(self.out, "{c}");
        }
        self.out.push('"');
    }
}

/// A `char` escaped the way `{:?}` escapes it inside a string (where `'`
/// needs no escape).
struct InStr(char);

impl Display for InStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            '\'' => f.write_char('\''),
            c => write!(f, "{}", c.escape_debug()),
        }
    }
}

impl<'a, 'b> Serializer for &'a mut Renderer<'b> {
    type Ok = ();
    type Error = Halt;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_i8(self, v: i8) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_i16(self, v: i16) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_i32(self, v: i32) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_u16(self, v: u16) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_u32(self, v: u32) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_u64(self, v: u64) -> Result<(), Halt> {
        self.show(&v)
    }

    fn serialize_u128(self, v: u128) -> Result<(), Halt> {
        self.show(&v)
    }

    // `{:?}` keeps the `.0` of whole floats, which `{}` drops.
    fn serialize_f32(self, v: f32) -> Result<(), Halt> {
        self.show(&format_args!("{v:?}"))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Halt> {
        self.show(&format_args!("{v:?}"))
    }

    fn serialize_char(self, v: char) -> Result<(), Halt> {
        self.show(&format_args!("{v:?}"))
    }

    fn serialize_str(self, v: &str) -> Result<(), Halt> {
        self.quoted("\"", v.chars().map(InStr));
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Halt> {
        self.quoted("b\"", v.iter().map(|b| b.escape_ascii()));
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Halt> {
        self.out.push_str("None");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Halt> {
        self.wrapped("Some(", value)
    }

    fn serialize_unit(self) -> Result<(), Halt> {
        self.out.push_str("()");
        Ok(())
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<(), Halt> {
        self.out.push_str(name);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Halt> {
        self.out.push_str(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Halt> {
        self.wrapped(&format!("{name}("), value)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Halt> {
        self.wrapped(&format!("{variant}("), value)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self, Halt> {
        self.open("[", Kind::Seq, len)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self, Halt> {
        self.open("(", Kind::Tuple, Some(len))
    }

    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Self, Halt> {
        self.open(&format!("{name}("), Kind::Named, Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, Halt> {
        self.open(&format!("{variant}("), Kind::Named, Some(len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self, Halt> {
        self.open("{", Kind::Map, len)
    }

    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Self, Halt> {
        self.open(name, Kind::Struct, None)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, Halt> {
        self.open(variant, Kind::Struct, None)
    }

    /// Quotes and escapes the `Display` output as it comes, and stops the
    /// `Display` at the limit instead of building the whole string.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Halt> {
        self.out.push('"');
        let mut quoted = Quoted {
            renderer: self,
            cut: false,
        };
        let result = write!(quoted, "{value}");
        let cut = quoted.cut;
        if result.is_err() && !cut {
            return Err(Halt::Failed);
        }
        self.out.push_str(if cut { "…\"" } else { "\"" });
        Ok(())
    }
}

/// Escapes `Display` output into the renderer, up to the limit.
struct Quoted<'r, 'a> {
    renderer: &'r mut Renderer<'a>,
    /// The limit was reached (the `fmt::Error` that ends the `Display`
    /// early is ours, not a failure).
    cut: bool,
}

impl fmt::Write for Quoted<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.renderer.full() {
                self.cut = true;
                return Err(fmt::Error);
            }
            write!(self.renderer.out, "{}", InStr(c))?;
        }
        Ok(())
    }
}

/// Elements of sequences and tuples.
macro_rules! elements {
    ($($trait:ident::$method:ident),*) => { $(
        impl ser::$trait for &mut Renderer<'_> {
            type Ok = ();
            type Error = Halt;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Halt> {
                self.element()?;
                value.serialize(&mut **self)
            }

            fn end(self) -> Result<(), Halt> {
                self.close()
            }
        }
    )* };
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// Named fields: `name: value`.
macro_rules! fields {
    ($($trait:ident),*) => { $(
        impl ser::$trait for &mut Renderer<'_> {
            type Ok = ();
            type Error = Halt;

            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Halt> {
                self.element()?;
                self.out.push_str(key);
                self.out.push_str(": ");
                value.serialize(&mut **self)
            }

            fn end(self) -> Result<(), Halt> {
                self.close()
            }
        }
    )* };
}

fields!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for &mut Renderer<'_> {
    type Ok = ();
    type Error = Halt;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Halt> {
        self.element()?;
        key.serialize(&mut **self)?;
        self.out.push_str(": ");
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Halt> {
        value.serialize(&mut **self)
    }

    fn end(self) -> Result<(), Halt> {
        self.close()
    }
}

#[cfg(test)]
mod tests;
