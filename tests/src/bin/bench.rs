//! `bench`: the runner behind `cargo xtask bench` (which builds everything first). Every figure
//! is measured in this one run, side by side with OpenTelemetry JS in the same Chromium, and
//! reported as median, min and max over rounds, with the ratio.
//!
//! Usage: `bench <site dir> <size dir> <backend bin> <explorer bin>`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::http::HeaderValue;
use axum::routing::{any, get};
use e2e::browser::Browser;
use e2e::servers::free_port;
use serde_json::{Value, json};
use tower_http::services::ServeDir;

#[derive(Debug, Clone, Default)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

/// A figure measured once.
fn single(value: f64) -> Stat {
    Stat { median: value, min: value, max: value }
}

fn stat(values: &[f64]) -> Stat {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Stat::default();
    }
    v.sort_by(f64::total_cmp);
    Stat { median: v[v.len() / 2], min: v[0], max: v[v.len() - 1] }
}

struct Row {
    name: String,
    unit: &'static str,
    ours: Stat,
    theirs: Option<Stat>,
    goal: String,
}

async fn serve_site(site: &Path) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // Cross-origin isolation gives both pages the same (5 µs) timer resolution.
    let isolate = tower_http::set_header::SetResponseHeaderLayer::overriding(
        axum::http::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    let embedder = tower_http::set_header::SetResponseHeaderLayer::overriding(
        axum::http::HeaderName::from_static("cross-origin-embedder-policy"),
        HeaderValue::from_static("require-corp"),
    );
    let router = Router::new()
        .route("/ping", get(|| async { "ok" }))
        .route("/v1/traces", any(|| async { "{}" }))
        .fallback_service(ServeDir::new(site))
        .layer(isolate)
        .layer(embedder);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{addr}"))
}

async fn run_page(browser: &Browser, url: &str) -> anyhow::Result<Value> {
    browser.client.goto(url).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if browser.client.title().await? == "done" {
            return Ok(browser.client.execute("return window.benchResults", vec![]).await?);
        }
        if Instant::now() > deadline {
            bail!("{url} did not finish in 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn series(results: &Value, key: &str) -> Vec<f64> {
    results[key].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

fn gzip_size(paths: &[PathBuf]) -> anyhow::Result<f64> {
    let mut total = 0usize;
    for path in paths {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes)?;
        total += gz.finish()?.len();
    }
    Ok(total as f64 / 1024.0)
}

fn files(dir: &Path, extensions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)) {
            out.push(path);
        }
    }
    Ok(out)
}

struct Server(std::process::Child);

impl Server {
    /// CPU time (user + system) the process has used so far, in milliseconds (Linux `/proc`).
    fn cpu_ms(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ticks: f64 = rest.split_whitespace().skip(11).take(2).filter_map(|t| t.parse::<f64>().ok()).sum();
        // USER_HZ is 100 on Linux.
        ticks * 10.0
    }
}

/// What one `wrk` run measured.
struct Load {
    rps: f64,
    p99_ms: f64,
    /// Backend CPU time per request, µs.
    backend_cpu_us: f64,
    /// Explorer CPU time per request (ingesting the backend's spans), µs.
    explorer_cpu_us: f64,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_up(url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if reqwest::get(url).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not come up")
}

fn start_explorer(bin: &Path, dir: &Path) -> anyhow::Result<(Server, String)> {
    let port = free_port()?;
    let child = Command::new(bin)
        .env("EXPLORER_ADDR", format!("127.0.0.1:{port}"))
        .env("EXPLORER_DATA_DIR", dir)
        .stdout(Stdio::null())
        .spawn()
        .context("starting the explorer")?;
    Ok((Server(child), format!("http://127.0.0.1:{port}")))
}

/// `wrk` against the home feed, with the CPU time the backend and the explorer spent on it.
async fn load(
    backend_bin: &Path,
    scratch: &Path,
    tracing: bool,
    explorer: &(Server, String),
) -> anyhow::Result<Load> {
    let port = free_port()?;
    let mut command = Command::new(backend_bin);
    command
        .env("CRUDDUR_ADDR", format!("127.0.0.1:{port}"))
        .env("CRUDDUR_DB", scratch.join(format!("load-{tracing}.db")))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &explorer.1)
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .stdout(Stdio::null());
    if !tracing {
        command.env("OTEL_SDK_DISABLED", "true");
    }
    let backend = Server(command.spawn().context("starting the backend")?);
    let url = format!("http://127.0.0.1:{port}/api/activities/home");
    wait_up(&url).await?;
    let _ = Command::new("wrk").args(["-t2", "-c16", "-d2s", &url]).output();
    let (backend_before, explorer_before) = (backend.cpu_ms(), explorer.0.cpu_ms());
    let output = Command::new("wrk")
        .args(["-t2", "-c32", "-d8s", "--latency", &url])
        .output()
        .context("running wrk (apt-get install wrk; cargo xtask bench installs it)")?;
    let (backend_cpu, explorer_cpu) =
        (backend.cpu_ms() - backend_before, explorer.0.cpu_ms() - explorer_before);
    let text = String::from_utf8_lossy(&output.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:").map(|v| v.trim().parse::<f64>().unwrap_or(0.0)))
        .context("wrk printed no Requests/sec")?;
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%").map(|v| parse_wrk_time(v.trim())))
        .unwrap_or(f64::NAN);
    let requests = (rps * 8.0).max(1.0);
    Ok(Load {
        rps,
        p99_ms,
        backend_cpu_us: backend_cpu * 1000.0 / requests,
        explorer_cpu_us: explorer_cpu * 1000.0 / requests,
    })
}

fn parse_wrk_time(value: &str) -> f64 {
    let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(value.len()));
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        _ => n,
    }
}

