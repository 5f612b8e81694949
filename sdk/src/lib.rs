//! OpenTelemetry tracing for the browser, in Rust and WebAssembly.
#![warn(missing_docs)]
