//! Recent traces and the trace waterfall.
//!
//! The waterfall draws every span as a time-aligned bar, coloured by service, nested under its
//! parent. Where a SERVER span's parent is a CLIENT span of another service (the browser's
//! fetch and the backend's handling of it), the time outside the server span but inside the
//! client span is hatched and labelled: that is the network's share of the request.
//!
//! A browser page load (`documentLoad`) reads as a timeline: its `resourceFetch` rows are
//! labelled by the file they fetched (the span name follows, muted), and the phase events of
//! `documentLoad` and `documentFetch` (DNS, connect, request, response, DOM milestones) are
//! tick marks on their bars, named on hover.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{clock, color, error_page, esc, ms, page};
use crate::AppState;
use crate::error::AppError;
use crate::store::{StoredSpan, value_text};

/// `GET /`: recent traces.
pub async fn recent(State(state): State<AppState>) -> Response {
    let found = state
        .with_store(|store| Ok::<_, AppError>((store.recent_traces(100, None)?, store.span_count())))
        .await;
    let (traces, span_count) = match found {
        Ok(found) => found,
        Err(e) => return error_page(e),
    };
    let mut body = format!(
        "<h1>Recent traces</h1><p class=muted>{span_count} spans stored. Send OTLP/HTTP to <span class=mono>POST /v1/traces</span>.</p>"
    );
    if traces.is_empty() {
        body.push_str(
            "<div class=panel>No traces yet. Click around the app: spans arrive within a few seconds.</div>",
        );
        return page("Recent traces", &body).into_response();
    }
    body.push_str("<table><tr><th>Root span</th><th>Services</th><th>Start</th><th>Duration</th><th>Spans</th><th>Errors</th></tr>");
    for t in traces {
        let services: String = t
            .services
            .iter()
            .map(|s| format!("<span class=pill style=\"background:{}\">{}</span>", color(s), esc(s)))
            .collect();
        let errors =
            if t.error_count > 0 { format!("<span class=bad>{}</span>", t.error_count) } else { "0".into() };
        let _ = write!(
            body,
            "<tr><td><a href=\"/traces/{id}\">{name}</a><div class=\"mono muted\">{id}</div></td><td>{services}</td><td>{start}</td><td>{dur}</td><td>{count}</td><td>{errors}</td></tr>",
            id = esc(&t.trace_id),
            name = esc(&t.root_name),
            start = clock(t.start_ns),
            dur = ms(t.duration_ms),
            count = t.span_count,
        );
    }
    body.push_str("</table>");
    page("Recent traces", &body).into_response()
}

/// The query string of the waterfall: which span's details to show.
#[derive(Debug, Deserialize)]
pub struct WaterfallParams {
    span: Option<String>,
}

/// Spans in tree order with their depth: parents before children, siblings by start.
pub fn tree_order(spans: &[StoredSpan]) -> Vec<(usize, usize)> {
    let ids: HashMap<&str, usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id.as_str(), i)).collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match span.parent_id.as_deref().and_then(|p| ids.get(p)) {
            Some(&parent) if parent != i => children.entry(parent).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let by_start = |v: &mut Vec<usize>| v.sort_by_key(|&i| (spans[i].start_ns, i));
    by_start(&mut roots);
    children.values_mut().for_each(by_start);
    let mut order = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        if order.len() > spans.len() {
            break;
        }
        order.push((i, depth));
        if let Some(kids) = children.get(&i) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    order
}

/// For a SERVER span whose parent is a CLIENT span of another service: `(client, server)`.
pub fn network_hops(spans: &[StoredSpan]) -> Vec<(usize, usize)> {
    let ids: HashMap<&str, usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id.as_str(), i)).collect();
    spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == 2)
        .filter_map(|(i, s)| {
            let parent = *ids.get(s.parent_id.as_deref()?)?;
            (spans[parent].kind == 3 && spans[parent].service != s.service).then_some((parent, i))
        })
        .collect()
}

/// Spans whose events are the phases of a page load (`otel-web`'s document-load), drawn as
/// tick marks on their bars.
const PHASED: &[&str] = &["documentLoad", "documentFetch"];

