//! Web vitals: the P75 of each vital by page route, rated by Google's thresholds, with the
//! share of good / needs-improvement / poor reports, each row linking to example traces.
//!
//! It is just spans: the view runs two Honeycomb query specifications through the query
//! engine — `P75(browser.web_vital.value)` and `COUNT` by `browser.web_vital.name` and
//! `url.path`, and `COUNT` by the rating too — and each table links to the first as a query.

use std::fmt::Write;

use axum::extract::{Query as QueryParams, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::{error_page, esc, page, url_encode};
use crate::AppState;
use crate::api::now_s;
use crate::error::AppError;
use crate::query::{self, Query, QueryResult};
use crate::store::value_text;

/// The vitals in display order: name, label, unit, Google's good and poor thresholds.
pub const VITALS: &[(&str, &str, Unit, f64, f64)] = &[
    ("lcp", "Largest Contentful Paint", Unit::Ms, 2500.0, 4000.0),
    ("inp", "Interaction to Next Paint", Unit::Ms, 200.0, 500.0),
    ("cls", "Cumulative Layout Shift", Unit::Score, 0.1, 0.25),
    ("fcp", "First Contentful Paint", Unit::Ms, 1800.0, 3000.0),
    ("ttfb", "Time to First Byte", Unit::Ms, 800.0, 1800.0),
];

/// How a vital's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// A unitless score (CLS).
    Score,
}

/// The ratings, as `browser.web_vital.rating` spells them, and their colours.
const RATINGS: [(&str, &str); 3] =
    [("good", "#17c964"), ("needs-improvement", "#f5a524"), ("poor", "#f31260")];

/// The default time range: a week.
const DEFAULT_RANGE_S: i64 = 7 * 86_400;

/// `?range=<seconds>`.
#[derive(Debug, Deserialize)]
pub struct VitalsParams {
    range: Option<i64>,
}

/// `rating` of `value` by `(good, poor)`: at most good is good, above poor is poor.
pub fn rating(value: f64, good: f64, poor: f64) -> &'static str {
    if value > poor {
        "poor"
    } else if value > good {
        "needs-improvement"
    } else {
        "good"
    }
}

/// The P75 query (by vital and route) the view is built on: a permalink in the query builder.
pub fn p75_spec(range: i64) -> Json {
    json!({
        "calculations": [{"op": "P75", "column": "browser.web_vital.value"}, {"op": "COUNT"}],
        "filters": [{"column": "browser.web_vital.name", "op": "exists"}],
        "breakdowns": ["browser.web_vital.name", "url.path"],
        "orders": [{"op": "COUNT", "order": "descending"}],
        "time_range": range,
        "limit": 1000
    })
}

fn ratings_spec(range: i64) -> Json {
    json!({
        "calculations": [{"op": "COUNT"}],
        "filters": [{"column": "browser.web_vital.name", "op": "exists"}],
        "breakdowns": ["browser.web_vital.name", "url.path", "browser.web_vital.rating"],
        "time_range": range,
        "limit": 1000
    })
}

/// One row: a vital on a route.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `url.path` (`—` when the spans had none).
    pub route: String,
    /// The P75 value.
    pub p75: Option<f64>,
    /// Reports.
    pub count: u64,
    /// Reports rated good, needs-improvement, poor.
    pub ratings: [u64; 3],
    /// The breakdown group, for the example-traces link.
    group: Map<String, Json>,
}

fn text(group: &Map<String, Json>, key: &str) -> String {
    group.get(key).filter(|v| !v.is_null()).map(value_text).unwrap_or_else(|| "—".into())
}

/// A group's `COUNT` (a JSON number, integral or not).
fn count_of(values: &Map<String, Json>) -> u64 {
    values.get("COUNT").and_then(Json::as_f64).map(|c| c.max(0.0) as u64).unwrap_or(0)
}

