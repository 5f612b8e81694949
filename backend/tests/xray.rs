//! X-Ray against the published formats (there is no daemon or AWS account here): the real binary
//! sends to a loopback UDP listener standing in for the daemon; each datagram is checked against
//! the daemon protocol and the segment document rules, and the request's `X-Amzn-Trace-Id`
//! must be continued.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use serde_json::Value;

const HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn valid_trace_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3 && parts[0] == "1" && is_hex(parts[1], 8) && is_hex(parts[2], 24)
}

#[tokio::test]
async fn requests_become_segments_and_subsegments_at_the_daemon() {
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("udp");
    daemon.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let dir = std::env::temp_dir().join(format!("cruddur-xray-{}", std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cruddur-backend"))
        .env("CRUDDUR_ADDR", format!("127.0.0.1:{port}"))
        .env("CRUDDUR_DB", dir.join("db.sqlite"))
        .env("OTEL_TRACES_EXPORTER", "none")
        .env("AWS_XRAY_DAEMON_ADDRESS", daemon.local_addr().expect("addr").to_string())
        .env("AWS_XRAY_URL", "*127.0.0.1*")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/activities/home");
    // X-Ray rejects trace ids whose embedded time is not recent: start the trace now.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let root = format!("1-{now:08x}-bd862e3fe1be46a994272793");
    let mut answered = false;
    for _ in 0..100 {
        let request = client
            .get(&url)
            .header("x-amzn-trace-id", format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1"))
            .header("baggage", "user.id=andrewbrown");
        if let Ok(r) = request.send().await {
            answered = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "the backend did not answer");
    // A request no one traced yet: the backend starts an X-Ray-compatible trace itself.
    let response = client.get(format!("http://127.0.0.1:{port}/api/users")).send().await.expect("users");
    assert_eq!(response.status(), 200);

    let mut documents: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline && documents.len() < 6 {
        let Ok(n) = daemon.recv(&mut buf) else { continue };
        assert!(n < 64 * 1024, "a datagram of {n} bytes is over the UDP limit");
        let text = std::str::from_utf8(&buf[..n]).expect("utf-8");
        let body = text.strip_prefix(HEADER).unwrap_or_else(|| panic!("no daemon header line: {text:.80}"));
        documents.push(serde_json::from_str(body).expect("a JSON segment document"));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);

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
    assert_eq!(segment["annotations"]["user_id"], "andrewbrown");
    assert_eq!(segment["annotations"]["route"], "/api/activities/home");
    let subsegments: Vec<&Value> = documents.iter().copied().filter(|d| d["type"] == "subsegment").collect();
    let custom =
        subsegments.iter().find(|d| d["name"] == "home-activities").expect("home-activities subsegment");
    assert_eq!(custom["parent_id"], segment["id"]);
    let queries: Vec<&&Value> = subsegments.iter().filter(|d| d["parent_id"] == custom["id"]).collect();
    assert!(!queries.is_empty(), "the SQL subsegments hang beneath home-activities: {subsegments:#?}");
}
