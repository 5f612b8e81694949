//! A browser page load in the waterfall, over HTTP: OTLP/JSON for the backend's `GET /` and
//! otel-web's `documentLoad` → `documentFetch`, `resourceFetch`es and a vital is posted to
//! `/v1/traces`; the trace page must label each `resourceFetch` row by the last segment of its
//! URL with the span name still shown, and draw exactly one tick mark per phase event of
//! `documentLoad` and `documentFetch` (none for other spans' events), where the event's time
//! falls on the time axis.

use std::sync::Arc;

use serde_json::{Value, json};
use trace_explorer::store::{Retention, Store};
use trace_explorer::{AppState, app};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The waterfall's geometry: labels on the left, then the bars.
const LABEL_WIDTH: f64 = 330.0;
const BAR_WIDTH: f64 = 640.0;

fn attr(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

async fn serve() -> String {
    let store = Arc::new(Store::in_memory(Retention::default()).expect("store"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(AppState { store, forwarder: None }, &[]);
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// One span; times in ms after `t0`; events as `(name, ms after t0)`.
fn span(
    t0: i64,
    id: u64,
    parent: Option<u64>,
    name: &str,
    (start, end): (f64, f64),
    url: &str,
    events: &[(&str, f64)],
) -> Value {
    let at = |ms: f64| (t0 + (ms * 1e6) as i64).to_string();
    let mut span = json!({
        "traceId": TRACE, "spanId": format!("{id:016x}"), "name": name, "kind": if id == 1 { 2 } else { 1 },
        "startTimeUnixNano": at(start), "endTimeUnixNano": at(end),
        "attributes": [attr("url.full", url)],
        "events": events.iter().map(|(n, t)| json!({"name": n, "timeUnixNano": at(*t)})).collect::<Vec<_>>(),
    });
    if let Some(parent) = parent {
        span["parentSpanId"] = json!(format!("{parent:016x}"));
    }
    span
}

/// The `x1` of every tick mark, in document order, and the text of its `<title>`.
fn marks(html: &str) -> Vec<(f64, String)> {
    html.split("<line class=\"phase\"")
        .skip(1)
        .map(|rest| {
            let x = rest.split("x1=\"").nth(1).and_then(|r| r.split('"').next()).expect("x1");
            let title = rest.split("<title>").nth(1).and_then(|r| r.split("</title>").next()).expect("title");
            (x.parse().expect("x1 is a number"), title.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn resource_rows_show_their_file_and_page_load_phases_are_one_tick_each() {
    let base = serve().await;
    let t0: i64 = 1_764_460_800_000_000_000;
    let total_ms = 400.0;
    let load_events = [
        ("fetchStart", 2.0),
        ("domInteractive", 60.0),
        ("domContentLoadedEventStart", 61.0),
        ("domContentLoadedEventEnd", 62.0),
        ("domComplete", 200.0),
        ("loadEventStart", 201.0),
        ("loadEventEnd", 202.0),
    ];
    let fetch_events = [
        ("fetchStart", 2.0),
        ("domainLookupStart", 2.5),
        ("domainLookupEnd", 2.5),
        ("connectStart", 3.0),
        ("connectEnd", 4.0),
        ("requestStart", 5.0),
        ("responseStart", 20.0),
        ("responseEnd", 22.0),
    ];
    let resource_events = [("fetchStart", 31.0), ("responseEnd", 39.0)];
    let frontend = vec![
        span(t0, 2, Some(1), "documentLoad", (0.0, total_ms), "http://127.0.0.1:3000/", &load_events),
        span(t0, 3, Some(2), "documentFetch", (2.0, 22.0), "http://127.0.0.1:3000/", &fetch_events),
        span(
            t0,
            4,
            Some(2),
            "resourceFetch",
            (30.0, 390.0),
            "http://127.0.0.1:3000/cruddur-frontend-cadaa06813fe5bfe_bg.wasm",
            &resource_events,
        ),
        span(
            t0,
            5,
            Some(2),
            "resourceFetch",
            (25.0, 40.0),
            "http://127.0.0.1:3000/style.css?v=3#top",
            &resource_events,
        ),
        span(t0, 6, Some(2), "resourceFetch", (26.0, 41.0), "https://cdn.example/fonts/", &resource_events),
        span(t0, 7, Some(2), "fcp", (0.0, 120.0), "http://127.0.0.1:3000/", &[]),
    ];
    let backend = vec![span(t0, 1, None, "GET /", (6.0, 19.0), "http://127.0.0.1:3000/", &[])];
    let body = json!({"resourceSpans": [
        {"resource": {"attributes": [attr("service.name", "backend")]},
         "scopeSpans": [{"scope": {"name": "backend"}, "spans": backend}]},
        {"resource": {"attributes": [attr("service.name", "frontend")]},
         "scopeSpans": [{"scope": {"name": "otel-web.document-load"}, "spans": frontend}]},
    ]});
    let client = reqwest::Client::new();
    let posted = client.post(format!("{base}/v1/traces")).json(&body).send().await.expect("post");
    assert!(posted.status().is_success(), "{}", posted.status());

    let html =
        client.get(format!("{base}/traces/{TRACE}")).send().await.expect("get").text().await.expect("html");

    // Each resource row: its file first, the span name after it.
    // A long name keeps its start and its end (15 characters each side of the ellipsis).
    for file in ["cruddur-fronten…13fe5bfe_bg.wasm", "style.css", "fonts"] {
        let label = format!("{file} <tspan class=muted>resourceFetch</tspan>");
        assert_eq!(html.matches(&label).count(), 1, "no row labelled {label:?} in\n{html}");
    }
    assert!(!html.contains("?v=3"), "the query is not part of the label");
    // Other rows keep their names.
    for name in ["documentLoad", "documentFetch", "GET /", "fcp"] {
        assert!(html.contains(&format!(">{name}</text>")), "no row named {name}");
    }

    // One tick per phase event of documentLoad and documentFetch, at the event's time on the
    // axis (the trace runs from documentLoad's start to its end); none for the resources'.
    let x = |ms: f64| LABEL_WIDTH + ms / total_ms * BAR_WIDTH;
    let expected: Vec<(String, String)> = load_events
        .iter()
        .map(|(name, at)| (format!("{:.1}", x(*at)), format!("{name} +{:.1} ms", at)))
        .chain(
            fetch_events
                .iter()
                .map(|(name, at)| (format!("{:.1}", x(*at)), format!("{name} +{:.1} ms", at - 2.0))),
        )
        .collect();
    let found: Vec<(String, String)> =
        marks(&html).into_iter().map(|(x, title)| (format!("{x:.1}"), title)).collect();
    assert_eq!(found, expected);
}
