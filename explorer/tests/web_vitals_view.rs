//! The Web vitals view against a simple independent computation: real OTLP/JSON spans with
//! `browser.web_vital.*` attributes are posted over HTTP, then `/vitals` must show, per vital
//! and route, the nearest-rank P75 and the share of each rating; its example-trace links must
//! lead to the traces of that vital on that route; and the Honeycomb-shaped query the view is
//! built on must give the same numbers through `/api/query`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use trace_explorer::store::{Retention, Store};
use trace_explorer::views::vitals::p75_spec;
use trace_explorer::{AppState, app};

/// (name, good, poor) as Google rates them.
const VITALS: &[(&str, f64, f64)] = &[
    ("lcp", 2500.0, 4000.0),
    ("inp", 200.0, 500.0),
    ("cls", 0.1, 0.25),
    ("fcp", 1800.0, 3000.0),
    ("ttfb", 800.0, 1800.0),
];
const ROUTES: &[&str] = &["/", "/@andrewbrown", "/messages"];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rating(value: f64, good: f64, poor: f64) -> &'static str {
    if value > poor {
        "poor"
    } else if value > good {
        "needs-improvement"
    } else {
        "good"
    }
}

/// Nearest rank: the value at rank ceil(0.75 n).
fn p75(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((0.75 * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

fn format(name: &str, value: f64) -> String {
    match name {
        "cls" => format!("{value:.3}"),
        _ if value >= 1000.0 => format!("{:.2} s", value / 1000.0),
        _ => format!("{value:.0} ms"),
    }
}

fn attr(key: &str, value: Value) -> Value {
    let value = match value {
        Value::String(s) => json!({"stringValue": s}),
        Value::Number(n) if n.is_f64() => json!({"doubleValue": n}),
        other => json!({"intValue": other.to_string()}),
    };
    json!({"key": key, "value": value})
}

async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(state, &[]);
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// The text of the first `<td class=CLASS>` after `from` in `html`.
fn cell_after<'a>(html: &'a str, from: usize, class: &str) -> &'a str {
    let open = format!("<td class={class}>");
    let start = html[from..].find(&open).expect("cell") + from + open.len();
    let end = start + html[start..].find("</td>").expect("cell end");
    &html[start..end]
}

#[tokio::test]
async fn the_vitals_view_shows_p75_and_rating_shares_per_route_and_links_to_examples() {
    let store = Arc::new(Store::in_memory(Retention::default()).expect("store"));
    let base = serve(AppState { store, forwarder: None }).await;
    let client = reqwest::Client::new();
    let now = trace_explorer::store::now_ns();
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    // (vital, route) → values; (vital, route) → trace ids.
    let mut values: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    let mut traces: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    let mut spans = Vec::new();
    for i in 0..600u64 {
        let (name, good, poor) = VITALS[rng.below(VITALS.len() as u64) as usize];
        // The last route gets no INP at all: a vital without reports on a route has no row.
        let route = ROUTES[rng.below(ROUTES.len() as u64) as usize];
        if name == "inp" && route == "/messages" {
            continue;
        }
        let value = if name == "cls" {
            rng.below(400) as f64 / 1000.0
        } else {
            (rng.below((poor * 1.6) as u64) + 1) as f64
        };
        let trace_id = format!("{:032x}", u128::from(i) + 1);
        values.entry((name, route)).or_default().push(value);
        traces.entry((name, route)).or_default().push(trace_id.clone());
        let duration_ns = if name == "cls" { 0 } else { (value * 1e6) as i64 };
        let start = now - 60_000_000_000 + i as i64 * 10_000_000;
        spans.push(json!({
            "traceId": trace_id, "spanId": format!("{:016x}", i + 1), "name": name, "kind": 1,
            "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + duration_ns).to_string(),
            "attributes": [
                attr("browser.web_vital.name", json!(name)),
                attr("browser.web_vital.value", json!(value + 0.0)),
                attr("browser.web_vital.delta", json!(value + 0.0)),
                attr("browser.web_vital.id", json!(format!("v-{i}"))),
                attr("browser.web_vital.rating", json!(rating(value, good, poor))),
                attr("browser.web_vital.navigation_type", json!("navigate")),
                attr("url.path", json!(route)),
            ]
        }));
    }
    // A span that is not a vital is not counted.
    spans.push(
        json!({"traceId": format!("{:032x}", 9999), "spanId": "00000000000003e7", "name": "GET /api/x",
        "kind": 3, "startTimeUnixNano": now.to_string(), "endTimeUnixNano": now.to_string(),
        "attributes": [attr("url.path", json!("/"))]}),
    );
    let body = json!({"resourceSpans": [{"resource": {"attributes": [attr("service.name", json!("frontend"))]},
        "scopeSpans": [{"scope": {"name": "otel-web.web-vitals"}, "spans": spans}]}]});
    let posted = client.post(format!("{base}/v1/traces")).json(&body).send().await.expect("post");
    assert!(posted.status().is_success(), "{}", posted.status());

    let html = client.get(format!("{base}/vitals")).send().await.expect("get").text().await.expect("html");
    for (name, good, poor) in VITALS {
        let section =
            html.find(&format!("<h2 id=\"{name}\">")).unwrap_or_else(|| panic!("no {name} section"));
        let section_end = html[section + 1..].find("<h2").map(|e| e + section + 1).unwrap_or(html.len());
        for route in ROUTES {
            let row =
                html[section..section_end].find(&format!("<td class=mono>{route}</td>")).map(|r| r + section);
            let Some(vals) = values.get(&(*name, *route)) else {
                assert!(row.is_none(), "{name} on {route} has a row but no reports");
                continue;
            };
            let row = row.unwrap_or_else(|| panic!("no row for {name} on {route}"));
            let expected = p75(vals);
            assert_eq!(cell_after(&html, row, "p75"), format(name, expected), "{name} P75 on {route}");
            let rated = rating(expected, *good, *poor);
            let row_html = &html[row..row + html[row..].find("</tr>").expect("row end")];
            assert!(
                row_html.contains(&format!(">{rated}</span>")),
                "{name} on {route} should be {rated}: {row_html}"
            );
            let counts: Vec<usize> = ["good", "needs-improvement", "poor"]
                .iter()
                .map(|r| vals.iter().filter(|v| rating(**v, *good, *poor) == *r).count())
                .collect();
            let share = |c: usize| format!("{:.0}%", 100.0 * c as f64 / vals.len() as f64);
            let shares = format!("{} · {} · {}", share(counts[0]), share(counts[1]), share(counts[2]));
            assert!(row_html.contains(&shares), "{name} on {route}: shares {shares} not in {row_html}");
            assert!(row_html.contains(&format!("<td>{}</td>", vals.len())), "{name} on {route}: count");

            // The example link leads to traces of this vital on this route, and only those.
            let href_at = row_html.find("href=\"/query/traces?").expect("example link") + 6;
            let href = &row_html[href_at..href_at + row_html[href_at..].find('"').expect("href end")];
            let examples = client
                .get(format!("{base}{}", href.replace("&amp;", "&")))
                .send()
                .await
                .expect("examples")
                .text()
                .await
                .expect("examples html");
            let listed: Vec<&String> =
                traces[&(*name, *route)].iter().filter(|t| examples.contains(t.as_str())).collect();
            assert!(!listed.is_empty(), "{name} on {route}: no example traces listed");
            for ((other_name, other_route), ids) in &traces {
                if (*other_name, *other_route) != (*name, *route) {
                    assert!(
                        ids.iter().all(|t| !examples.contains(&format!("/traces/{t}"))),
                        "{name} on {route} lists a trace of {other_name} on {other_route}"
                    );
                }
            }
        }
    }

    // The same numbers as a Honeycomb query over the same spans.
    let result: Value = client
        .post(format!("{base}/api/query"))
        .json(&p75_spec(86_400))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    let results = result["results"].as_array().expect("results");
    assert_eq!(results.len(), values.len(), "one group per vital and route");
    for group in results {
        let name = group["group"]["browser.web_vital.name"].as_str().expect("name");
        let route = group["group"]["url.path"].as_str().expect("route");
        let key = values.keys().find(|(n, r)| *n == name && *r == route).expect("a group that was sent");
        assert_eq!(group["values"]["P75(browser.web_vital.value)"].as_f64(), Some(p75(&values[key])));
        assert_eq!(group["values"]["COUNT"].as_f64(), Some(values[key].len() as f64));
    }
}

#[tokio::test]
async fn an_explorer_without_vitals_says_how_to_get_them() {
    let store = Arc::new(Store::in_memory(Retention::default()).expect("store"));
    let base = serve(AppState { store, forwarder: None }).await;
    let html = reqwest::get(format!("{base}/vitals")).await.expect("get").text().await.expect("html");
    assert!(html.contains("No web vitals yet"), "{html}");
    assert!(html.contains("href=\"/vitals\""), "the header links the view");
}
