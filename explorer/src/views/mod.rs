//! Server-rendered HTML with inline SVG: no JavaScript build step, and every view is a permalink.
//!
//! - [`traces`]: recent traces and the trace waterfall (with the browser→backend network gap).
//! - [`query`]: the query builder, results table, time-series charts, heatmaps, saved queries.
//! - [`vitals`]: P75 of each web vital by route, rating bands and shares, example traces.

pub mod query;
pub mod traces;
pub mod vitals;

use std::fmt::Write;

use axum::response::{Html, IntoResponse, Response};

use crate::error::AppError;

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const PALETTE: &[&str] =
    &["#4f7cff", "#f5a524", "#17c964", "#f31260", "#9353d3", "#06b7db", "#ff7a45", "#7a8b99"];

/// A stable color for a service (or series) name.
pub fn color(name: &str) -> &'static str {
    let hash = name.bytes().fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    PALETTE[hash as usize % PALETTE.len()]
}

/// A palette color by index.
pub fn nth_color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

const STYLE: &str = "
:root { --bg:#0f1420; --panel:#171e2e; --line:#27314a; --text:#e6e9f2; --muted:#8a94ad; --accent:#4f7cff; --bad:#f31260; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; background:var(--bg); color:var(--text); }
a { color:#9db4ff; text-decoration:none; } a:hover { text-decoration:underline; }
header { display:flex; gap:24px; align-items:center; padding:12px 24px; background:var(--panel); border-bottom:1px solid var(--line); }
header .brand { font-weight:700; letter-spacing:.02em; } header nav a { margin-right:16px; color:var(--text); }
main { padding:20px 24px; }
h1 { font-size:20px; margin:0 0 12px; } h2 { font-size:16px; margin:20px 0 8px; color:var(--muted); font-weight:600; }
table { border-collapse:collapse; width:100%; background:var(--panel); border:1px solid var(--line); }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); font-variant-numeric:tabular-nums; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12.5px; }
.pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; color:#0f1420; margin-right:4px; }
.bad { color:var(--bad); font-weight:600; } .muted { color:var(--muted); }
.grid { display:grid; grid-template-columns: minmax(0, 1fr) 380px; gap:20px; align-items:start; }
.panel { background:var(--panel); border:1px solid var(--line); padding:12px 14px; }
.panel dl { display:grid; grid-template-columns: max-content 1fr; gap:4px 12px; margin:0; }
.panel dt { color:var(--muted); } .panel dd { margin:0; word-break:break-all; }
textarea { width:100%; min-height:220px; background:#0b1019; color:var(--text); border:1px solid var(--line); padding:10px; font:12.5px ui-monospace, monospace; }
input[type=text] { background:#0b1019; color:var(--text); border:1px solid var(--line); padding:6px 8px; }
button { background:var(--accent); color:white; border:0; padding:7px 14px; border-radius:4px; font-weight:600; cursor:pointer; }
.error { background:#3a1020; border:1px solid var(--bad); padding:10px 12px; margin:10px 0; }
svg text { fill: var(--text); font-size:11px; }
.row:hover rect.hit { fill: rgba(255,255,255,.05); }
";

/// A whole page.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · trace-explorer</title><style>{STYLE}</style></head><body>\
         <header><span class=\"brand\">trace-explorer</span><nav><a href=\"/\">Traces</a><a href=\"/query\">Query</a><a href=\"/vitals\">Web vitals</a></nav></header>\
         <main>{body}</main></body></html>",
        esc(title)
    ))
}

/// A failed page: the status of `error`, and only what [`AppError::client_message`] tells a
/// client (a store failure's details go to the log).
pub fn error_page(error: AppError) -> Response {
    let status = error.status();
    if status.is_server_error() {
        eprintln!("explorer: {error}");
    }
    (status, page("Error", &format!("<div class=error>{}</div>", esc(&error.client_message()))))
        .into_response()
}

/// Formats milliseconds readably.
pub fn ms(value: f64) -> String {
    if value >= 1000.0 { format!("{:.2} s", value / 1000.0) } else { format!("{value:.1} ms") }
}

/// Formats epoch nanoseconds as UTC time of day with milliseconds.
pub fn clock(ns: i64) -> String {
    let ms = ns.div_euclid(1_000_000);
    let secs = ms.div_euclid(1000);
    let (h, m, s) = (secs.rem_euclid(86_400) / 3600, secs.rem_euclid(3600) / 60, secs.rem_euclid(60));
    format!("{h:02}:{m:02}:{s:02}.{:03} UTC", ms.rem_euclid(1000))
}
