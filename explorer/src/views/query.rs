//! The query builder: a query specification in, a results table, one time-series chart per
//! calculation and heatmaps out. Rows and heatmap cells link to the traces behind them. Saved
//! queries and history sit beside the editor; every query is a permalink (`/query?q=…`).

use std::fmt::Write;

use axum::Form;
use axum::extract::{Query as QueryParams, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::{error_page, esc, ms, nth_color, page, url_encode};
use crate::AppState;
use crate::api::{now_s, run_spec};
use crate::error::AppError;
use crate::query::{self, Heatmap, Op, Query, QueryResult};
use crate::store::value_text;

/// `?q=<spec>`.
#[derive(Debug, Deserialize)]
pub struct QueryPageParams {
    q: Option<String>,
}

const EXAMPLE: &str = r#"{
  "calculations": [{"op": "COUNT"}, {"op": "P95", "column": "duration_ms"}, {"op": "HEATMAP", "column": "duration_ms"}],
  "filters": [{"column": "trace.parent_id", "op": "does-not-exist"}],
  "breakdowns": ["service.name"],
  "time_range": 7200
}"#;

/// `GET /query`.
pub async fn query_page(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<QueryPageParams>,
) -> Response {
    let text = params.q.clone().unwrap_or_else(|| EXAMPLE.to_owned());
    let mut body = String::from("<h1>Query</h1>");
    let mut results = String::new();
    if let Some(q) = &params.q {
        match serde_json::from_str::<Json>(q) {
            Err(e) => {
                let _ =
                    write!(results, "<div class=error>The query is not JSON: {}</div>", esc(&e.to_string()));
            }
            Ok(spec) => match run_spec(&state, spec).await {
                Ok((query, result)) => results = render_results(q, &query, &result),
                Err(AppError::Query(e)) => {
                    let _ = write!(
                        results,
                        "<div class=error><b>{}</b>: {}</div>",
                        esc(&e.field),
                        esc(&e.reason)
                    );
                }
                Err(e) => {
                    if e.status().is_server_error() {
                        eprintln!("explorer: {e}");
                    }
                    let _ = write!(results, "<div class=error>{}</div>", esc(&e.client_message()));
                }
            },
        }
    }
    let (saved, history) = state
        .with_store(|store| Ok::<_, AppError>((store.saved_queries()?, store.history()?)))
        .await
        .unwrap_or_default();
    let mut side = String::from("<h2>Saved queries</h2><ul>");
    for s in &saved {
        let _ = write!(
            side,
            "<li><a href=\"/query?q={}\">{}</a></li>",
            url_encode(&s.spec.to_string()),
            esc(&s.name)
        );
    }
    side.push_str("</ul><h2>History</h2><ol>");
    for h in history.iter().take(10) {
        let summary: String = h.to_string().chars().take(70).collect();
        let _ = write!(
            side,
            "<li><a class=mono href=\"/query?q={}\">{}</a></li>",
            url_encode(&h.to_string()),
            esc(&summary)
        );
    }
    side.push_str("</ol>");
    let _ = write!(
        body,
        "<div class=grid><div><form method=get action=\"/query\"><textarea name=q spellcheck=false>{}</textarea>\
         <p><button type=submit>Run query</button> <span class=muted>Honeycomb query specification JSON: calculations, filters, \
         breakdowns, orders, havings, limit, time_range / start_time / end_time, granularity.</span></p></form>\
         <form method=post action=\"/queries\"><input type=hidden name=q value=\"{}\"><input type=text name=name placeholder=\"Name this query\"> \
         <button type=submit>Save</button></form>{results}</div><div class=panel>{side}</div></div>",
        esc(&text),
        esc(&text)
    );
    page("Query", &body).into_response()
}

fn number(value: &Json) -> String {
    match value.as_f64() {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => format!("{v:.3}"),
        None => "—".into(),
    }
}

fn group_label(group: &Map<String, Json>) -> String {
    if group.is_empty() {
        return "all".into();
    }
    group.values().map(value_text).collect::<Vec<_>>().join(" · ")
}

