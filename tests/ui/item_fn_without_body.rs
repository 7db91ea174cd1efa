trait Shape {
    #[memory::cache]
    fn unit_area() -> f64;
}

fn main() {}
