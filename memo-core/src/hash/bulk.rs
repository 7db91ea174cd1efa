//! The fast path for slices of numbers: hash their memory directly.
//!
//! serde serializes `[T]` and `Vec<T>` (and through them `Box<[T]>` and `&[T]`) with `collect_seq(&[T])` or `collect_seq(&Vec<T>)`. When
//! `T` is a primitive number and the target is little-endian, the slice's
//! memory *is* the concatenation of the values' little-endian bytes, so it
//! can be fed to the hasher as one run (`Sink::scalar_run`) without visiting
//! the elements. The stream is exactly the one the element path writes, so
//! a `VecDeque<f64>` or a hand-written `Serialize` with the same elements
//! still hashes equal.

use std::any::TypeId;

use super::tags;

/// A primitive number: no padding, every bit pattern valid, and on a
/// little-endian target its memory equals its `to_le_bytes()`.
///
/// # Safety
///
/// Only implement for such types.
unsafe trait Plain: Copy + 'static {}

macro_rules! plain {
    ($($t:ty),*) => { $(
        // SAFETY: a primitive integer or float.
        unsafe impl Plain for $t {}
    )* };
}
plain!(
    u8, i8, u16, i16, u32, i32, u64, i64, u128, i128, usize, isize, f32, f64
);

/// If the iterable handed to `collect_seq` is a slice or `Vec` of numbers,
/// returns the run's element tag, element width and the raw bytes.
#[cfg(target_endian = "little")]
pub(super) fn scalar_bytes<I>(iter: &I) -> Option<(u8, usize, &[u8])> {
    macro_rules! probe {
        ($($t:ty => $tag:expr),* $(,)?) => { $(
            if let Some(slice) = as_slice::<I, $t>(iter) {
                return Some(($tag, size_of::<$t>(), as_bytes(slice)));
            }
        )* };
    }
    probe!(
        f64 => tags::F64, f32 => tags::F32, u8 => tags::U8, i8 => tags::I8,
        u16 => tags::U16, i16 => tags::I16, u32 => tags::U32, i32 => tags::I32,
        u64 => tags::U64, i64 => tags::I64, u128 => tags::U128, i128 => tags::I128,
    );
    // serde serializes usize as u64 and isize as i64; where they have that
    // width their memory matches too.
    #[cfg(target_pointer_width = "64")]
    probe!(usize => tags::U64, isize => tags::I64);
    None
}

/// On big-endian targets memory is not the canonical byte order: every
/// sequence takes the element path.
#[cfg(not(target_endian = "little"))]
pub(super) fn scalar_bytes<I>(_iter: &I) -> Option<(u8, usize, &[u8])> {
    None
}

/// `iter` as a `&[T]`, if `I` is `&[T]` or `&Vec<T>`.
#[cfg_attr(not(target_endian = "little"), allow(dead_code))]
fn as_slice<'a, I, T: Plain>(iter: &'a I) -> Option<&'a [T]> {
    // `typeid::of` is `TypeId::of` with every lifetime replaced by 'static.
    let id = typeid::of::<I>();
    if id == TypeId::of::<&'static [T]>() {
        // SAFETY: `T` has no lifetimes, so the only types whose id equals
        // that of `&'static [T]` are `&'x [T]` for some lifetime 'x: `I` is
        // `&'x [T]`. `iter: &'a I` is well-formed, so `I: 'a`, i.e. 'x
        // outlives 'a, and reading the reference out as `&'a [T]` only
        // shortens its lifetime. `transmute_copy` reads `I` by value from a
        // valid `&I` of the very same type and size.
        Some(unsafe { std::mem::transmute_copy::<I, &'a [T]>(iter) })
    } else if id == TypeId::of::<&'static Vec<T>>() {
        // SAFETY: as above, with `Vec<T>` (no lifetimes either) for `[T]`.
        let vec = unsafe { std::mem::transmute_copy::<I, &'a Vec<T>>(iter) };
        Some(vec.as_slice())
    } else {
        None
    }
}

/// The memory of a slice of numbers.
#[cfg_attr(not(target_endian = "little"), allow(dead_code))]
fn as_bytes<T: Plain>(slice: &[T]) -> &[u8] {
    // SAFETY: `T: Plain` has no padding, so all `size_of_val(slice)` bytes
    // are initialized; `u8` has alignment 1; the borrow is carried over.
    unsafe { std::slice::from_raw_parts(slice.as_ptr().cast::<u8>(), size_of_val(slice)) }
}
