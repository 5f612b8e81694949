//! Zero loss across outages: the collector goes away while a person uses Cruddur over three page
//! loads, and comes back. Every span the browser kept in its outbox (`localStorage`) arrives
//! exactly once, and with a small outbox the oldest are dropped, counted, and reported, while
//! the page carries on.
//!
//! The explorer ingests idempotently (a span sent twice is stored once), so it cannot see a
//! duplicate: a counting proxy stands between the backend's relay and the explorer and records
//! every frontend span it forwarded with a `2xx`. What the browser recorded is read from its
//! outbox before each navigation, decoded the way the collector decodes it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use e2e::browser::Browser;
use e2e::explorer_api::ExplorerApi;
use e2e::servers::free_port;
use e2e::stack::{Stack, StackOptions};
use trace_explorer::otlp::{AttrValue, SpanRecord};

use crate::ARRIVAL;

/// The attribute carrying the count of spans dropped from the outbox.
const DROPPED_SPANS: &str = "otelweb.offline.dropped_spans";

/// A collector in front of the explorer that counts what it delivered.
#[derive(Clone, Default)]
struct CountingCollector {
    /// The explorer, once it is known.
    upstream: Arc<OnceLock<String>>,
    /// Every frontend span forwarded with a `2xx`, duplicates included.
    delivered: Arc<Mutex<Vec<SpanRecord>>>,
    client: reqwest::Client,
}

