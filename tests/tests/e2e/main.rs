//! End-to-end tests: one binary, one module per journey.

// The trunk-built frontend boots in real Chromium.
mod frontend_boots;