/// The rows of each vital, from the two queries' results.
pub fn rows(p75: &QueryResult, ratings: &QueryResult) -> Vec<(&'static str, Vec<Row>)> {
    VITALS
        .iter()
        .map(|(name, ..)| {
            let mut rows: Vec<Row> = p75
                .results
                .iter()
                .filter(|g| g.group.get("browser.web_vital.name").and_then(Json::as_str) == Some(name))
                .map(|g| {
                    let route = text(&g.group, "url.path");
                    let mut counts = [0u64; 3];
                    for r in &ratings.results {
                        let same = r.group.get("browser.web_vital.name")
                            == g.group.get("browser.web_vital.name")
                            && r.group.get("url.path") == g.group.get("url.path");
                        let rating = r.group.get("browser.web_vital.rating").and_then(Json::as_str);
                        if let (true, Some(i)) = (same, RATINGS.iter().position(|(n, _)| Some(*n) == rating))
                        {
                            counts[i] += count_of(&r.values);
                        }
                    }
                    Row {
                        route,
                        p75: g.values.get("P75(browser.web_vital.value)").and_then(Json::as_f64),
                        count: count_of(&g.values),
                        ratings: counts,
                        group: g.group.clone(),
                    }
                })
                .collect();
            rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.route.cmp(&b.route)));
            (*name, rows)
        })
        .collect()
}

fn value_text_of(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Ms if value >= 1000.0 => format!("{:.2} s", value / 1000.0),
        Unit::Ms => format!("{value:.0} ms"),
        Unit::Score => format!("{value:.3}"),
    }
}

/// The shares as one stacked bar.
fn shares_bar(ratings: &[u64; 3]) -> String {
    let total: u64 = ratings.iter().sum();
    let mut svg = String::from("<svg width=\"260\" height=\"18\" role=\"img\">");
    let mut x = 0.0;
    for (i, (name, colour)) in RATINGS.iter().enumerate() {
        if total == 0 || ratings[i] == 0 {
            continue;
        }
        let width = 260.0 * ratings[i] as f64 / total as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.2}\" y=\"2\" width=\"{width:.2}\" height=\"14\" fill=\"{colour}\"><title>{name}: {} of {total}</title></rect>",
            ratings[i]
        );
        x += width;
    }
    svg.push_str("</svg>");
    svg
}

/// Where P75 falls on the vital's scale: good, needs-improvement and poor bands, and a marker.
fn bands(unit: Unit, good: f64, poor: f64, p75: f64) -> String {
    let max = (poor * 1.5).max(p75 * 1.05);
    let x = |v: f64| 200.0 * (v / max).clamp(0.0, 1.0);
    let mut svg = String::from("<svg width=\"200\" height=\"18\" role=\"img\">");
    let mut from = 0.0;
    for ((name, colour), to) in RATINGS.iter().zip([good, poor, max]) {
        let _ = write!(
            svg,
            "<rect x=\"{:.2}\" y=\"6\" width=\"{:.2}\" height=\"6\" fill=\"{colour}\" opacity=\".45\"><title>{name} up to {}</title></rect>",
            x(from),
            x(to) - x(from),
            value_text_of(unit, to)
        );
        from = to;
    }
    let _ = write!(
        svg,
        "<rect x=\"{:.2}\" y=\"1\" width=\"3\" height=\"16\" fill=\"#e6e9f2\"><title>P75 {}</title></rect></svg>",
        (x(p75) - 1.5).max(0.0),
        value_text_of(unit, p75)
    );
    svg
}