fn otlp_batch(batch: usize, spans: usize) -> String {
    let users = ["andrew", "worf", "garek", "bayko", "quark", "odo", "kira", "sisko"];
    let routes =
        ["/api/activities/home", "/api/activities/@{handle}", "/api/activities/search", "/api/activities"];
    let now = e2e_now_ns();
    let spans: Vec<Value> = (0..spans)
        .map(|i| {
            let n = batch * spans + i;
            let start = now - ((n % 3_000_000) as i64) * 1_000_000;
            let duration = 1_000_000 + ((n * 7919) % 400) as i64 * 250_000;
            json!({"traceId": format!("{:032x}", n / 4 + 1), "spanId": format!("{:016x}", n + 1),
                   "parentSpanId": if n.is_multiple_of(4) { String::new() } else { format!("{:016x}", n) },
                   "name": format!("GET {}", routes[n % routes.len()]), "kind": 2,
                   "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + duration).to_string(),
                   "attributes": [
                       {"key": "user.id", "value": {"stringValue": users[n % users.len()]}},
                       {"key": "http.route", "value": {"stringValue": routes[n % routes.len()]}},
                       {"key": "http.response.status_code", "value": {"intValue": if n.is_multiple_of(50) { "500" } else { "200" }}}]})
        })
        .collect();
    json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "backend"}}]},
           "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}]})
    .to_string()
}

