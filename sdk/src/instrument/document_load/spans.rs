//! The span tree for one page load, built from what [`super::timeline`] read: `documentLoad`,
//! its `documentFetch` and one `resourceFetch` per resource requested before `load` ended.
//! `documentLoad` itself is started early ([`begin`]) and completed from the timeline
//! ([`finish`]), so its ids are known to the web vitals before it ends.
//!
//! Every child lies inside its parent by construction: `documentLoad` runs from navigation
//! start (0 on the performance clock) to `loadEventEnd`, or to the end of the last resource
//! requested before it if that is later (Chrome does not hold `load` for a
//! `<link rel=preload as=fetch>`: Cruddur's `.wasm` arrives about 100 ms after `load`); each span
//! starts at its entry's first time and ends at its last, and its events are those times, in
//! the order the browser records them.

use opentelemetry::trace::{Span as _, SpanContext, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};

use super::timeline::{Fetch, Navigation};
use crate::fetch::url;
use crate::instrument::page_load;
use crate::platform::clock;
use crate::semconv;
use crate::trace::{Span, Tracer};

/// Most `resourceFetch` spans per page load (the browser's resource timing buffer holds 250
/// by default).
pub(super) const MAX_RESOURCES: usize = 250;

/// A resource requested before `load` counts if it ended at most this long after it (a
/// long poll started early must not stretch the page load).
pub(super) const MAX_AFTER_LOAD_MS: f64 = 30_000.0;

/// Initiators of requests the SDK sees itself once it runs: the traced fetch makes their spans,
/// and the exporter's own requests are never traced.
const SCRIPTED: &[&str] = &["fetch", "xmlhttprequest", "beacon"];

fn at(mono: f64) -> std::time::SystemTime {
    clock::to_system_time(clock::mono_to_unix_nanos(mono))
}

/// Starts `documentLoad` at navigation start, a child of `parent` (the server's span) or the
/// root of a new trace — never adopted by an open interaction. It is started when the
/// instrumentation starts, long before the timeline is complete, so that the web vitals can
/// name it as their parent ([`crate::instrument::page_load`]); [`finish`] completes it.
pub(super) fn begin(tracer: &Tracer, parent: Option<SpanContext>) -> Span {
    let parent_cx = match parent {
        Some(parent) => Context::new().with_remote_span_context(parent),
        None => page_load::explicit_root(),
    };
    tracer.span_builder("documentLoad").with_start_time(at(0.0)).start_with_context(tracer, &parent_cx)
}

/// Completes `load` (from [`begin`]) with the page load read from the timeline: its URL,
/// milestones and children, and ends it; `started_at` is when the SDK started
/// (`performance.now()`). Without a load end, nothing is recorded.
pub(super) fn finish(
    tracer: &Tracer,
    mut load: Span,
    navigation: &Navigation,
    resources: &[Fetch],
    started_at: f64,
) {
    let load_end = navigation.load_event_end;
    if load_end <= 0.0 {
        load.discard();
        return;
    }
    load.set_attribute(KeyValue::new(semconv::URL_FULL, url::redact(&navigation.fetch.url)));
    for (name, time) in navigation.milestones() {
        load.add_event_with_timestamp(name, at(time.min(load_end)), vec![]);
    }
    let load_cx = Context::new().with_span(load);

    let part_of_load: Vec<&Fetch> =
        resources.iter().filter(|r| part_of_load(r, load_end, started_at)).take(MAX_RESOURCES).collect();
    let end = part_of_load.iter().map(|r| r.response_end).fold(load_end, f64::max);
    fetch_span(tracer, &load_cx, "documentFetch", &navigation.fetch, end);
    for resource in part_of_load {
        fetch_span(tracer, &load_cx, "resourceFetch", resource, end);
    }
    load_cx.span().end_with_timestamp(at(end));
}