fn render_results(q: &str, query: &Query, result: &QueryResult) -> String {
    let mut html = format!(
        "<h2>Results</h2><p class=muted>{} of {} spans matched · {} groups</p><table><tr>",
        result.meta.rows_matched,
        result.meta.rows_examined,
        result.results.len()
    );
    for b in &query.breakdowns {
        let _ = write!(html, "<th>{}</th>", esc(b));
    }
    let labels: Vec<String> =
        query.calculations.iter().filter(|c| c.op != Op::Heatmap).map(|c| c.label()).collect();
    for label in &labels {
        let _ = write!(html, "<th>{}</th>", esc(label));
    }
    html.push_str("<th></th></tr>");
    for row in &result.results {
        html.push_str("<tr>");
        for b in &query.breakdowns {
            let v = &row.group[b];
            let _ = write!(html, "<td>{}</td>", esc(&value_text(v)));
        }
        for label in &labels {
            let _ = write!(html, "<td>{}</td>", number(&row.values[label]));
        }
        let group = Json::Object(row.group.clone()).to_string();
        let _ = write!(
            html,
            "<td><a href=\"/query/traces?q={}&group={}\">traces →</a></td></tr>",
            url_encode(q),
            url_encode(&group)
        );
    }
    html.push_str("</table>");
    for label in &labels {
        html.push_str(&line_chart(label, result));
    }
    for heatmap in result.heatmaps.iter().take(4) {
        html.push_str(&heatmap_svg(q, heatmap, query.granularity));
    }
    html
}

const CHART_W: f64 = 760.0;
const CHART_H: f64 = 180.0;

fn line_chart(label: &str, result: &QueryResult) -> String {
    let groups: Vec<String> =
        result.results.iter().take(8).map(|r| Json::Object(r.group.clone()).to_string()).collect();
    let (t0, t1) = (result.meta.start_time as f64, result.meta.end_time as f64);
    let max = result
        .series
        .iter()
        .filter_map(|p| p.values.get(label).and_then(Json::as_f64))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut svg = format!(
        "<h2>{}</h2><svg width=\"{CHART_W}\" height=\"{}\" class=panel role=img aria-label=\"{} over time\">",
        esc(label),
        CHART_H + 20.0,
        esc(label)
    );
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"12\">{}</text><text x=\"4\" y=\"{}\">0</text>",
        number(&Json::from(max)),
        CHART_H
    );
    for (g, group) in groups.iter().enumerate() {
        let points: Vec<String> = result
            .series
            .iter()
            .filter(|p| &Json::Object(p.group.clone()).to_string() == group)
            .filter_map(|p| {
                let v = p.values.get(label)?.as_f64()?;
                let x = 40.0 + (p.time as f64 - t0) / (t1 - t0).max(1.0) * (CHART_W - 50.0);
                let y = CHART_H - v / max * (CHART_H - 20.0);
                Some(format!("{x:.1},{y:.1}"))
            })
            .collect();
        if points.len() == 1 {
            let (x, y) = points[0].split_once(',').unwrap_or(("0", "0"));
            let _ = write!(svg, "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{}\"/>", nth_color(g));
        } else if !points.is_empty() {
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                nth_color(g),
                points.join(" ")
            );
        }
        let name = result.results.get(g).map(|r| group_label(&r.group)).unwrap_or_default();
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" fill=\"{}\" style=\"fill:{}\">● {}</text>",
            50.0 + g as f64 * 120.0,
            CHART_H + 16.0,
            nth_color(g),
            nth_color(g),
            esc(&name.chars().take(16).collect::<String>())
        );
    }
    svg.push_str("</svg>");
    svg
}