impl CountingCollector {
    /// Starts it on a free port; returns it and its base URL.
    async fn start() -> anyhow::Result<(Self, String)> {
        let collector = Self::default();
        let router = Router::new().route("/v1/traces", post(forward)).with_state(collector.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", free_port()?)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok((collector, url))
    }

    fn delivered(&self) -> Vec<SpanRecord> {
        self.delivered.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// How many times each frontend span id was delivered.
    fn deliveries(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for span in self.delivered() {
            *counts.entry(span.span_id).or_insert(0) += 1;
        }
        counts
    }
}

/// `POST /v1/traces`: forwards to the explorer; `502` while it is down, as a collector that is
/// not there would be; records the frontend spans of every body it accepted.
async fn forward(State(collector): State<CountingCollector>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(upstream) = collector.upstream.get() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let mut request = collector.client.post(format!("{upstream}/v1/traces")).body(body.clone());
    for name in [header::CONTENT_TYPE, header::CONTENT_ENCODING] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let Ok(answer) = request.send().await else { return StatusCode::BAD_GATEWAY.into_response() };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let bytes = answer.bytes().await.unwrap_or_default();
    if status.is_success() {
        let value = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let protobuf = value(header::CONTENT_TYPE).starts_with("application/x-protobuf");
        let gzip = value(header::CONTENT_ENCODING).eq_ignore_ascii_case("gzip");
        // The backend's own spans come this way too; only the browser's are counted.
        if let Ok(spans) = decode(&body, protobuf, gzip)
            && let Ok(mut delivered) = collector.delivered.lock()
        {
            delivered.extend(spans.into_iter().filter(|s| s.service == "frontend"));
        }
    }
    (status, bytes).into_response()
}

/// The spans of an OTLP body, decoded as the explorer decodes it.
fn decode(body: &[u8], protobuf: bool, gzip: bool) -> anyhow::Result<Vec<SpanRecord>> {
    let inflated;
    let body = if gzip {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body).read_to_end(&mut out).context("inflating")?;
        inflated = out;
        &inflated[..]
    } else {
        body
    };
    let spans = if protobuf {
        trace_explorer::otlp::decode_protobuf(body)
    } else {
        trace_explorer::otlp::decode_json(body)
    };
    spans.map_err(|e| anyhow::anyhow!("undecodable OTLP body: {e:?}"))
}

/// The page's outbox right now: every entry's spans, and the count of dropped spans not yet
/// reported. Entries are `{p|j}{g|-}` and the body in base64.
async fn outbox(browser: &Browser) -> anyhow::Result<(Vec<SpanRecord>, u64)> {
    let script = "
        const entries = Object.keys(localStorage)
            .filter((k) => k.startsWith('otel-web.outbox.'))
            .map((k) => {
                const v = localStorage.getItem(k);
                return [v.slice(0, 2), Array.from(atob(v.slice(2)), (c) => c.charCodeAt(0))];
            });
        return [entries, localStorage.getItem('otel-web.outbox-dropped')];";
    let answer = browser.client.execute(script, vec![]).await?;
    let entries: Vec<(String, Vec<u8>)> = serde_json::from_value(answer[0].clone())?;
    let mut spans = Vec::new();
    for (kind, bytes) in entries {
        spans.extend(decode(&bytes, kind.starts_with('p'), kind.ends_with('g'))?);
    }
    let dropped = answer[1].as_str().and_then(|d| d.parse().ok()).unwrap_or(0);
    Ok((spans, dropped))
}

/// What the browser kept across the outage, by span id: every snapshot of the outbox.
#[derive(Default)]
struct Kept {
    /// Span id → name, for every span ever seen in the outbox.
    seen: HashMap<String, String>,
    /// The span ids seen in the first snapshot, in the order the SDK stored them.
    first: Vec<String>,
    /// The last snapshot's span ids, and the dropped count it reported.
    last: (HashSet<String>, u64),
}

impl Kept {
    /// Polls the outbox until `done` holds for it; records what it held.
    async fn wait_for(
        &mut self,
        browser: &Browser,
        what: &str,
        done: impl Fn(&[SpanRecord]) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + ARRIVAL;
        loop {
            let (spans, dropped) = outbox(browser).await?;
            for span in &spans {
                self.seen.entry(span.span_id.clone()).or_insert_with(|| span.name.clone());
            }
            if self.first.is_empty() {
                self.first = spans.iter().map(|s| s.span_id.clone()).collect();
            }
            self.last = (spans.iter().map(|s| s.span_id.clone()).collect(), dropped);
            if done(&spans) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
                bail!("the outbox never held {what}; it holds {names:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Now, in ns since the epoch (the browser's span clock, on the same machine).
fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Whether `spans` hold a span `name` started after `since` (ns since the epoch).
fn has(spans: &[SpanRecord], name: &str, since: i64) -> bool {
    spans.iter().any(|s| s.name == name && s.start_ns >= since)
}

/// Three page loads of Cruddur, each with a user action, while the collector is down. Before
/// each navigation the outbox is read until it holds the span of the page's last action (the
/// newest, which even a full outbox keeps); `kept` gathers every snapshot.
async fn three_page_loads(browser: &Browser, frontend: &str, kept: &mut Kept) -> anyhow::Result<()> {
    // 1: home, signed in, then the notifications view.
    let since = now_ns();
    browser.client.goto(frontend).await?;
    browser.select("#signin", "bayko").await?;
    browser.click("nav a[href='/notifications']").await?;
    browser.wait_for(".page.notifications").await?;
    kept.wait_for(browser, "the notifications", |s| has(s, "load notifications", since)).await?;
    // 2: search, loaded directly.
    let since = now_ns();
    browser.client.goto(&format!("{frontend}/search")).await?;
    browser.fill("#search-term", "prune").await?;
    browser.click(".search-form button").await?;
    browser.wait_for_text(".feed", "I am out of prune juice").await?;
    kept.wait_for(browser, "the search", |s| has(s, "search", since)).await?;
    // 3: notifications, loaded directly, then home.
    let since = now_ns();
    browser.client.goto(&format!("{frontend}/notifications")).await?;
    browser.wait_for(".page.notifications").await?;
    browser.click("nav a[href='/']").await?;
    browser.wait_for_text(".feed", "Cloud is very fun!").await?;
    kept.wait_for(browser, "the third page's home feed", |s| has(s, "load home", since)).await?;
    let errors = browser.client.find_all(fantoccini::Locator::Css(".error")).await?;
    assert!(errors.is_empty(), "the outage surfaced to the user");
    Ok(())
}

#[tokio::test]
async fn every_span_of_three_page_loads_without_a_collector_arrives_exactly_once_when_it_is_back()
-> anyhow::Result<()> {
    let (collector, collector_url) = CountingCollector::start().await?;
    let mut stack =
        Stack::start(StackOptions { otlp_endpoint: Some(collector_url), ..Default::default() }).await?;
    let _ = collector.upstream.set(stack.explorer.url.clone());
    let browser = Browser::start().await?;

    stack.explorer.stop();
    let mut kept = Kept::default();
    three_page_loads(&browser, &stack.frontend, &mut kept).await?;
    // Nothing is dropped from a 1 MiB outbox: it ends up holding the three page loads.
    kept.wait_for(&browser, "three documentLoad spans", |s| {
        s.iter().filter(|s| s.name == "documentLoad").count() >= 3
    })
    .await?;
    let mut names: Vec<&str> = kept.seen.values().map(String::as_str).collect();
    names.sort_unstable();
    println!("kept through the outage: {names:?}");
    // Every span recorded during the outage is in the outbox, none was dropped.
    let documents = kept.seen.values().filter(|n| *n == "documentLoad").count();
    assert_eq!(documents, 3, "three page loads, three documentLoad spans kept");
    assert_eq!(kept.last.0.len(), kept.seen.len(), "the outbox lost spans while the collector was down");
    assert_eq!(kept.last.1, 0, "spans were dropped from a 1 MiB outbox");
    assert!(collector.delivered().is_empty(), "spans got through a collector that was down");

    // Back: one click, and the outbox empties.
    stack.explorer.restart().await?;
    browser.click("nav a[href='/search']").await?;
    browser.wait_for(".search-form").await?;
    let deadline = Instant::now() + ARRIVAL * 3;
    loop {
        let (waiting, _) = outbox(&browser).await?;
        let deliveries = collector.deliveries();
        let missing = kept.seen.keys().filter(|id| !deliveries.contains_key(*id)).count();
        if waiting.is_empty() && missing == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{missing} kept spans never arrived; {} still wait in the outbox", waiting.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A moment for a duplicate to show up, had the outbox sent something twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deliveries = collector.deliveries();
    let twice: Vec<String> = deliveries
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| format!("{} ×{n}", kept.seen.get(id).map_or("?", String::as_str)))
        .collect();
    assert!(twice.is_empty(), "spans delivered more than once: {twice:?}");
    println!("{} spans kept through the outage, each delivered once", kept.seen.len());

    // And the explorer has the three page loads.
    let explorer = ExplorerApi::new(&stack.explorer.url);
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let stored: HashSet<String> =
            explorer.traces().await?.into_iter().flatten().map(|s| s.span_id).collect();
        let missing: Vec<&String> = kept.seen.keys().filter(|id| !stored.contains(*id)).collect();
        if missing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!("the explorer never stored {} of the kept spans", missing.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.close().await
}

#[tokio::test]
async fn a_full_outbox_drops_the_oldest_spans_counts_them_and_the_page_carries_on() -> anyhow::Result<()> {
    let (collector, collector_url) = CountingCollector::start().await?;
    let mut stack = Stack::start(StackOptions {
        otlp_endpoint: Some(collector_url),
        // Room for a few export bodies: three page loads overflow it.
        offline_storage_bytes: Some(6 * 1024),
        ..Default::default()
    })
    .await?;
    let _ = collector.upstream.set(stack.explorer.url.clone());
    let browser = Browser::start().await?;

    stack.explorer.stop();
    let mut kept = Kept::default();
    three_page_loads(&browser, &stack.frontend, &mut kept).await?;
    // What the page holds as the collector comes back.
    kept.wait_for(&browser, "anything", |_| true).await?;
    let (final_ids, dropped) = kept.last.clone();
    let lost: Vec<&String> = kept.seen.keys().filter(|id| !final_ids.contains(*id)).collect();
    assert!(dropped > 0, "a 6 KiB outbox held three page loads");
    assert!(dropped >= lost.len() as u64, "{} spans left the outbox, {dropped} counted", lost.len());
    // The oldest went: the first spans stored are gone, the newest page's are there.
    assert!(
        !kept.first.is_empty() && kept.first.iter().all(|id| !final_ids.contains(id)),
        "the first spans stored are still there"
    );
    assert!(
        final_ids.iter().any(|id| kept.seen.get(id).is_some_and(|n| n == "load home")),
        "the last page's action was dropped"
    );

    // Back: the rest arrives, and the next export reports the count.
    stack.explorer.restart().await?;
    browser.click("nav a[href='/search']").await?;
    browser.fill("#search-term", "prune").await?;
    browser.click(".search-form button").await?;
    browser.wait_for_text(".feed", "I am out of prune juice").await?;
    let deadline = Instant::now() + ARRIVAL * 3;
    let reported = loop {
        let delivered = collector.delivered();
        let reported: i64 = delivered
            .iter()
            .flat_map(|s| &s.attributes)
            .filter(|(k, _)| k == DROPPED_SPANS)
            .map(|(_, v)| if let AttrValue::Int(n) = v { *n } else { 0 })
            .sum();
        let ids: HashSet<&String> = delivered.iter().map(|s| &s.span_id).collect();
        let waiting = final_ids.iter().filter(|id| !ids.contains(id)).count();
        if reported > 0 && waiting == 0 {
            break reported;
        }
        if Instant::now() > deadline {
            bail!("{waiting} kept spans never arrived; {reported} dropped spans reported");
        }
        // The count rides on an export made while the collector answers: keep using the app.
        browser.click("nav a[href='/notifications']").await?;
        browser.wait_for(".page.notifications").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        browser.click("nav a[href='/search']").await?;
        browser.wait_for(".search-form").await?;
    };
    assert_eq!(reported, dropped as i64, "the count the page stored is the count reported");
    let deliveries = collector.deliveries();
    let arrived_dropped = lost.iter().filter(|id| deliveries.contains_key(**id)).count();
    assert_eq!(arrived_dropped, 0, "dropped spans arrived anyway");
    assert!(deliveries.values().all(|n| *n == 1), "a span was delivered twice");
    let errors = browser.client.find_all(fantoccini::Locator::Css(".error")).await?;
    assert!(errors.is_empty(), "the full outbox surfaced to the user");
    println!("{dropped} spans dropped and reported, {} kept and delivered once", final_ids.len());
    browser.close().await
}
