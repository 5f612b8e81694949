//! X-Ray against the published formats (there is no daemon or AWS account here): the real binary
//! (or, where a response the binary cannot be made to give is needed, the real exporter behind
//! the SDK) sends to a loopback UDP listener standing in for the daemon; each datagram is checked
//! against the daemon protocol and the segment document rules, and the request's
//! `X-Amzn-Trace-Id` must be continued.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cruddur_backend::telemetry::xray::{self, MAX_URL_LEN, XrayConfig};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Tracer, TracerProvider as _};
use serde_json::Value;

const HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn valid_trace_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3 && parts[0] == "1" && is_hex(parts[1], 8) && is_hex(parts[2], 24)
}

fn epoch_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// A fresh X-Ray trace id (X-Ray rejects ids whose embedded time is not recent).
fn new_root() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("1-{:08x}-{:016x}{n:08x}", epoch_seconds(), u64::from(std::process::id()))
}

/// The loopback listener standing in for the daemon.
struct Daemon(UdpSocket);

impl Daemon {
    fn bind() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
        socket.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        Self(socket)
    }

    fn address(&self) -> std::net::SocketAddr {
        self.0.local_addr().expect("addr")
    }

    /// Documents received until `done` holds for them or 10 s pass; every datagram must be a
    /// header line and one JSON document under 64 kB.
    fn receive_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut documents = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < deadline && !done(&documents) {
            let Ok(n) = self.0.recv(&mut buf) else { continue };
            assert!(n < 64 * 1024, "a datagram of {n} bytes is over the UDP limit");
            let text = std::str::from_utf8(&buf[..n]).expect("utf-8");
            let body =
                text.strip_prefix(HEADER).unwrap_or_else(|| panic!("no daemon header line: {text:.80}"));
            documents.push(serde_json::from_str(body).expect("a JSON segment document"));
        }
        documents
    }

    /// The segment (not subsegment) of each trace in `roots`, in that order.
    fn segments_of(&self, roots: &[&str]) -> Vec<Value> {
        let segment = |docs: &[Value], root: &str| {
            docs.iter().find(|d| d["trace_id"] == root && d.get("type").is_none()).cloned()
        };
        let documents = self.receive_until(|docs| roots.iter().all(|root| segment(docs, root).is_some()));
        roots
            .iter()
            .map(|root| {
                segment(&documents, root)
                    .unwrap_or_else(|| panic!("no segment for {root} among {documents:#?}"))
            })
            .collect()
    }
}

/// The real backend binary sending segments to `daemon`, killed on drop.
struct Backend {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
    client: reqwest::Client,
}

