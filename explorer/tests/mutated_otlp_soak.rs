//! A bounded fuzz/soak of the real receiver on 127.0.0.1: real OTLP bodies (JSON, protobuf, and
//! both gzipped) mutated by bit flips, truncation, spliced bytes, huge protobuf lengths, deep
//! nesting and gzip bombs. No answer may be a 5xx, memory stays bounded, and afterwards the
//! explorer still ingests and answers queries. Its own test binary, so the process's memory
//! figures are this test's alone. Bounded in requests and time; traffic goes to loopback only.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;
use serde_json::{Value, json};
use trace_explorer::store::{Retention, Store, now_ns};
use trace_explorer::{AppState, app};

/// Requests sent at most.
const REQUESTS: usize = 2_000;
/// And for at most this long.
const TIME_BUDGET: Duration = Duration::from_secs(8);
/// Requests in flight.
const CONCURRENCY: usize = 8;
/// Growth of the process's peak resident memory allowed over its size before the soak. Generous:
/// up to CONCURRENCY bodies of 32 MiB may be decompressed at once, the store grows, and the
/// allocator keeps what it freed. Exponential blow-ups (issue #13 item 18) take gigabytes.
const PEAK_GROWTH_LIMIT_KIB: u64 = 1024 * 1024;

/// xorshift64*, so a failure reproduces from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `VmRSS` and `VmHWM` (peak) of this process, KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect(name)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body).expect("gzip");
    gz.finish().expect("gzip")
}

fn string(s: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(any_value::Value::StringValue(s.into())) })
}

/// A realistic batch: two services, parents, attributes of every kind, events.
fn protobuf_seed(trace: u8) -> ExportTraceServiceRequest {
    let kv = |key: &str, value: Option<AnyValue>| KeyValue { key: key.into(), value, ..Default::default() };
    let array = Some(AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue {
            values: vec![
                string("a").unwrap_or_default(),
                AnyValue { value: Some(any_value::Value::IntValue(2)) },
            ],
        })),
    });
    let start = now_ns() as u64 - 2_000_000_000;
    let spans = (0..6u8)
        .map(|i| Span {
            trace_id: vec![trace; 16],
            span_id: vec![trace, i + 1, 0, 0, 0, 0, 0, 1],
            parent_span_id: if i == 0 { vec![] } else { vec![trace, i, 0, 0, 0, 0, 0, 1] },
            name: format!("GET /api/activities/{i}"),
            kind: i32::from(i % 5) + 1,
            start_time_unix_nano: start + u64::from(i) * 1_000_000,
            end_time_unix_nano: start + 40_000_000,
            attributes: vec![
                kv(
                    "http.response.status_code",
                    Some(AnyValue { value: Some(any_value::Value::IntValue(200)) }),
                ),
                kv("user.id", string("andrew")),
                kv("list", array.clone()),
                kv("ratio", Some(AnyValue { value: Some(any_value::Value::DoubleValue(0.5)) })),
            ],
            events: vec![span::Event {
                name: "fetchStart".into(),
                time_unix_nano: start,
                attributes: vec![kv("ok", Some(AnyValue { value: Some(any_value::Value::BoolValue(true)) }))],
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", string("backend"))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

/// The same batch in OTLP/JSON.
fn json_seed(trace: u8) -> Value {
    let start = now_ns() - 2_000_000_000;
    let spans: Vec<Value> = (0..6)
        .map(|i| {
            json!({"traceId": format!("{trace:02x}").repeat(16), "spanId": format!("{trace:02x}{:02x}000000000001", i + 1),
                   "parentSpanId": if i == 0 { String::new() } else { format!("{trace:02x}{i:02x}000000000001") },
                   "name": format!("GET /api/activities/{i}"), "kind": i % 5 + 1,
                   "startTimeUnixNano": (start + i * 1_000_000).to_string(), "endTimeUnixNano": (start + 40_000_000).to_string(),
                   "attributes": [{"key": "http.response.status_code", "value": {"intValue": "200"}},
                                  {"key": "user.id", "value": {"stringValue": "andrew"}},
                                  {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 2}]}}},
                                  {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": 0.5}}]}}}],
                   "events": [{"timeUnixNano": start.to_string(), "name": "fetchStart", "attributes": []}],
                   "status": {"code": 0}})
        })
        .collect();
    json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]},
           "scopeSpans": [{"scope": {"name": "otel-web"}, "spans": spans}]}]})
}

