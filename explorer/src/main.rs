//! trace-explorer: the local OTLP receiver and trace views.
//!
//! A placeholder until its own issue lands; `cargo xtask dev` does not start it yet.

fn main() {
    println!("trace-explorer: not implemented yet (see the trace-explorer issue)");
}
