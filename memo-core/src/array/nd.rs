//! [`NdArray<T, D>`]: an `ndarray` array stored like an [`Array`], so it
//! comes back as a memory-mapped view of the right shape (feature
//! `ndarray`).
//!
//! ```
//! use std::sync::LazyLock;
//! use memory::{Memory, MmapMode, NdArray};
//! use ndarray::{Array2, array};
//!
//! static MEMORY2: LazyLock<Memory> = LazyLock::new(|| {
//!     Memory::new(std::env::temp_dir().join("memo-doc-ndarray")).mmap_mode(MmapMode::ReadOnly)
//! });
//!
//! /// numpy's `square`, on a matrix.
//! #[memory::cache(memory = MEMORY2)]
//! fn square(a: NdArray<f64, ndarray::Ix2>) -> NdArray<f64, ndarray::Ix2> {
//!     a.view().mapv(|x| x * x).into()
//! }
//!
//! // numpy's `vander(arange(3)).astype(float)`
//! let a: Array2<f64> = array![[0., 0., 1.], [1., 1., 1.], [4., 2., 1.]];
//! let res = square(a.clone().into());
//! println!("{res:?}");
//! // memmap([[0.0, 0.0, 1.0],
//! //         [1.0, 1.0, 1.0],
//! //         [16.0, 4.0, 1.0]])
//! assert!(res.is_mapped());
//! assert_eq!(res.view(), array![[0., 0., 1.], [1., 1., 1.], [16., 4., 1.]]);
//! # MEMORY2.clear().unwrap();
//! ```
//!
//! As an argument an `NdArray` hashes straight from memory, like an
//! `Array`. A plain `ndarray::Array` argument (with ndarray's `serde`
//! feature) works too, but ndarray serializes it element by element, which
//! hashes about five times slower.

use std::fmt;

use ndarray::{ArrayBase, ArrayView, ArrayViewMut, Dimension, IxDyn};
use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{Array, Element, MmapMode};

/// An n-dimensional array in row-major (C) order, stored out of line and
/// handed back memory-mapped like an [`Array`]; see the module docs.
pub struct NdArray<T: Element, D: Dimension> {
    shape: D,
    data: Array<T>,
}

impl<T: Element, D: Dimension> NdArray<T, D> {
    /// A copy of `array`'s elements, in row-major order.
    pub fn from_array<S: ndarray::Data<Elem = T>>(array: &ArrayBase<S, D>) -> Self {
        NdArray {
            shape: array.raw_dim(),
            data: array.iter().copied().collect(),
        }
    }

    /// A view with the array's shape (over the map, for a mapped array).
    pub fn view(&self) -> ArrayView<'_, T, D> {
        ArrayView::from_shape(self.shape.clone(), self.data.as_slice())
            .expect("shape checked on creation")
    }

    /// A writable view; a read-only map is copied into memory first (see
    /// [`Array::make_mut`]).
    pub fn view_mut(&mut self) -> ArrayViewMut<'_, T, D> {
        ArrayViewMut::from_shape(self.shape.clone(), self.data.make_mut())
            .expect("shape checked on creation")
    }

    /// An owned `ndarray` array (a copy, if this one is mapped).
    pub fn into_array(self) -> ndarray::Array<T, D> {
        ndarray::Array::from_shape_vec(self.shape, self.data.into_vec())
            .expect("shape checked on creation")
    }

    /// The length of each axis.
    pub fn shape(&self) -> &[usize] {
        self.shape.slice()
    }

    /// The elements, in row-major order.
    pub fn as_array(&self) -> &Array<T> {
        &self.data
    }

    /// Whether the elements live in a memory map of a cache entry.
    pub fn is_mapped(&self) -> bool {
        self.data.is_mapped()
    }

    /// How the elements are mapped, if they are.
    pub fn mmap_mode(&self) -> Option<MmapMode> {
        self.data.mmap_mode()
    }
}

impl<T: Element, D: Dimension> From<ndarray::Array<T, D>> for NdArray<T, D> {
    fn from(array: ndarray::Array<T, D>) -> Self {
        if !array.is_standard_layout() {
            return NdArray::from_array(&array);
        }
        let shape = array.raw_dim();
        let (values, offset) = array.into_raw_vec_and_offset();
        debug_assert!(
            offset.unwrap_or(0) == 0,
            "an owned standard-layout array starts its buffer"
        );
        NdArray {
            shape,
            data: values.into(),
        }
    }
}

impl<T: Element, D: Dimension> Clone for NdArray<T, D> {
    fn clone(&self) -> Self {
        NdArray {
            shape: self.shape.clone(),
            data: self.data.clone(),
        }
    }
}

impl<T: Element + PartialEq, D: Dimension> PartialEq for NdArray<T, D> {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.data == other.data
    }
}

impl<T: Element + fmt::Debug, D: Dimension> fmt::Debug for NdArray<T, D> {
    /// numpy's look: `array([[..]])`, or `memmap([[..]])` when mapped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.is_mapped() { "memmap" } else { "array" };
        let body = format!("{:?}", self.view());
        // ndarray appends ", shape=[..], strides=[..], layout=.., const ndim=.."
        let body = body.split(", shape=").next().unwrap_or(&body);
        write!(
            f,
            "{name}({})",
            body.replace('\n', &format!("\n{}", " ".repeat(name.len() + 1)))
        )
    }
}

impl<T: Element, D: Dimension> Serialize for NdArray<T, D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("NdArray", 2)?;
        state.serialize_field("shape", self.shape.slice())?;
        state.serialize_field("data", &self.data)?;
        state.end()
    }
}

impl<'de, T: Element, D: Dimension> Deserialize<'de> for NdArray<T, D> {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename = "NdArray", bound = "")]
        struct Stored<T: Element> {
            shape: Vec<usize>,
            data: Array<T>,
        }
        let Stored { shape, data } = Stored::<T>::deserialize(deserializer)?;
        let dim = D::from_dimension(&IxDyn(&shape)).ok_or_else(|| {
            de::Error::custom(format!(
                "an array of {} axes, expected {:?}",
                shape.len(),
                D::NDIM
            ))
        })?;
        let count = shape
            .iter()
            .try_fold(1usize, |count, &axis| count.checked_mul(axis));
        if count != Some(data.len()) {
            return Err(de::Error::custom(format!(
                "shape {shape:?} does not hold {} elements",
                data.len()
            )));
        }
        Ok(NdArray { shape: dim, data })
    }
}