fn nested_json(depth: usize) -> Vec<u8> {
    let mut body = json_seed(0x77).to_string();
    let value = format!(
        "{}{{\"stringValue\":\"\\\"leaf\\\"\"}}{}",
        "{\"arrayValue\":{\"values\":[".repeat(depth),
        "]}}".repeat(depth)
    );
    body = body.replacen("{\"stringValue\":\"andrew\"}", &value, 1);
    body.into_bytes()
}

fn nested_protobuf(depth: usize) -> Vec<u8> {
    let mut request = protobuf_seed(0x78);
    let value = (0..depth).fold(string("\"leaf\"").unwrap_or_default(), |inner, _| AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![inner] })),
    });
    request.resource_spans[0].scope_spans[0].spans[0].attributes[0].value = Some(value);
    request.encode_to_vec()
}

/// One mutation of `body`.
fn mutate(rng: &mut Rng, mut body: Vec<u8>) -> Vec<u8> {
    let n = body.len().max(1);
    match rng.below(7) {
        0 => {
            for _ in 0..=rng.below(8) {
                let at = rng.below(n).min(body.len().saturating_sub(1));
                if let Some(b) = body.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        1 => body.truncate(rng.below(n)),
        2 => {
            let at = rng.below(n).min(body.len());
            body.insert(at, rng.next() as u8);
        }
        3 => {
            // A slice copied elsewhere: repeated fields, unbalanced JSON.
            let from = rng.below(n).min(body.len());
            let len = rng.below(64).min(body.len() - from);
            let chunk = body[from..from + len].to_vec();
            let at = rng.below(n).min(body.len());
            body.splice(at..at, chunk);
        }
        4 => {
            // A huge varint: a length (or tag) claiming gigabytes.
            let at = rng.below(n).min(body.len());
            body.splice(at..at, [0xff, 0xff, 0xff, 0xff, 0x0f]);
        }
        5 => {
            // A long run of one byte: deep JSON brackets, or many empty protobuf fields.
            let at = rng.below(n).min(body.len());
            let byte = [b'[', b'{', 0x12, 0x0a, b'"'][rng.below(5)];
            body.splice(at..at, std::iter::repeat_n(byte, 1 + rng.below(4096)));
        }
        _ => {
            let at = rng.below(n).min(body.len());
            body[at..].reverse();
        }
    }
    body
}

/// A request: content type, whether gzipped, body.
fn next_request(rng: &mut Rng, seeds: &Seeds) -> (&'static str, bool, Vec<u8>) {
    let json = rng.below(2) == 0;
    let (content_type, seed) = if json {
        ("application/json", &seeds.json[rng.below(seeds.json.len())])
    } else {
        ("application/x-protobuf", &seeds.protobuf[rng.below(seeds.protobuf.len())])
    };
    match rng.below(10) {
        // Mutated, sent plain.
        0..=4 => (content_type, false, mutate(rng, seed.clone())),
        // Mutated, then gzipped.
        5..=6 => (content_type, true, gzip(&mutate(rng, seed.clone()))),
        // Gzipped, then the gzip mutated.
        7 => (content_type, true, mutate(rng, gzip(seed))),
        // The gzip bomb (over the decompressed limit).
        8 if rng.below(20) == 0 => (content_type, true, seeds.bomb.clone()),
        // Unmutated: must be stored.
        _ => (content_type, rng.below(2) == 0, seed.clone()),
    }
}

struct Seeds {
    json: Vec<Vec<u8>>,
    protobuf: Vec<Vec<u8>>,
    bomb: Vec<u8>,
}

async fn explorer() -> (String, Arc<Store>) {
    let store = Arc::new(Store::in_memory(Retention::default()).expect("store"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    assert!(addr.ip().is_loopback());
    let router = app(AppState { store: Arc::clone(&store), forwarder: None }, &[]);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_otlp_never_gets_a_5xx_memory_stays_bounded_and_the_explorer_keeps_working() {
    let seed = std::env::var("EXPLORER_SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1
    });
    eprintln!("soak seed {seed} (EXPLORER_SOAK_SEED={seed} reproduces)");
    let mut rng = Rng(seed);
    let seeds = Seeds {
        json: (1..=3u8)
            .map(|t| json_seed(t).to_string().into_bytes())
            .chain([nested_json(17), nested_json(60), nested_json(2_000)])
            .collect(),
        protobuf: (4..=6u8)
            .map(|t| protobuf_seed(t).encode_to_vec())
            .chain([nested_protobuf(17), nested_protobuf(40), nested_protobuf(99)])
            .collect(),
        bomb: gzip(&vec![b' '; trace_explorer::ingest::MAX_BODY_BYTES + 1024]),
    };
    let (base, store) = explorer().await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    // Peak RSS counts from here (Linux resets VmHWM on "5"; if it cannot, the bound only loosens).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (rss_before, _) = memory_kib();

    let started = Instant::now();
    let mut sent = 0usize;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut in_flight = tokio::task::JoinSet::new();
    while sent < REQUESTS && started.elapsed() < TIME_BUDGET {
        while in_flight.len() < CONCURRENCY && sent < REQUESTS {
            let (content_type, gzipped, body) = next_request(&mut rng, &seeds);
            let mut request = client.post(format!("{base}/v1/traces")).header("content-type", content_type);
            if gzipped {
                request = request.header("content-encoding", "gzip");
            }
            let sample: Vec<u8> = body.iter().take(64).copied().collect();
            in_flight.spawn(async move {
                let status = request.body(body).send().await.map(|r| r.status().as_u16());
                (status, content_type, gzipped, sample)
            });
            sent += 1;
        }
        if let Some(done) = in_flight.join_next().await {
            let (status, content_type, gzipped, sample) = done.expect("request task");
            let status = status
                .unwrap_or_else(|e| panic!("no answer ({e}) to {content_type} gzip={gzipped} {sample:?}"));
            assert!(
                status < 500,
                "{status} for {content_type} gzip={gzipped} starting {sample:?} (seed {seed})"
            );
            *statuses.entry(status).or_default() += 1;
        }
    }
    while let Some(done) = in_flight.join_next().await {
        let (status, content_type, gzipped, sample) = done.expect("request task");
        let status =
            status.unwrap_or_else(|e| panic!("no answer ({e}) to {content_type} gzip={gzipped} {sample:?}"));
        assert!(status < 500, "{status} for {content_type} gzip={gzipped} starting {sample:?} (seed {seed})");
        *statuses.entry(status).or_default() += 1;
    }
    let elapsed = started.elapsed();
    let (rss_after, peak) = memory_kib();
    eprintln!(
        "soak: {sent} requests in {elapsed:.2?}, statuses {statuses:?}, {} spans stored; \
         RSS {rss_before} KiB before, {rss_after} KiB after, peak {peak} KiB",
        store.span_count()
    );
    assert!(sent >= 200, "the soak sent only {sent} requests in {elapsed:?}");
    assert!(statuses.get(&200).copied().unwrap_or(0) > 0, "unmutated seeds are stored: {statuses:?}");
    assert!(statuses.keys().any(|s| (400..500).contains(s)), "mutations are refused: {statuses:?}");
    assert!(
        peak.saturating_sub(rss_before) < PEAK_GROWTH_LIMIT_KIB,
        "peak RSS grew from {rss_before} KiB to {peak} KiB"
    );

    // Still ingesting and answering.
    let body = json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "after-soak"}}]},
        "scopeSpans": [{"spans": [{"traceId": "abababababababababababababababab", "spanId": "abababababababab", "name": "after",
            "startTimeUnixNano": (now_ns() - 1_000_000).to_string(), "endTimeUnixNano": now_ns().to_string()}]}]}]});
    let response = client
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    let result: Value = client
        .post(format!("{base}/api/query"))
        .json(&json!({"calculations": [{"op": "COUNT"}], "filters": [{"column": "service.name", "op": "=", "value": "after-soak"}]}))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(result["results"][0]["values"]["COUNT"], 1.0, "{result}");
}