/// A `resourceFetch` row is labelled by what it fetched: the last segment of its `url.full`
/// path (`app_bg.wasm`), without query or fragment; `/` for the root.
fn resource_label(span: &StoredSpan) -> Option<String> {
    if span.name != "resourceFetch" {
        return None;
    }
    let url = span.attributes.get("url.full")?.as_str()?;
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    };
    let segment = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    Some(if segment.is_empty() { "/".to_owned() } else { segment.to_owned() })
}

/// `text` in at most `max` characters: long ones keep their start and end (a hashed bundle's
/// name and its extension) around an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

const LABEL_WIDTH: f64 = 330.0;
const BAR_WIDTH: f64 = 640.0;
const ROW: f64 = 24.0;

/// `GET /traces/{trace_id}`: the waterfall.
pub async fn waterfall(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    Query(params): Query<WaterfallParams>,
) -> Response {
    let id = trace_id.clone();
    let spans = match state.with_store(move |store| store.trace(&id)).await {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    if spans.is_empty() {
        let body = format!(
            "<h1>Trace {}</h1><div class=panel>No spans for this trace (yet). Spans arrive a few seconds after the click.</div>",
            esc(&trace_id)
        );
        return (StatusCode::NOT_FOUND, page("Trace not found", &body)).into_response();
    }
    render_waterfall(&trace_id, &spans, params.span.as_deref()).into_response()
}

fn render_waterfall(trace_id: &str, spans: &[StoredSpan], selected: Option<&str>) -> Html<String> {
    let t0 = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let t1 = spans.iter().map(|s| s.end_ns).max().unwrap_or(t0);
    // In f64: stored times are any i64, and their differences may not fit one.
    let total = (t1 as f64 - t0 as f64).max(1.0);
    let x = |ns: i64| LABEL_WIDTH + (ns as f64 - t0 as f64) / total * BAR_WIDTH;
    let order = tree_order(spans);
    let hops = network_hops(spans);
    let selected_index = selected
        .and_then(|id| spans.iter().position(|s| s.span_id == id))
        .unwrap_or_else(|| order.first().map(|o| o.0).unwrap_or(0));
    let height = ROW * order.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg width=\"100%\" viewBox=\"0 0 {w} {height}\" role=\"img\" aria-label=\"trace waterfall\">\
         <defs><pattern id=\"net\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"3\" height=\"6\" fill=\"#f31260\" opacity=\".55\"/></pattern></defs>",
        w = LABEL_WIDTH + BAR_WIDTH + 20.0
    );
    for tick in 0..=4 {
        let tx = LABEL_WIDTH + BAR_WIDTH * tick as f64 / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{tx}\" y1=\"0\" x2=\"{tx}\" y2=\"{height}\" stroke=\"#27314a\"/><text x=\"{tx}\" y=\"{}\" text-anchor=\"middle\" class=muted>{}</text>",
            height - 8.0,
            ms(total / 1e6 * tick as f64 / 4.0)
        );
    }
    let row_of: HashMap<usize, usize> = order.iter().enumerate().map(|(row, (i, _))| (*i, row)).collect();
    for (row, (i, depth)) in order.iter().enumerate() {
        let span = &spans[*i];
        let y = row as f64 * ROW;
        let (bx, bw) = (x(span.start_ns), (x(span.end_ns) - x(span.start_ns)).max(1.5));
        let fill = color(&span.service);
        let stroke = if span.status_code == 2 { " stroke=\"#f31260\" stroke-width=\"2\"" } else { "" };
        let name = match resource_label(span) {
            // The resource first, the span name after it, muted.
            Some(resource) => {
                format!("{} <tspan class=muted>{}</tspan>", esc(&shorten(&resource, 32)), esc(&span.name))
            }
            None => esc(&span.name.chars().take(40).collect::<String>()),
        };
        let _ = write!(
            svg,
            "<a href=\"?span={id}\" class=row><rect class=hit x=\"0\" y=\"{y}\" width=\"{w}\" height=\"{ROW}\" fill=\"transparent\"/>\
             <circle cx=\"{cx}\" cy=\"{cy}\" r=\"4\" fill=\"{fill}\"><title>{svc}</title></circle><text x=\"{lx}\" y=\"{ty}\"{bold}>{name}</text>\
             <rect x=\"{bx:.1}\" y=\"{by}\" width=\"{bw:.1}\" height=\"14\" rx=\"2\" fill=\"{fill}\"{stroke}/>",
            id = esc(&span.span_id),
            w = LABEL_WIDTH + BAR_WIDTH,
            cx = 8.0 + *depth as f64 * 12.0,
            cy = y + 12.0,
            lx = 16.0 + *depth as f64 * 12.0,
            ty = y + 16.0,
            bold = if *i == selected_index { " font-weight=\"700\"" } else { "" },
            svc = esc(&span.service),
            by = y + 5.0,
        );
        if PHASED.contains(&span.name.as_str()) {
            for event in &span.events {
                let Some(at) = event["time_ns"].as_i64() else { continue };
                let tx = x(at.clamp(span.start_ns, span.end_ns.max(span.start_ns)));
                let _ = write!(
                    svg,
                    "<line class=\"phase\" x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#0b1020\" stroke-width=\"1.5\"><title>{} +{}</title></line>",
                    y + 3.0,
                    y + 21.0,
                    esc(event["name"].as_str().unwrap_or("")),
                    ms((at as f64 - span.start_ns as f64) / 1e6),
                );
            }
        }
        let _ = write!(
            svg,
            "<text x=\"{dx:.1}\" y=\"{ty}\">{dur}</text></a>",
            dx = (bx + bw + 4.0).min(LABEL_WIDTH + BAR_WIDTH - 40.0),
            ty = y + 16.0,
            dur = ms(span.duration_ms),
        );
    }
    let mut hop_notes = String::new();
    for (client, server) in &hops {
        let (c, s) = (&spans[*client], &spans[*server]);
        let Some(&row) = row_of.get(server) else { continue };
        let y = row as f64 * ROW + 5.0;
        for (from, to) in [(c.start_ns, s.start_ns), (s.end_ns, c.end_ns)] {
            if to > from {
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"14\" fill=\"url(#net)\"/>",
                    x(from),
                    (x(to) - x(from)).max(1.0)
                );
            }
        }
        let network = (c.duration_ms - s.duration_ms).max(0.0);
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=bad>network {}</text>",
            (x(c.start_ns) - 2.0).max(LABEL_WIDTH),
            y - 1.0,
            ms(network)
        );
        let _ = write!(
            hop_notes,
            "<li><b>{}</b> → <b>{}</b>: client {} − server {} = <span class=bad>network {}</span> ({:.0}% of the request)</li>",
            esc(&c.service),
            esc(&s.service),
            ms(c.duration_ms),
            ms(s.duration_ms),
            ms(network),
            if c.duration_ms > 0.0 { network / c.duration_ms * 100.0 } else { 0.0 }
        );
    }
    svg.push_str("</svg>");

    let span = &spans[selected_index];
    let mut details = format!(
        "<h2>{}</h2><dl><dt>service</dt><dd>{}</dd><dt>kind</dt><dd>{}</dd><dt>duration</dt><dd>{}</dd><dt>start</dt><dd>{}</dd>\
         <dt>status</dt><dd>{}</dd><dt>span id</dt><dd class=mono>{}</dd><dt>parent</dt><dd class=mono>{}</dd><dt>scope</dt><dd>{}</dd>",
        esc(&span.name),
        esc(&span.service),
        span.kind_name(),
        ms(span.duration_ms),
        clock(span.start_ns),
        match span.status_code {
            2 => format!("<span class=bad>ERROR</span> {}", esc(&span.status_message)),
            1 => "OK".into(),
            _ => "unset".into(),
        },
        esc(&span.span_id),
        esc(span.parent_id.as_deref().unwrap_or("—")),
        esc(&span.scope),
    );
    let mut keys: Vec<&String> = span.attributes.keys().collect();
    keys.sort();
    for key in keys {
        let value = &span.attributes[key];
        let _ = write!(details, "<dt>{}</dt><dd>{}</dd>", esc(key), esc(&value_text(value)));
    }
    details.push_str("</dl>");
    if !span.events.is_empty() {
        details.push_str("<h2>Events</h2><dl>");
        for event in &span.events {
            let at = event["time_ns"].as_i64().unwrap_or(span.start_ns);
            let _ = write!(
                details,
                "<dt>+{}</dt><dd>{}</dd>",
                ms((at as f64 - span.start_ns as f64) / 1e6),
                esc(event["name"].as_str().unwrap_or(""))
            );
        }
        details.push_str("</dl>");
    }
    let services: Vec<&str> = {
        let mut s: Vec<&str> = spans.iter().map(|s| s.service.as_str()).collect();
        s.sort();
        s.dedup();
        s
    };
    let legend: String = services
        .iter()
        .map(|s| format!("<span class=pill style=\"background:{}\">{}</span>", color(s), esc(s)))
        .collect();
    let hops_html = if hop_notes.is_empty() {
        String::new()
    } else {
        format!("<h2>Browser → backend</h2><ul>{hop_notes}</ul>")
    };
    let body = format!(
        "<h1>Trace <span class=mono>{}</span></h1><p>{legend} <span class=muted>{} spans · {} · started {}</span></p>\
         <div class=grid><div class=panel style=\"overflow-x:auto\">{svg}{hops_html}</div><div class=panel>{details}</div></div>",
        esc(trace_id),
        spans.len(),
        ms(total / 1e6),
        clock(t0),
    );
    page(&format!("Trace {trace_id}"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, kind: i32, service: &str, start: i64, end: i64) -> StoredSpan {
        StoredSpan {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_id: parent.map(str::to_owned),
            name: id.into(),
            kind,
            service: service.into(),
            start_ns: start,
            end_ns: end,
            duration_ms: (end - start) as f64 / 1e6,
            status_code: 0,
            status_message: String::new(),
            scope: String::new(),
            attributes: Default::default(),
            events: vec![],
        }
    }

    #[test]
    fn children_follow_parents_and_the_network_hop_is_found() {
        let spans = vec![
            span("db", Some("server"), 3, "backend", 12, 14),
            span("server", Some("fetch"), 2, "backend", 10, 20),
            span("click", None, 1, "frontend", 0, 40),
            span("fetch", Some("click"), 3, "frontend", 2, 30),
            span("orphan", Some("missing"), 1, "frontend", 1, 2),
        ];
        let order: Vec<(&str, usize)> =
            tree_order(&spans).into_iter().map(|(i, d)| (spans[i].span_id.as_str(), d)).collect();
        assert_eq!(order, vec![("click", 0), ("fetch", 1), ("server", 2), ("db", 3), ("orphan", 0)]);
        assert_eq!(network_hops(&spans), vec![(3, 1)]);
        let html = render_waterfall("t", &spans, Some("server")).0;
        assert!(html.contains("network"), "the network gap is labelled");
        assert!(html.contains("client 0.0 ms − server 0.0 ms"));
    }

    #[test]
    fn a_resource_is_labelled_by_the_last_segment_of_its_url_path() {
        let labelled = |name: &str, url: Option<&str>| {
            let mut s = span("r", None, 1, "frontend", 0, 1);
            s.name = name.into();
            if let Some(url) = url {
                s.attributes.insert("url.full".into(), url.into());
            }
            resource_label(&s)
        };
        let cases = [
            ("http://127.0.0.1:3000/cruddur-frontend-cad_bg.wasm", "cruddur-frontend-cad_bg.wasm"),
            ("https://cdn.example/a/b/style.css?v=3#x", "style.css"),
            ("https://cdn.example/fonts/", "fonts"),
            ("http://127.0.0.1:3000/", "/"),
            ("http://127.0.0.1:3000", "/"),
            ("http://h/p?next=/a/b.js", "p"),
            ("relative/path/img.png", "img.png"),
            ("", "/"),
        ];
        for (url, label) in cases {
            assert_eq!(labelled("resourceFetch", Some(url)).as_deref(), Some(label), "{url}");
        }
        assert_eq!(labelled("resourceFetch", None), None, "no URL: the span name");
        assert_eq!(
            shorten("cruddur-frontend-cadaa06813fe5bfe_bg.wasm", 32),
            "cruddur-fronten…13fe5bfe_bg.wasm"
        );
        assert_eq!(shorten("style.css", 32), "style.css");
        assert_eq!(shorten("ééééé", 3), "é…é", "characters, not bytes");
        assert_eq!(labelled("documentFetch", Some("http://h/x.js")), None, "only resources");
    }
}
