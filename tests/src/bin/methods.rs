//! Cached methods, run as a real process by `tests/methods.rs`:
//! `methods COMMAND ARGS...`, caching in `$MEMO_CACHE_DIR`.
//!
//! Every body prints `computing ...` on stdout, so a test counts how often a
//! body really ran; results are printed as `call = value`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Two types with a method of one name, in one module.
#[derive(Serialize)]
struct Celsius(f64);

#[derive(Serialize)]
struct Fahrenheit(f64);

impl Celsius {
    #[memory::cache]
    fn describe(&self, precision: usize) -> String {
        println!("computing Celsius::describe");
        format!("{:.precision$} °C", self.0)
    }
}

impl Fahrenheit {
    #[memory::cache]
    fn describe(&self, precision: usize) -> String {
        println!("computing Fahrenheit::describe");
        format!("{:.precision$} °F", self.0)
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Model {
    weights: Vec<f64>,
}

impl Model {
    /// An associated function naming `Self`.
    #[memory::cache]
    fn with_size(size: usize) -> Self {
        println!("computing Model::with_size({size})");
        Model {
            weights: (0..size).map(|i| i as f64).collect(),
        }
    }

    /// By value.
    #[memory::cache]
    fn total(self) -> f64 {
        println!("computing Model::total");
        self.weights.iter().sum()
    }

    /// Through an `Arc`.
    #[memory::cache]
    fn scaled(self: Arc<Self>, factor: f64) -> Vec<f64> {
        println!("computing Model::scaled({factor})");
        self.weights.iter().map(|w| w * factor).collect()
    }

    /// `self` ignored: every model shares the result.
    #[memory::cache(ignore = ["self"], allow(all_ignored))]
    fn version(&self) -> String {
        println!("computing Model::version");
        "v1".to_owned()
    }

    /// No receiver, no `Self`: an associated function like a free one.
    #[memory::cache]
    fn square(x: u64) -> u64 {
        println!("computing Model::square({x})");
        x * x
    }
}

trait Area {
    fn area(&self) -> f64;
}

#[derive(Serialize)]
struct Square(f64);

#[derive(Serialize)]
struct Circle(f64);

impl Area for Square {
    #[memory::cache]
    fn area(&self) -> f64 {
        println!("computing Square::area");
        self.0 * self.0
    }
}

impl Area for Circle {
    #[memory::cache]
    fn area(&self) -> f64 {
        println!("computing Circle::area");
        std::f64::consts::PI * self.0 * self.0
    }
}

/// A trait whose default method is cached: one definition, one identity per
/// implementing type.
trait Describe: Serialize {
    #[memory::cache]
    fn label(&self) -> String {
        println!("computing label of {}", std::any::type_name::<Self>());
        serde_json_like(self)
    }
}

fn serde_json_like<T: Serialize + ?Sized>(_value: &T) -> String {
    std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or_default()
        .to_owned()
}

impl Describe for Square {}
impl Describe for Circle {}

fn print_registry() {
    for function in memory::registry() {
        println!("{} {}", function.identity, function.location());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |at: usize| args[at].parse::<f64>().expect("a number");
    match args.first().map(String::as_str) {
        Some("describe") => {
            let value = number(1);
            println!(
                "Celsius({value}).describe(1) = {}",
                Celsius(value).describe(1)
            );
            println!(
                "Fahrenheit({value}).describe(1) = {}",
                Fahrenheit(value).describe(1)
            );
        }
        Some("model") => {
            let size = args[1].parse().expect("a size");
            let model = Model::with_size(size);
            println!("Model::with_size({size}) = {:?}", model.weights);
            println!("total = {}", model.clone().total());
            println!("scaled = {:?}", Arc::new(model.clone()).scaled(2.0));
            println!("version = {}", model.version());
            println!("Model::square(3) = {}", Model::square(3));
        }
        Some("area") => {
            let side = number(1);
            println!("Square({side}).area() = {}", Square(side).area());
            println!("Circle({side}).area() = {:.3}", Circle(side).area());
            println!("Square label = {}", Square(side).label());
            println!("Circle label = {}", Circle(side).label());
        }
        Some("registry") => print_registry(),
        Some("describe-then-registry") => {
            let value = number(1);
            let _ = Celsius(value).describe(1);
            let _ = Fahrenheit(value).describe(1);
            print_registry();
        }
        other => panic!("unknown command {other:?}"),
    }
}
