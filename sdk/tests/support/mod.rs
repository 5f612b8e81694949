//! Helpers shared by the browser tests: timers and the loopback test receiver.
#![allow(dead_code, unreachable_pub)]

use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Waits `ms` milliseconds on a real browser timer.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    JsFuture::from(promise).await.expect("timer");
}

/// The receiver's base URL, handed in by `cargo xtask test` at compile time.
pub fn receiver_base() -> &'static str {
    match option_env!("OTEL_WEB_TEST_RECEIVER") {
        Some(url) => url,
        None => panic!("OTEL_WEB_TEST_RECEIVER is not set: run the browser tests with `cargo xtask test`"),
    }
}

/// A session on the test receiver, private to one test.
pub struct Receiver {
    pub base: String,
}

impl Receiver {
    pub fn new(session: &str) -> Self {
        let unique = (js_sys::Math::random() * 1e9) as u64;
        Self { base: format!("{}/s/{session}-{unique}", receiver_base()) }
    }

    /// The traces URL of this session.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.base)
    }

    /// Queues scripted responses (JSON array of `{status, headers, body}`).
    pub async fn script(&self, script: Value) {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&script.to_string()));
        let promise = web_sys::window()
            .expect("window")
            .fetch_with_str_and_init(&format!("{}/_script", self.base), &init);
        let response: web_sys::Response =
            JsFuture::from(promise).await.expect("script").dyn_into().expect("response");
        assert_eq!(response.status(), 204, "the receiver refused the script");
    }

    /// The requests recorded so far (preflights included, with method OPTIONS).
    pub async fn requests(&self) -> Vec<Value> {
        let promise = web_sys::window().expect("window").fetch_with_str(&format!("{}/_requests", self.base));
        let response: web_sys::Response =
            JsFuture::from(promise).await.expect("requests").dyn_into().expect("response");
        let text = JsFuture::from(response.text().expect("text")).await.expect("body");
        let parsed: Value = serde_json::from_str(&text.as_string().expect("string")).expect("JSON");
        parsed.as_array().cloned().unwrap_or_default()
    }

    /// The recorded POSTs, once at least `count` have arrived (or after 10 s).
    pub async fn posts(&self, count: usize) -> Vec<Value> {
        for _ in 0..200 {
            let posts: Vec<Value> =
                self.requests().await.into_iter().filter(|r| r["method"] == "POST").collect();
            if posts.len() >= count {
                return posts;
            }
            sleep(50).await;
        }
        self.requests().await.into_iter().filter(|r| r["method"] == "POST").collect()
    }
}

/// The spans of an OTLP/JSON body.
pub fn spans_of(body: &str) -> Vec<Value> {
    let json: Value = serde_json::from_str(body).expect("the body is JSON");
    let mut spans = Vec::new();
    for rs in json["resourceSpans"].as_array().expect("resourceSpans") {
        for ss in rs["scopeSpans"].as_array().expect("scopeSpans") {
            spans.extend(ss["spans"].as_array().expect("spans").iter().cloned());
        }
    }
    spans
}
