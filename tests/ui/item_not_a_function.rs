// `#[cache]` goes on functions only; the caret sits under the item's keyword.

#[memory::cache]
struct Point {
    x: u32,
}

#[memory::cache]
enum Shape {
    Circle,
}

#[memory::cache]
impl Point {
    fn x(&self) -> u32 {
        self.x
    }
}

#[memory::cache]
trait Area {}

#[memory::cache]
const LIMIT: u32 = 3;

#[memory::cache]
mod inner {}

fn main() {
    let _ = (Point { x: 1 }.x(), Shape::Circle, LIMIT);
}
