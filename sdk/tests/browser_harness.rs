//! Proves the wasm test harness runs in a real browser: these APIs do not exist in Node's
//! default test environment, and the user agent names headless Chrome.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn runs_in_headless_chrome_with_a_high_resolution_clock() {
    let window = web_sys::window().expect("a browser window");
    let agent = window.navigator().user_agent().expect("user agent");
    assert!(agent.contains("HeadlessChrome"), "user agent was {agent}");
    let performance = window.performance().expect("performance");
    let origin = performance.time_origin();
    // Milliseconds since the epoch: after 2020 and not in the far future.
    assert!(origin > 1.577e12 && origin < 4.0e12, "timeOrigin was {origin}");
    assert!(performance.now() >= 0.0);
}

#[wasm_bindgen_test]
fn crypto_get_random_values_fills_a_buffer() {
    let crypto = web_sys::window().expect("window").crypto().expect("crypto");
    let mut buffer = [0u8; 64];
    crypto.get_random_values_with_u8_array(&mut buffer).expect("getRandomValues");
    assert!(buffer.iter().any(|b| *b != 0), "64 random bytes were all zero");
}
