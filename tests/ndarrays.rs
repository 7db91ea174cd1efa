//! `memory::NdArray<T, D>` (feature `ndarray`): n-dimensional arrays stored
//! out of line and handed back as memory-mapped views of the right shape.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_tests::process_cache_dir;
use memory::{Memory, MmapMode, NdArray};
use ndarray::{Array2, Array3, Axis, Ix2, Ix3, IxDyn, array};

static DIR: LazyLock<std::path::PathBuf> = LazyLock::new(process_cache_dir);
static MAPPED: LazyLock<Memory> =
    LazyLock::new(|| Memory::new(DIR.as_path()).mmap_mode(MmapMode::ReadOnly));
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[memory::cache(memory = MAPPED)]
fn square(a: NdArray<f64, Ix2>) -> NdArray<f64, Ix2> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    a.view().mapv(|x| x * x).into()
}

#[test]
fn the_seeds_square_example_maps_a_matrix_back_with_its_shape() {
    let a: Array2<f64> = array![[0., 0., 1.], [1., 1., 1.], [4., 2., 1.]];
    let expected = array![[0., 0., 1.], [1., 1., 1.], [16., 4., 1.]];
    for _ in 0..2 {
        let res = square(a.clone().into());
        assert!(res.is_mapped());
        assert_eq!(res.shape(), &[3, 3]);
        assert_eq!(res.view(), expected);
        assert!(
            format!("{res:?}").starts_with("memmap([[0.0, 0.0, 1.0],"),
            "{res:?}"
        );
    }
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
}

#[memory::cache(memory = MAPPED)]
fn cube(n: usize) -> NdArray<i32, Ix3> {
    Array3::from_shape_fn((n, n + 1, n + 2), |(i, j, k)| (i * 100 + j * 10 + k) as i32).into()
}

#[test]
fn axes_and_strides_survive_the_round_trip() {
    for _ in 0..2 {
        let c = cube(4);
        let view = c.view();
        assert_eq!(view.dim(), (4, 5, 6));
        assert_eq!(view.strides(), &[30, 6, 1], "row-major");
        assert_eq!(view[[3, 4, 5]], 345);
        assert_eq!(view.index_axis(Axis(1), 2)[[1, 3]], 123);
    }
}

#[test]
fn non_standard_layouts_are_stored_in_row_major_order() {
    let a: Array2<f64> = array![[1., 2., 3.], [4., 5., 6.]];
    let transposed = a.t().to_owned();
    assert!(!a.t().is_standard_layout());
    let from_view = NdArray::from_array(&a.t());
    assert_eq!(from_view.view(), transposed);
    let reversed = a.slice(ndarray::s![.., ..;-1]).to_owned();
    assert_eq!(NdArray::from(reversed.clone()).view(), reversed);
}

#[test]
fn a_shape_that_does_not_fit_is_an_error_not_a_wrong_array() {
    let matrix: NdArray<f64, Ix2> = array![[1., 2.], [3., 4.]].into();
    let json = serde_json::to_string(&matrix).unwrap();
    assert!(
        serde_json::from_str::<NdArray<f64, Ix3>>(&json).is_err(),
        "2 axes read as 3"
    );
    let dynamic: NdArray<f64, IxDyn> = serde_json::from_str(&json).unwrap();
    assert_eq!(dynamic.shape(), &[2, 2]);
    let lying = json.replace("[2,2]", "[3,2]");
    assert!(
        serde_json::from_str::<NdArray<f64, Ix2>>(&lying).is_err(),
        "{lying}"
    );
}

#[test]
fn an_ndarray_argument_hashes_like_its_data_and_shape() {
    let a: NdArray<f64, Ix2> = Array2::from_elem((100, 100), 1.5).into();
    let b: NdArray<f64, Ix2> = Array2::from_elem((50, 200), 1.5).into();
    let digest = |x: &NdArray<f64, Ix2>| memory::hash::digest(x).unwrap();
    assert_ne!(digest(&a), digest(&b), "same elements, other shape");
    assert_eq!(digest(&a), digest(&a.clone()));
}