/// Whether `resource` belongs to the page load: requested before `load_end` and ended (within
/// [`MAX_AFTER_LOAD_MS`] of it), and not a request the SDK itself saw start (scripted after
/// `started_at`).
pub(super) fn part_of_load(resource: &Fetch, load_end: f64, started_at: f64) -> bool {
    resource.response_end > 0.0
        && resource.start_time <= load_end
        && resource.response_end <= load_end + MAX_AFTER_LOAD_MS
        && !(SCRIPTED.contains(&resource.initiator_type.as_str()) && resource.start_time >= started_at)
}

/// A child of `parent` for one fetch, from its first time to its last (within `0..=limit`).
fn fetch_span(tracer: &Tracer, parent: &Context, name: &'static str, fetch: &Fetch, limit: f64) {
    let phases = fetch.phases();
    let first = phases.first().map_or(fetch.start_time, |(_, t)| *t);
    let start = if fetch.start_time > 0.0 { fetch.start_time.min(first) } else { first }.min(limit);
    let end = phases.iter().map(|(_, t)| *t).fold(fetch.response_end, f64::max).clamp(start, limit);
    let mut span = tracer
        .span_builder(name)
        .with_start_time(at(start))
        .with_attributes(attributes(fetch))
        .start_with_context(tracer, parent);
    for (event, time) in phases {
        span.add_event_with_timestamp(event, at(time.clamp(start, end)), vec![]);
    }
    span.end_with_timestamp(at(end));
}

fn attributes(fetch: &Fetch) -> Vec<KeyValue> {
    let mut attributes = vec![KeyValue::new(semconv::URL_FULL, url::redact(&fetch.url))];
    if !fetch.initiator_type.is_empty() && fetch.initiator_type != "navigation" {
        attributes.push(KeyValue::new(semconv::OTELWEB_INITIATOR_TYPE, fetch.initiator_type.clone()));
    }
    if fetch.response_status >= 100.0 && fetch.response_status < 1000.0 {
        attributes.push(KeyValue::new(semconv::HTTP_RESPONSE_STATUS_CODE, fetch.response_status as i64));
    }
    for (key, size) in [
        (semconv::HTTP_RESPONSE_BODY_SIZE, fetch.encoded_body_size),
        (semconv::HTTP_RESPONSE_SIZE, fetch.transfer_size),
        (semconv::OTELWEB_RESPONSE_DECODED_BODY_SIZE, fetch.decoded_body_size),
    ] {
        if size > 0.0 {
            attributes.push(KeyValue::new(key, size as i64));
        }
    }
    if let Some(version) = protocol_version(&fetch.next_hop_protocol) {
        attributes.push(KeyValue::new(semconv::NETWORK_PROTOCOL_NAME, "http"));
        attributes.push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
    }
    attributes
}

