//! The SERVER span against the real router on a loopback port, with each request written byte for
//! byte (header names in any case, repeated fields, bytes that are not text): the W3C
//! trace-context test suite's cases, and `url.query`.

mod url_query;
mod w3c_trace_context;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use cruddur_backend::config::{Config, OtlpTarget, Protocol};
use cruddur_backend::db::Db;
use cruddur_backend::relay::Relay;
use cruddur_backend::{AppState, app, telemetry};
use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

/// The backend on a loopback port, its spans kept in memory.
struct Backend {
    addr: SocketAddr,
    spans: InMemorySpanExporter,
    _provider: SdkTracerProvider,
}

impl Backend {
    /// Samples every request, like the W3C suite's test service, which propagates whatever it
    /// receives: the server spans of unsampled (`-00`) parents are recorded too.
    async fn always_on() -> Self {
        Self::start(Some("always_on")).await
    }

    /// The configuration's default sampler, `parentbased_always_on`.
    async fn default_sampler() -> Self {
        Self::start(None).await
    }

    async fn start(sampler: Option<&str>) -> Self {
        let sampler = sampler.map(str::to_owned);
        let config =
            Config::from_lookup(|var| if var == "OTEL_TRACES_SAMPLER" { sampler.clone() } else { None })
                .expect("configuration")
                .telemetry;
        let spans = InMemorySpanExporter::default();
        let provider = telemetry::builder(&config).with_simple_exporter(spans.clone()).build();
        let tracer = telemetry::tracer(&provider);
        let state = AppState {
            db: Db::open(std::path::Path::new(":memory:"), tracer.clone()).expect("db"),
            tracer,
            propagator: telemetry::propagator(),
            relay: Relay::new(OtlpTarget {
                traces_url: "http://127.0.0.1:9/v1/traces".into(),
                headers: vec![],
                protocol: Protocol::HttpProtobuf,
            })
            .expect("relay"),
            frontend_origins: Arc::from(Vec::new()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>()).await
        });
        Self { addr, spans, _provider: provider }
    }

    /// `GET /api/users` with these header fields, in this order and spelling.
    async fn get(&self, fields: &[(&str, &str)]) -> SpanData {
        let fields: Vec<(&str, &[u8])> =
            fields.iter().map(|&(name, value)| (name, value.as_bytes())).collect();
        self.get_raw("/api/users", &fields).await
    }

    /// `GET target` with these header fields, written as given; returns the request's SERVER span.
    async fn get_raw(&self, target: &str, fields: &[(&str, &[u8])]) -> SpanData {
        let mut head =
            format!("GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr).into_bytes();
        for (name, value) in fields {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        self.spans.reset();
        let addr = self.addr;
        let response = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut stream = TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.write_all(&head)?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            Ok(response)
        })
        .await
        .expect("join")
        .expect("the request and its response");
        assert!(
            response.starts_with(b"HTTP/1.1 200"),
            "{fields:?}: {}",
            String::from_utf8_lossy(&response[..response.len().min(200)])
        );
        // The middleware ends the span before the response is written, and the exporter is simple.
        let spans = self.spans.get_finished_spans().expect("spans");
        let mut servers = spans.into_iter().filter(|s| s.span_kind == SpanKind::Server);
        let server = servers.next().unwrap_or_else(|| panic!("no SERVER span for {fields:?}"));
        assert!(servers.next().is_none(), "one SERVER span per request");
        server
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
}