/// `GET /vitals`.
pub async fn vitals_page(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<VitalsParams>,
) -> Response {
    let range = params.range.unwrap_or(DEFAULT_RANGE_S).clamp(60, query::MAX_TIME_RANGE);
    let p75 = p75_spec(range);
    let (a, b) = match (Query::parse(&p75, now_s()), Query::parse(&ratings_spec(range), now_s())) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error_page(AppError::Query(e)),
    };
    let results = state
        .with_store(move |store| Ok::<_, AppError>((query::run(store, &a)?, query::run(store, &b)?)))
        .await;
    let (p75_result, ratings_result) = match results {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let spec_text = p75.to_string();
    let mut body = format!(
        "<h1>Web vitals</h1><p class=muted>P75 of each vital by route over the last {}, rated by Google's thresholds; \
         the bar is the share of reports rated good, needs improvement and poor. It is just spans: \
         <a href=\"/query?q={}\">open this as a query</a>.</p>",
        range_text(range),
        url_encode(&spec_text)
    );
    let all_rows = rows(&p75_result, &ratings_result);
    if all_rows.iter().all(|(_, rows)| rows.is_empty()) {
        body.push_str(
            "<div class=panel>No web vitals yet. Pages with otel-web's <span class=mono>web-vitals</span> feature report them when they are hidden.</div>",
        );
        return page("Web vitals", &body).into_response();
    }
    for (name, rows) in all_rows {
        let Some((_, label, unit, good, poor)) = VITALS.iter().find(|v| v.0 == name).copied() else {
            continue;
        };
        let _ = write!(
            body,
            "<h2 id=\"{name}\">{} <span class=muted>· {label} · good ≤ {}, poor &gt; {}</span></h2>",
            name.to_uppercase(),
            value_text_of(unit, good),
            value_text_of(unit, poor)
        );
        if rows.is_empty() {
            body.push_str("<p class=muted>No reports.</p>");
            continue;
        }
        body.push_str(
            "<table class=vitals><tr><th>Route</th><th>P75</th><th>Rating</th><th>On the scale</th><th>Good / NI / poor</th><th>Reports</th><th>Examples</th></tr>",
        );
        for row in rows {
            let total: u64 = row.ratings.iter().sum();
            let share =
                |i: usize| if total == 0 { 0.0 } else { 100.0 * row.ratings[i] as f64 / total as f64 };
            let (p75_cell, rating_cell, scale) = match row.p75 {
                Some(p) => {
                    let r = rating(p, good, poor);
                    let colour = RATINGS.iter().find(|(n, _)| *n == r).map(|(_, c)| *c).unwrap_or("#7a8b99");
                    (
                        value_text_of(unit, p),
                        format!("<span class=pill style=\"background:{colour}\">{r}</span>"),
                        bands(unit, good, poor, p),
                    )
                }
                None => ("—".into(), String::new(), String::new()),
            };
            let group = Json::Object(row.group.clone()).to_string();
            let _ = write!(
                body,
                "<tr><td class=mono>{route}</td><td class=p75>{p75_cell}</td><td>{rating_cell}</td><td>{scale}</td>\
                 <td>{bar}<div class=muted>{:.0}% · {:.0}% · {:.0}%</div></td><td>{count}</td>\
                 <td><a href=\"/query/traces?q={q}&amp;group={g}\">example traces</a></td></tr>",
                share(0),
                share(1),
                share(2),
                route = esc(&row.route),
                bar = shares_bar(&row.ratings),
                count = row.count,
                q = url_encode(&spec_text),
                g = url_encode(&group),
            );
        }
        body.push_str("</table>");
    }
    page("Web vitals", &body).into_response()
}

fn range_text(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} day{}", s / 86_400, if s == 86_400 { "" } else { "s" }),
        s if s % 3600 == 0 => format!("{} hour{}", s / 3600, if s == 3600 { "" } else { "s" }),
        s => format!("{} minutes", s / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_follow_googles_thresholds() {
        assert_eq!(rating(2500.0, 2500.0, 4000.0), "good");
        assert_eq!(rating(2501.0, 2500.0, 4000.0), "needs-improvement");
        assert_eq!(rating(4000.5, 2500.0, 4000.0), "poor");
        assert_eq!(rating(0.1, 0.1, 0.25), "good");
    }

    #[test]
    fn values_read_in_their_unit() {
        assert_eq!(value_text_of(Unit::Ms, 312.4), "312 ms");
        assert_eq!(value_text_of(Unit::Ms, 2512.0), "2.51 s");
        assert_eq!(value_text_of(Unit::Score, 0.43891), "0.439");
        assert_eq!(range_text(7 * 86_400), "7 days");
        assert_eq!(range_text(3600), "1 hour");
    }
}