fn e2e_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Ingests `total` spans with 4 concurrent clients; returns (spans/s, query medians in ms).
async fn explorer_bench(bin: &Path, scratch: &Path, total: usize) -> anyhow::Result<(f64, Vec<f64>)> {
    let (_explorer, url) = start_explorer(bin, &scratch.join("explorer-bench"))?;
    wait_up(&format!("{url}/api/traces")).await?;
    let per_batch = 1000;
    let batches = total / per_batch;
    let bodies: Vec<String> = (0..batches).map(|b| otlp_batch(b, per_batch)).collect();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let mine: Vec<String> = bodies.iter().skip(worker).step_by(4).cloned().collect();
        let client = client.clone();
        let url = format!("{url}/v1/traces");
        tasks.push(tokio::spawn(async move {
            for body in mine {
                let response =
                    client.post(&url).header("content-type", "application/json").body(body).send().await?;
                if !response.status().is_success() {
                    bail!("ingest answered {}", response.status());
                }
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let rate = (batches * per_batch) as f64 / started.elapsed().as_secs_f64();
    let spec = json!({"calculations": [{"op": "P95", "column": "duration_ms"}], "breakdowns": ["user.id"], "time_range": 86400});
    let mut times = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let result: Value = client.post(format!("{url}/api/query")).json(&spec).send().await?.json().await?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        if result["meta"]["rows_examined"].as_u64().unwrap_or(0) < total as u64 {
            bail!("the query saw {} spans, not {total}", result["meta"]["rows_examined"]);
        }
    }
    Ok((rate, times))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [site, sizes, backend_bin, explorer_bin] = args.as_slice() else {
        bail!("usage: bench <site dir> <size dir> <backend bin> <explorer bin>");
    };
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let spans: usize =
        std::env::var("BENCH_EXPLORER_SPANS").ok().and_then(|r| r.parse().ok()).unwrap_or(1_000_000);
    let scratch = std::env::temp_dir().join(format!("otel-web-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;

    let only = std::env::var("BENCH_ONLY").ok().filter(|o| !o.is_empty());
    let wants = |figure: &str| only.as_deref().is_none_or(|o| o.split(',').any(|f| f.trim() == figure));
    let mut rows = Vec::new();
    let mut agent = Value::Null;

    if wants("browser") {
        println!("bench: browser ({rounds} rounds per SDK, same Chromium)");
        let base = serve_site(site).await?;
        let browser = Browser::start().await?;
        let ours = run_page(&browser, &format!("{base}/otel-web.html?rounds={rounds}")).await?;
        let theirs = run_page(&browser, &format!("{base}/otel-js.html?rounds={rounds}")).await?;
        let our_memory = run_page(&browser, &format!("{base}/otel-web.html?memory=1")).await?;
        let their_memory = run_page(&browser, &format!("{base}/otel-js.html?memory=1")).await?;
        agent = browser.client.execute("return navigator.userAgent", vec![]).await?;
        let total =
            |m: &Value| series(m, "js_heap_mib").iter().chain(series(m, "wasm_memory_mib").iter()).sum();
        rows.push(Row {
            name: "SDK memory after 100,000 spans, collector down (JS heap + wasm memory)".into(),
            unit: "MiB",
            ours: single(total(&our_memory)),
            theirs: Some(single(total(&their_memory))),
            goal: "bounded by the queue (2,048 spans)".into(),
        });
        rows.push(Row {
            name: "  of which WebAssembly memory (high-water mark)".into(),
            unit: "MiB",
            ours: single(series(&our_memory, "wasm_memory_mib").iter().sum()),
            theirs: None,
            goal: "(reported)".into(),
        });
        browser.close().await?;
        let side_by_side = |name: &str, unit, key, goal: &str| Row {
            name: name.into(),
            unit,
            ours: stat(&series(&ours, key)),
            theirs: Some(stat(&series(&theirs, key))),
            goal: goal.into(),
        };
        rows.push(side_by_side(
            "Span lifecycle (start, 5 attributes, end)",
            "ns/span",
            "lifecycle_ns",
            "≤ 0.5× OTel JS",
        ));
        rows.push(side_by_side(
            "Export encoding (512 spans → OTLP JSON)",
            "ms",
            "encode_ms",
            "≤ 0.5× OTel JS",
        ));
        // Bytes on the wire, against OpenTelemetry JS's JSON exporter (`JsonTraceSerializer`).
        let their_json = series(&theirs, "bytes_json").first().copied().unwrap_or(f64::NAN);
        let modes = [
            ("json", "OTLP JSON", "(reported)"),
            ("protobuf", "OTLP protobuf", "(reported)"),
            ("protobuf_gzip", "OTLP protobuf + gzip", "≤ 0.25× OTel JS"),
        ];
        for (key, label, goal) in modes {
            let bytes = series(&ours, &format!("bytes_{key}")).first().copied().unwrap_or(f64::NAN);
            rows.push(Row {
                name: format!("Wire bytes per span, {label} (512-span body; OTel JS: JSON)"),
                unit: "bytes/span",
                ours: single(bytes / 512.0),
                theirs: Some(single(their_json / 512.0)),
                goal: goal.into(),
            });
        }
        for (key, label, _) in modes {
            rows.push(Row {
                name: format!("Spans per 64 KiB keepalive flush, {label} (OTel JS: JSON, one body)"),
                unit: "spans",
                ours: stat(&series(&ours, &format!("flush_spans_{key}"))),
                theirs: Some(stat(&series(&theirs, "flush_spans_json"))),
                goal: "(reported)".into(),
            });
        }
        for (key, label, _) in &modes[1..] {
            rows.push(Row {
                name: format!("Export encoding (512 spans → {label}; OTel JS: JSON)"),
                unit: "ms",
                ours: stat(&series(&ours, &format!("encode_{key}_ms"))),
                theirs: Some(stat(&series(&theirs, "encode_ms"))),
                goal: if *key == "protobuf_gzip" { "≤ 0.5× OTel JS".into() } else { "(reported)".into() },
            });
        }
        rows.push(side_by_side(
            "Traced fetch overhead (median, loopback)",
            "µs",
            "fetch_overhead_us",
            "≤ 50 µs and < OTel JS",
        ));
    }

    if wants("size") {
        println!("bench: bundle sizes");
        let with = gzip_size(&files(&sizes.join("with"), &["wasm", "js"])?)?;
        let without = gzip_size(&files(&sizes.join("without"), &["wasm", "js"])?)?;
        let js_with = gzip_size(&[sizes.join("js/size-entry.js")])?;
        let js_without = gzip_size(&[sizes.join("js/size-baseline.js")])?;
        rows.push(Row {
            name: "SDK core share of the bundle (gzip -9)".into(),
            unit: "KiB",
            ours: single(with - without),
            theirs: Some(single(js_with - js_without)),
            goal: "≤ 1.0×, then ≤ 0.5× OTel JS".into(),
        });
        // One directory per optional feature, built by `cargo xtask bench` (its SIZE_FEATURES).
        let mut features: Vec<String> = std::fs::read_dir(sizes)?
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("with-").map(str::to_owned))
            .collect();
        features.sort();
        for feature in features {
            let dir = sizes.join(format!("with-{feature}"));
            let size = gzip_size(&files(&dir, &["wasm", "js"])?)?;
            rows.push(Row {
                name: format!("+ feature `{feature}` (gzip -9, on top of the core)"),
                unit: "KiB",
                ours: single(size - with),
                theirs: None,
                goal: "(reported)".into(),
            });
        }
        let cruddur = sizes.join("cruddur");
        if cruddur.exists() {
            let weight = gzip_size(&files(&cruddur, &["wasm", "js", "css"])?)?;
            rows.push(Row {
                name: "Cruddur page weight, release with wasm-opt (wasm + JS + CSS, gzip -9)".into(),
                unit: "KiB",
                ours: single(weight),
                theirs: None,
                goal: "(reported)".into(),
            });
        }
    }

    if wants("backend") {
        println!("bench: backend under load (wrk, 8 s each)");
        let explorer = start_explorer(explorer_bin, &scratch.join("explorer-load"))?;
        wait_up(&format!("{}/api/traces", explorer.1)).await?;
        let off = load(backend_bin, &scratch, false, &explorer).await?;
        let on = load(backend_bin, &scratch, true, &explorer).await?;
        rows.push(Row {
            name: "Backend home feed throughput, tracing on / off".into(),
            unit: "req/s",
            ours: single(on.rps),
            theirs: Some(single(off.rps)),
            goal: "≥ 0.95× (on/off)".into(),
        });
        rows.push(Row {
            name: "Backend home feed p99, tracing on / off".into(),
            unit: "ms",
            ours: single(on.p99_ms),
            theirs: Some(single(off.p99_ms)),
            goal: "(reported)".into(),
        });
        rows.push(Row {
            name: "Backend CPU per request, tracing on / off".into(),
            unit: "µs",
            ours: single(on.backend_cpu_us),
            theirs: Some(single(off.backend_cpu_us)),
            goal: "(explains the throughput)".into(),
        });
        rows.push(Row {
            name: "Explorer CPU per request while tracing on (its ingest of the 4 spans)".into(),
            unit: "µs",
            ours: single(on.explorer_cpu_us),
            theirs: None,
            goal: "(same 2 cores)".into(),
        });
    }

    if wants("explorer") {
        println!("bench: explorer ({spans} spans)");
        let (ingest, query) = explorer_bench(explorer_bin, &scratch, spans).await?;
        rows.push(Row {
            name: "Explorer ingest (OTLP JSON, 4 clients)".into(),
            unit: "spans/s",
            ours: single(ingest),
            theirs: None,
            goal: "≥ 20,000".into(),
        });
        rows.push(Row {
            name: "Explorer P95 by user.id over all spans".into(),
            unit: "ms",
            ours: stat(&query),
            theirs: None,
            goal: "< 1,000 ms at 1M spans".into(),
        });
    }
    let _ = std::fs::remove_dir_all(&scratch);

    let mut table = String::from(
        "| benchmark | unit | otel-web median (min–max) | OTel JS / baseline median (min–max) | ratio | goal |\n|---|---|---|---|---|---|\n",
    );
    for row in &rows {
        let fmt = |s: &Stat| format!("{:.2} ({:.2}–{:.2})", s.median, s.min, s.max);
        let (theirs, ratio) = match &row.theirs {
            Some(t) => (
                fmt(t),
                if t.median != 0.0 { format!("{:.2}", row.ours.median / t.median) } else { "—".into() },
            ),
            None => ("—".into(), "—".into()),
        };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.name,
            row.unit,
            fmt(&row.ours),
            theirs,
            ratio,
            row.goal
        ));
    }
    let header = format!(
        "Measured {} on {} (`nproc` = {}), {}; explorer: {spans} spans.\n\n",
        std::env::var("BENCH_DATE").unwrap_or_default(),
        agent.as_str().unwrap_or("?"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        format_args!("{rounds} rounds per browser figure"),
    );
    println!("\n{header}{table}");
    let out = site.parent().unwrap_or(site).join("results.md");
    std::fs::write(&out, format!("{header}{table}"))?;
    println!("written to {}", out.display());
    Ok(())
}