impl Backend {
    async fn start(daemon: &Daemon, name: &str) -> Self {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let dir = std::env::temp_dir().join(format!("cruddur-xray-{}-{name}", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_cruddur-backend"))
            .env("CRUDDUR_ADDR", format!("127.0.0.1:{port}"))
            .env("CRUDDUR_DB", dir.join("db.sqlite"))
            .env("OTEL_TRACES_EXPORTER", "none")
            .env("AWS_XRAY_DAEMON_ADDRESS", daemon.address().to_string())
            .env("AWS_XRAY_URL", "*127.0.0.1*")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn");
        let backend = Self { child, port, dir, client: reqwest::Client::new() };
        let deadline = Instant::now() + Duration::from_secs(10);
        // Untraced: not sampled, so it sends nothing to the daemon.
        let health = format!("{}/api/health", backend.url(""));
        while backend.client.get(&health).header("traceparent", UNSAMPLED).send().await.is_err() {
            assert!(Instant::now() < deadline, "the backend did not answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        backend
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A request under a new X-Ray trace (sampled, with the browser's `user.id` baggage); returns
    /// the trace's root and the response status.
    async fn traced(&self, request: reqwest::RequestBuilder) -> (String, u16) {
        let root = new_root();
        let response = request
            .header("x-amzn-trace-id", format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1"))
            .header("baggage", "user.id=andrewbrown")
            .send()
            .await
            .expect("response");
        (root, response.status().as_u16())
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const UNSAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

#[tokio::test]
async fn requests_become_segments_and_subsegments_at_the_daemon() {
    let daemon = Daemon::bind();
    let backend = Backend::start(&daemon, "segments").await;
    let (root, status) = backend.traced(backend.client.get(backend.url("/api/activities/home"))).await;
    assert_eq!(status, 200);
    // A request no one traced yet: the backend starts an X-Ray-compatible trace itself.
    let now = epoch_seconds();
    let response = backend.client.get(backend.url("/api/users")).send().await.expect("users");
    assert_eq!(response.status(), 200);

    let documents = daemon.receive_until(|docs| docs.len() >= 6);
    drop(backend);

    assert!(documents.len() >= 4, "segment and subsegments, one document each: {documents:#?}");
    for doc in &documents {
        assert!(is_hex(doc["id"].as_str().unwrap_or(""), 16), "id: {doc}");
        assert!(valid_trace_id(doc["trace_id"].as_str().unwrap_or("")), "trace_id: {doc}");
        let (start, end) =
            (doc["start_time"].as_f64().unwrap_or(0.0), doc["end_time"].as_f64().unwrap_or(0.0));
        assert!(start > 1.6e9 && end >= start, "times in epoch seconds: {doc}");
        assert!(doc["name"].as_str().is_some_and(|n| !n.is_empty()));
    }
    let (continued, started): (Vec<&Value>, Vec<&Value>) =
        documents.iter().partition(|d| d["trace_id"] == root.as_str());
    assert!(continued.len() >= 4, "the X-Amzn-Trace-Id root is continued: {documents:#?}");
    let own = started.iter().find(|d| d.get("type").is_none()).expect("the segment of the untraced request");
    let epoch = u64::from_str_radix(&own["trace_id"].as_str().unwrap_or("1-0-0")[2..10], 16).unwrap_or(0);
    assert!(epoch.abs_diff(now) < 60, "a trace the backend starts carries the current epoch second: {own}");
    let documents = continued;
    let segment = documents.iter().find(|d| d.get("type").is_none()).expect("a segment");
    assert!(segment["metadata"].is_object(), "attributes travel as metadata: {segment}");
    assert_eq!(segment["parent_id"], "53995c3f42cd8ad8", "the caller is the segment's parent");
    assert_eq!(segment["name"], "127.0.0.1", "dynamic naming from the request host");
    assert_eq!(segment["http"]["request"]["method"], "GET");
    assert_eq!(segment["http"]["response"]["status"], 200);
    for flag in ["error", "throttle", "fault"] {
        assert_eq!(segment.get(flag), None, "a 200 is no {flag}: {segment}");
    }
    assert_eq!(segment["annotations"]["user_id"], "andrewbrown");
    assert_eq!(segment["annotations"]["route"], "/api/activities/home");
    let subsegments: Vec<&Value> = documents.iter().copied().filter(|d| d["type"] == "subsegment").collect();
    let custom =
        subsegments.iter().find(|d| d["name"] == "home-activities").expect("home-activities subsegment");
    assert_eq!(custom["parent_id"], segment["id"]);
    let queries: Vec<&&Value> = subsegments.iter().filter(|d| d["parent_id"] == custom["id"]).collect();
    assert!(!queries.is_empty(), "the SQL subsegments hang beneath home-activities: {subsegments:#?}");
}

#[tokio::test]
async fn only_a_client_address_a_proxy_reported_is_marked_x_forwarded_for() {
    // Issue #13 item 16: every segment said `x_forwarded_for: true`, because opentelemetry-aws
    // marks every `client.address` so.
    let daemon = Daemon::bind();
    let backend = Backend::start(&daemon, "forwarded").await;
    let home = backend.url("/api/activities/home");
    let (direct, _) = backend.traced(backend.client.get(&home)).await;
    let (proxied, _) =
        backend.traced(backend.client.get(&home).header("x-forwarded-for", "203.0.113.7, 10.0.0.1")).await;
    let (forwarded, _) =
        backend.traced(backend.client.get(&home).header("forwarded", "for=\"[2001:db8::17]:4711\"")).await;
    let segments = daemon.segments_of(&[&direct, &proxied, &forwarded]);

    let request = &segments[0]["http"]["request"];
    assert_eq!(request["client_ip"], "127.0.0.1", "{request}");
    assert_eq!(
        request.get("x_forwarded_for"),
        None,
        "the peer's own address is no forwarded claim: {request}"
    );
    let request = &segments[1]["http"]["request"];
    assert_eq!(request["client_ip"], "203.0.113.7", "{request}");
    assert_eq!(request["x_forwarded_for"], true, "{request}");
    let request = &segments[2]["http"]["request"];
    assert_eq!(request["client_ip"], "2001:db8::17", "{request}");
    assert_eq!(request["x_forwarded_for"], true, "{request}");
}

#[tokio::test]
async fn a_url_over_the_xray_limit_is_cut_and_its_segment_still_arrives() {
    // Issue #13 item 16: the translator dropped the segment of a request whose URL was over 250
    // characters; only its subsegments arrived, orphaned.
    let daemon = Daemon::bind();
    let backend = Backend::start(&daemon, "long-url").await;
    let path = format!("/api/activities/@{}", "a".repeat(400));
    let (root, status) = backend.traced(backend.client.get(backend.url(&path))).await;
    assert_eq!(status, 404);
    let segment = &daemon.segments_of(&[&root])[0];

    let url = segment["http"]["request"]["url"].as_str().expect("a URL");
    assert_eq!(url.len(), MAX_URL_LEN, "{url}");
    assert!(backend.url(&path).starts_with(url), "the URL's beginning: {url}");
    assert_eq!(segment["annotations"]["route"], "/api/activities/@{handle}");
}

#[tokio::test]
async fn a_client_error_from_the_backend_is_an_xray_error() {
    // Issue #13 item 16: 4xx responses set neither X-Ray's `error` nor anything else.
    let daemon = Daemon::bind();
    let backend = Backend::start(&daemon, "client-error").await;
    let (missing, status) =
        backend.traced(backend.client.get(backend.url("/api/activities/@nobody-by-that-name"))).await;
    assert_eq!(status, 404);
    let (invalid, status) = backend
        .traced(backend.client.post(backend.url("/api/activities")).json(&serde_json::json!({})))
        .await;
    assert!((400..500).contains(&status), "a body without the fields is a client error: {status}");
    for segment in daemon.segments_of(&[&missing, &invalid]) {
        assert_eq!(segment["error"], true, "{segment}");
        assert_eq!(segment.get("fault"), None, "{segment}");
        assert_eq!(segment.get("throttle"), None, "{segment}");
    }
}

#[test]
fn status_codes_set_xray_error_throttle_and_fault() {
    // Issue #13 item 16: X-Ray's definitions: 4xx `error`, 429 also `throttle`, 5xx `fault`.
    // The backend cannot be made to answer 429 or 5xx from outside, so these server spans go
    // through the same exporter inside the SDK.
    let daemon = Daemon::bind();
    let config = XrayConfig { daemon: daemon.address(), url_pattern: None };
    let exporter = xray::exporter(&config, "cruddur-backend").expect("exporter");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_id_generator(opentelemetry_aws::trace::XrayIdGenerator::default())
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("xray-test");
    let mut roots = Vec::new();
    for code in [200, 404, 429, 500, 503] {
        let span = tracer
            .span_builder(format!("GET {code}"))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.response.status_code", i64::from(code)),
            ])
            .start(&tracer);
        let id = opentelemetry::trace::Span::span_context(&span).trace_id().to_string();
        roots.push(format!("1-{}-{}", &id[..8], &id[8..]));
        drop(span);
    }
    let _ = provider.shutdown();
    let segments = daemon.segments_of(&roots.iter().map(String::as_str).collect::<Vec<_>>());

    let flags = |segment: &Value| {
        ["error", "throttle", "fault"].map(|flag| segment.get(flag).and_then(Value::as_bool).unwrap_or(false))
    };
    assert_eq!(flags(&segments[0]), [false, false, false], "200: {}", segments[0]);
    assert_eq!(flags(&segments[1]), [true, false, false], "404: {}", segments[1]);
    assert_eq!(flags(&segments[2]), [true, true, false], "429: {}", segments[2]);
    assert_eq!(flags(&segments[3]), [false, false, true], "500: {}", segments[3]);
    assert_eq!(flags(&segments[4]), [false, false, true], "503: {}", segments[4]);
}

#[tokio::test]
async fn segments_claim_no_elastic_beanstalk_version() {
    // Issue #13 item 16: `service.version` also became `aws.elastic_beanstalk.version_label`,
    // though the backend does not run on Elastic Beanstalk.
    let daemon = Daemon::bind();
    let backend = Backend::start(&daemon, "beanstalk").await;
    let (root, _) = backend.traced(backend.client.get(backend.url("/api/users"))).await;
    let segment = &daemon.segments_of(&[&root])[0];
    assert_eq!(segment["service"]["version"], env!("CARGO_PKG_VERSION"), "{segment}");
    assert_eq!(segment.pointer("/aws/elastic_beanstalk"), None, "{segment}");
}
