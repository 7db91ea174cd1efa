//! The element types an [`Array`](super::Array) can hold.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A plain numeric type whose values are their bytes: any bit pattern is a
/// valid value and there is no padding, so an array of them can be written
/// and memory-mapped as raw bytes. Implemented for the integer types from 8
/// to 64 bits and for `f32` and `f64`; sealed.
pub trait Element:
    Copy + Default + Send + Sync + Serialize + DeserializeOwned + sealed::Sealed + 'static
{
    /// The tag stored with an array of this type.
    const DTYPE: Dtype;
}

/// The element type of a stored array, as recorded in its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum Dtype {
    /// `u8`
    U8 = 1,
    /// `i8`
    I8 = 2,
    /// `u16`
    U16 = 3,
    /// `i16`
    I16 = 4,
    /// `u32`
    U32 = 5,
    /// `i32`
    I32 = 6,
    /// `u64`
    U64 = 7,
    /// `i64`
    I64 = 8,
    /// `f32`
    F32 = 9,
    /// `f64`
    F64 = 10,
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! elements {
    ($($type:ty => $dtype:ident),* $(,)?) => { $(
        impl sealed::Sealed for $type {}
        impl Element for $type {
            const DTYPE: Dtype = Dtype::$dtype;
        }
    )* };
}

elements!(
    u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32,
    u64 => U64, i64 => I64, f32 => F32, f64 => F64,
);

/// The bytes of a slice of elements.
pub(crate) fn as_bytes<T: Element>(values: &[T]) -> &[u8] {
    // SAFETY: `Element` types have no padding and no invalid bit patterns,
    // and `u8` has alignment 1; the length is the slice's size in bytes.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// The bytes of a mutable slice of elements.
pub(crate) fn as_bytes_mut<T: Element>(values: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; and every byte pattern written through the
    // returned slice is a valid `T`.
    unsafe {
        std::slice::from_raw_parts_mut(
            values.as_mut_ptr().cast::<u8>(),
            std::mem::size_of_val(values),
        )
    }
}
