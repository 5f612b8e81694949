//! Everything that touches the browser, behind small functions.
//!
//! Each function has a native twin so the SDK's logic is unit-tested with `cargo test` on the
//! host; the browser versions are exercised by the wasm tests in headless Chromium.

pub(crate) mod clock;
pub(crate) mod console;
pub(crate) mod fetch;
pub(crate) mod lifecycle;
pub(crate) mod number;
pub(crate) mod random;
pub(crate) mod timer;