/// `network.protocol.version` for an ALPN id (`nextHopProtocol`); `None` for anything but HTTP.
fn protocol_version(next_hop: &str) -> Option<&'static str> {
    match next_hop {
        "http/0.9" => Some("0.9"),
        "http/1.0" => Some("1.0"),
        "http/1.1" => Some("1.1"),
        "h2" | "h2c" => Some("2"),
        h3 if h3 == "h3" || h3.starts_with("h3-") => Some("3"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::InMemoryExporter;
    use crate::trace::{SpanData, TracerProvider};
    use opentelemetry::trace::{SpanId, TraceId, TraceState, TracerProvider as _};

    fn fetch(url: &str, initiator: &str, start: f64, end: f64) -> Fetch {
        Fetch {
            url: url.into(),
            initiator_type: initiator.into(),
            start_time: start,
            fetch_start: start + 1.0,
            request_start: start + 2.0,
            response_start: end - 2.0,
            response_end: end,
            encoded_body_size: 300.0,
            transfer_size: 600.0,
            decoded_body_size: 900.0,
            next_hop_protocol: "http/1.1".into(),
            ..Default::default()
        }
    }

    fn navigation() -> Navigation {
        Navigation {
            fetch: Fetch {
                url: "http://127.0.0.1:3000/?token=secret".into(),
                initiator_type: "navigation".into(),
                fetch_start: 2.0,
                domain_lookup_start: 2.5,
                domain_lookup_end: 2.5,
                connect_start: 3.0,
                connect_end: 4.0,
                request_start: 5.0,
                response_start: 20.0,
                response_end: 22.0,
                response_status: 200.0,
                ..Default::default()
            },
            dom_interactive: 60.0,
            dom_content_loaded_event_start: 61.0,
            dom_content_loaded_event_end: 62.0,
            dom_complete: 200.0,
            load_event_start: 201.0,
            load_event_end: 202.0,
            ..Default::default()
        }
    }

    fn run(parent: Option<SpanContext>, navigation: &Navigation, resources: &[Fetch]) -> Vec<SpanData> {
        let exporter = InMemoryExporter::default();
        let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let tracer = provider.tracer("test");
        let load = begin(&tracer, parent);
        finish(&tracer, load, navigation, resources, 150.0);
        exporter.finished_spans()
    }

    fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
        spans.iter().filter(|s| s.name == name).collect()
    }

    #[test]
    fn the_page_load_is_one_tree_with_every_child_inside_its_parent() {
        let resources = [
            // Preloaded before load, arrives after it: part of the page load, which waits for it.
            fetch("http://127.0.0.1:3000/app_bg.wasm", "link", 30.0, 320.0),
            fetch("http://127.0.0.1:3000/style.css", "link", 25.0, 40.0),
            // Requested after load: a lazy image.
            fetch("http://127.0.0.1:3000/late.png", "img", 210.0, 250.0),
            // Requested before load, but ended long after: a long poll.
            fetch("http://127.0.0.1:3000/poll", "other", 100.0, 202.0 + MAX_AFTER_LOAD_MS + 1.0),
            // Fetched by the app after the SDK started: the traced fetch's.
            fetch("http://127.0.0.1:3000/api/home", "fetch", 160.0, 170.0),
            // Fetched before the SDK started: part of the load.
            fetch("http://127.0.0.1:3000/early.json", "fetch", 50.0, 70.0),
        ];
        let spans = run(None, &navigation(), &resources);
        let load = named(&spans, "documentLoad");
        let [load] = load.as_slice() else { panic!("one documentLoad: {spans:?}") };
        assert_eq!(load.parent_span_id, SpanId::INVALID);
        assert_eq!(
            load.attribute("url.full").map(|v| v.to_string()).as_deref(),
            Some("http://127.0.0.1:3000/?token=REDACTED")
        );
        let children: Vec<&SpanData> =
            spans.iter().filter(|s| s.parent_span_id == load.span_context.span_id()).collect();
        assert_eq!(children.len(), 4, "{children:?}");
        assert_eq!(named(&spans, "documentFetch").len(), 1);
        let urls: Vec<String> = named(&spans, "resourceFetch")
            .iter()
            .filter_map(|s| s.attribute("url.full").map(|v| v.to_string()))
            .collect();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:3000/app_bg.wasm",
                "http://127.0.0.1:3000/style.css",
                "http://127.0.0.1:3000/early.json"
            ]
        );
        for span in &spans {
            assert_eq!(span.span_context.trace_id(), load.span_context.trace_id());
            assert!(span.start_time_unix_nano >= load.start_time_unix_nano, "{span:?}");
            assert!(span.end_time_unix_nano <= load.end_time_unix_nano, "{span:?}");
            assert!(span.start_time_unix_nano <= span.end_time_unix_nano, "{span:?}");
            let times: Vec<u64> = span.events.iter().map(|e| e.time_unix_nano).collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "phases out of order: {span:?}");
            assert!(times.iter().all(|t| (span.start_time_unix_nano..=span.end_time_unix_nano).contains(t)));
        }
        let load_events: Vec<&str> = load.events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(
            load_events,
            [
                "fetchStart",
                "domInteractive",
                "domContentLoadedEventStart",
                "domContentLoadedEventEnd",
                "domComplete",
                "loadEventStart",
                "loadEventEnd"
            ]
        );
        let document = named(&spans, "documentFetch")[0];
        let phases: Vec<&str> = document.events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(
            phases,
            [
                "fetchStart",
                "domainLookupStart",
                "domainLookupEnd",
                "connectStart",
                "connectEnd",
                "requestStart",
                "responseStart",
                "responseEnd"
            ]
        );
        assert_eq!(
            document.attribute("http.response.status_code").map(|v| v.to_string()).as_deref(),
            Some("200")
        );
        let wasm = named(&spans, "resourceFetch")[0];
        for (key, value) in [
            ("otelweb.initiator_type", "link"),
            ("http.response.body.size", "300"),
            ("http.response.size", "600"),
            ("otelweb.response.decoded_body_size", "900"),
            ("network.protocol.name", "http"),
            ("network.protocol.version", "1.1"),
        ] {
            assert_eq!(wasm.attribute(key).map(|v| v.to_string()).as_deref(), Some(value), "{key}");
        }
        // The span runs from the entry's startTime to its responseEnd: 290 ms; the page load
        // ends with it, after loadEventEnd.
        assert_eq!(wasm.duration_nanos(), 290_000_000);
        assert_eq!(load.end_time_unix_nano, wasm.end_time_unix_nano);
        assert!(load.events.iter().all(|e| e.time_unix_nano < load.end_time_unix_nano));
    }

    #[test]
    fn the_page_load_continues_the_servers_trace() {
        let parent = SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            opentelemetry::trace::TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let spans = run(Some(parent.clone()), &navigation(), &[]);
        let load = named(&spans, "documentLoad")[0];
        assert_eq!(load.span_context.trace_id(), parent.trace_id());
        assert_eq!(load.parent_span_id, parent.span_id());
        assert!(load.parent_span_is_remote);
        assert!(spans.iter().all(|s| s.span_context.trace_id() == parent.trace_id()));
    }

    #[test]
    fn the_ids_named_at_the_start_are_those_documentload_is_exported_with() {
        let exporter = InMemoryExporter::default();
        let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let tracer = provider.tracer("test");
        let load = begin(&tracer, None);
        let early = load.span_context().clone();
        // A vital reported before the timeline is read, as web_vitals does.
        let vital = tracer.start_with_context("fcp", &Context::new().with_remote_span_context(early.clone()));
        drop(vital);
        assert_eq!(exporter.finished_spans().len(), 1, "documentLoad is not sent before it is complete");
        finish(&tracer, load, &navigation(), &[], 150.0);
        let spans = exporter.finished_spans();
        let load = named(&spans, "documentLoad")[0];
        assert_eq!(load.span_context, early);
        let vital = named(&spans, "fcp")[0];
        assert_eq!(vital.span_context.trace_id(), early.trace_id());
        assert_eq!(vital.parent_span_id, early.span_id());
        assert!(!vital.parent_span_is_remote);
    }

    #[test]
    fn no_load_end_no_spans_and_hostile_times_stay_inside() {
        let mut unfinished = navigation();
        unfinished.load_event_end = 0.0;
        assert!(run(None, &unfinished, &[]).is_empty());

        // A document fetch that claims to end after load (or a phase before its start) is
        // clamped into its parent rather than sticking out.
        let mut odd = navigation();
        odd.fetch.response_end = 5_000.0;
        odd.fetch.fetch_start = 0.0;
        let spans = run(None, &odd, &[]);
        let load = named(&spans, "documentLoad")[0];
        let document = named(&spans, "documentFetch")[0];
        assert!(document.end_time_unix_nano <= load.end_time_unix_nano);
        assert!(document.start_time_unix_nano >= load.start_time_unix_nano);
    }

    #[test]
    fn resources_are_bounded() {
        let many: Vec<Fetch> =
            (0..MAX_RESOURCES + 50).map(|i| fetch(&format!("http://x/{i}.png"), "img", 10.0, 20.0)).collect();
        let spans = run(None, &navigation(), &many);
        assert_eq!(named(&spans, "resourceFetch").len(), MAX_RESOURCES);
    }

    #[test]
    fn next_hop_protocols_map_to_http_versions() {
        assert_eq!(protocol_version("h2"), Some("2"));
        assert_eq!(protocol_version("h3-29"), Some("3"));
        assert_eq!(protocol_version("http/1.1"), Some("1.1"));
        assert_eq!(protocol_version(""), None);
        assert_eq!(protocol_version("spdy/3"), None);
    }
}