fn heatmap_svg(q: &str, heatmap: &Heatmap, granularity: i64) -> String {
    let column = heatmap.calculation.trim_start_matches("HEATMAP(").trim_end_matches(')');
    let rows = heatmap.value_bounds.len().saturating_sub(1).max(1);
    let cols = heatmap.times.len().max(1);
    let max = heatmap.counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    let (cw, ch) = ((CHART_W - 60.0) / cols as f64, (CHART_H - 10.0) / rows as f64);
    let mut svg = format!(
        "<h2>{} · {}</h2><svg width=\"{CHART_W}\" height=\"{}\" class=panel role=img aria-label=\"heatmap\">",
        esc(&heatmap.calculation),
        esc(&group_label(&heatmap.group)),
        CHART_H + 10.0
    );
    let top = heatmap.value_bounds.last().copied().unwrap_or(0.0);
    let _ = write!(
        svg,
        "<text x=\"2\" y=\"12\">{}</text><text x=\"2\" y=\"{}\">{}</text>",
        number(&Json::from(top)),
        CHART_H,
        number(&Json::from(heatmap.value_bounds[0]))
    );
    let group = Json::Object(heatmap.group.clone()).to_string();
    for (t, counts) in heatmap.counts.iter().enumerate() {
        for (v, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let intensity = 0.25 + 0.75 * count as f64 / max as f64;
            let (x, y) = (55.0 + t as f64 * cw, CHART_H - (v + 1) as f64 * ch);
            let cell = format!(
                "{},{},{},{},{}",
                heatmap.times[t],
                heatmap.times[t] + granularity,
                column,
                heatmap.value_bounds[v],
                heatmap.value_bounds[v + 1]
            );
            let _ = write!(
                svg,
                "<a href=\"/query/traces?q={}&group={}&cell={}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#4f7cff\" opacity=\"{intensity:.2}\"><title>{count} spans, {}–{}</title></rect></a>",
                url_encode(q),
                url_encode(&group),
                url_encode(&cell),
                cw.max(1.0),
                ch.max(1.0),
                number(&Json::from(heatmap.value_bounds[v])),
                number(&Json::from(heatmap.value_bounds[v + 1]))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// `?q=&group=&cell=`.
#[derive(Debug, Deserialize)]
pub struct TracesParams {
    q: String,
    group: Option<String>,
    cell: Option<String>,
}

/// `GET /query/traces`: the traces behind a result row or heatmap cell.
pub async fn matching(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<TracesParams>,
) -> Response {
    let spec: Json = serde_json::from_str(&params.q).unwrap_or(Json::Null);
    let query = match Query::parse(&spec, now_s()) {
        Ok(q) => q,
        Err(e) => {
            return page("Query", &format!("<div class=error>{}</div>", esc(&e.to_string()))).into_response();
        }
    };
    let group: Map<String, Json> =
        params.group.as_deref().and_then(|g| serde_json::from_str(g).ok()).unwrap_or_default();
    let cell = params.cell.as_deref().and_then(|c| {
        let parts: Vec<&str> = c.splitn(5, ',').collect();
        Some((
            parts.first()?.parse().ok()?,
            parts.get(1)?.parse().ok()?,
            parts.get(2)?.to_string(),
            parts.get(3)?.parse().ok()?,
            parts.get(4)?.parse().ok()?,
        ))
    });
    let found = state
        .with_store(move |store| {
            let cell_ref = cell
                .as_ref()
                .map(|(t0, t1, c, lo, hi): &(i64, i64, String, f64, f64)| (*t0, *t1, c.as_str(), *lo, *hi));
            let ids = query::matching_traces(store, &query, &group, cell_ref, 100)?;
            Ok::<_, AppError>(
                ids.into_iter().map(|id| (store.trace(&id).unwrap_or_default(), id)).collect::<Vec<_>>(),
            )
        })
        .await;
    let traces = match found {
        Ok(traces) => traces,
        Err(e) => return error_page(e),
    };
    let mut body = format!(
        "<h1>Matching traces</h1><p><a href=\"/query?q={}\">← back to the query</a></p><table><tr><th>Trace</th><th>Root</th><th>Duration</th></tr>",
        url_encode(&params.q)
    );
    for (spans, id) in &traces {
        let root = spans.iter().find(|s| s.parent_id.is_none()).or(spans.first());
        let (name, duration) = root.map(|r| (r.name.clone(), ms(r.duration_ms))).unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td><a class=mono href=\"/traces/{id}\">{id}</a></td><td>{}</td><td>{duration}</td></tr>",
            esc(&name)
        );
    }
    body.push_str("</table>");
    page("Matching traces", &body).into_response()
}

/// The save form.
#[derive(Debug, Deserialize)]
pub struct SaveForm {
    name: String,
    q: String,
}

/// `POST /queries`: saves a query from the page, then shows it.
pub async fn save(State(state): State<AppState>, Form(form): Form<SaveForm>) -> Response {
    let spec: Json = match serde_json::from_str(&form.q) {
        Ok(s) => s,
        Err(e) => {
            return page(
                "Query",
                &format!("<div class=error>The query is not JSON: {}</div>", esc(&e.to_string())),
            )
            .into_response();
        }
    };
    if let Err(e) = Query::parse(&spec, now_s()) {
        return page(
            "Query",
            &format!("<div class=error><b>{}</b>: {}</div>", esc(&e.field), esc(&e.reason)),
        )
        .into_response();
    }
    let name = form.name.trim();
    let name = if name.is_empty() { "Untitled" } else { name };
    let name = name.to_owned();
    if let Err(e) = state.with_store(move |store| store.save_query(&name, &spec)).await {
        return error_page(e);
    }
    Redirect::to(&format!("/query?q={}", url_encode(&form.q))).into_response()
}
