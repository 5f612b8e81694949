//! Running a [`Query`] over the store: SQLite selects the time range and the columns the query
//! names (typed columns, or `attributes ->> '$."key"'`); filters, breakdowns, calculations,
//! time series, heatmaps, havings, orders and the limit are computed here, in one pass.
//!
//! Semantics, where specifications leave room:
//! - Percentiles use the nearest-rank method: `P(q)` is the value at rank `ceil(q·n)`.
//! - Negative filters (`!=`, `does-not-contain`, `does-not-start-with`, `not-in`) match rows
//!   that *have* the column; combine with `does-not-exist` to include rows that lack it.
//! - Comparisons are numeric when both sides are numbers, otherwise on the text.
//!
//! [`Query::parse`] bounds the time range and the granularity; this module does not rely on it
//! (a `Query` can be built by hand): its time arithmetic saturates and never divides by zero, so
//! no query panics while the store is held.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::types::ValueRef;
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::spec::{Calculation, FilterOp, MAX_BUCKETS, Op, OrderBy, Query};
use crate::store::{Store, StoreError};

/// A column value in a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// The row lacks the column.
    Null,
    /// An integer (booleans are 0/1).
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Text(String),
}

impl Cell {
    fn from_sql(value: ValueRef<'_>) -> Self {
        match value {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Int(i),
            ValueRef::Real(f) => Cell::Float(f),
            ValueRef::Text(t) | ValueRef::Blob(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        }
    }

    /// The value as a number, if it is one (numeric text counts).
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            Cell::Text(t) => t.trim().parse().ok(),
            Cell::Null => None,
        }
    }

    /// The value as text.
    pub fn text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) => Some(f.to_string()),
            Cell::Text(t) => Some(t.clone()),
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> Json {
        match self {
            Cell::Null => Json::Null,
            Cell::Int(i) => Json::from(*i),
            Cell::Float(f) => serde_json::Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
            Cell::Text(t) => Json::from(t.clone()),
        }
    }
}

/// The SQL for a column: a typed column, or an attribute looked up by a bound JSON path.
fn column_sql(column: &str) -> (String, Option<String>) {
    let typed = match column {
        "duration_ms" => "duration_ms",
        "name" => "name",
        "service.name" => "service",
        "trace.trace_id" => "trace_id",
        "trace.span_id" => "span_id",
        "trace.parent_id" => "parent_id",
        "span.status_code" => "status_code",
        "span.kind" => {
            "CASE kind WHEN 1 THEN 'internal' WHEN 2 THEN 'server' WHEN 3 THEN 'client' \
             WHEN 4 THEN 'producer' WHEN 5 THEN 'consumer' ELSE 'unspecified' END"
        }
        "error" => "(status_code = 2)",
        _ => return ("attributes ->> ?".into(), Some(json_path(column))),
    };
    (typed.into(), None)
}

/// The SQLite JSON path of an attribute key: `$."key"`, with the key escaped as a JSON string.
/// SQLite reads the path as a C string, so a NUL must be escaped too (a raw one ended the path
/// early: "bad JSON path", a 500).
fn json_path(key: &str) -> String {
    let mut path = String::with_capacity(key.len() + 4);
    path.push_str("$.\"");
    for c in key.chars() {
        match c {
            '"' => path.push_str("\\\""),
            '\\' => path.push_str("\\\\"),
            c if c.is_control() => path.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => path.push(c),
        }
    }
    path.push('"');
    path
}

/// The columns a query reads, deduplicated, `trace.trace_id` first.
fn columns(query: &Query) -> Vec<String> {
    let mut columns = vec!["trace.trace_id".to_owned()];
    let mut add = |c: &str| {
        if !columns.iter().any(|x| x == c) {
            columns.push(c.to_owned());
        }
    };
    query.breakdowns.iter().for_each(|c| add(c));
    query.calculations.iter().filter_map(|c| c.column.as_deref()).for_each(&mut add);
    query.filters.iter().for_each(|f| add(&f.column));
    columns
}

/// Calls `row` with each span's start (ns) and cells, for every span in the time range.
fn scan(
    store: &Store,
    query: &Query,
    columns: &[String],
    mut row: impl FnMut(i64, &[Cell]),
) -> Result<u64, StoreError> {
    let mut select = String::from("SELECT start_ns");
    let mut paths = Vec::new();
    for column in columns {
        let (sql, path) = column_sql(column);
        match path {
            Some(path) => {
                paths.push(path);
                select.push_str(&format!(", attributes ->> ?{}", paths.len() + 2));
            }
            None => {
                select.push_str(", ");
                select.push_str(&sql);
            }
        }
    }
    select.push_str(" FROM spans WHERE start_ns >= ?1 AND start_ns < ?2");
    store.read(|conn| {
        let mut stmt = conn.prepare(&select)?;
        let mut params: Vec<rusqlite::types::Value> =
            vec![seconds_to_ns(query.start_time).into(), seconds_to_ns(query.end_time).into()];
        params.extend(paths.iter().map(|p| rusqlite::types::Value::from(p.clone())));
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut cells = vec![Cell::Null; columns.len()];
        let mut examined = 0u64;
        while let Some(r) = rows.next()? {
            examined += 1;
            let start: i64 = r.get(0)?;
            for (i, cell) in cells.iter_mut().enumerate() {
                *cell = Cell::from_sql(r.get_ref(i + 1)?);
            }
            row(start, &cells);
        }
        Ok(examined)
    })
}

/// Seconds to nanoseconds, saturating.
fn seconds_to_ns(seconds: i64) -> i64 {
    seconds.saturating_mul(1_000_000_000)
}

fn compare(cell: &Cell, value: &Json) -> Option<std::cmp::Ordering> {
    match (cell.number(), value.as_f64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))) {
        (Some(a), Some(b)) if !matches!(cell, Cell::Text(_)) || value.is_number() => a.partial_cmp(&b),
        _ => {
            let a = cell.text()?;
            let b = match value {
                Json::String(s) => s.clone(),
                Json::Bool(b) => (*b as i64).to_string(),
                other => other.to_string(),
            };
            Some(a.cmp(&b))
        }
    }
}

fn filter_matches(op: FilterOp, cell: &Cell, value: &Json) -> bool {
    use std::cmp::Ordering::*;
    let present = !matches!(cell, Cell::Null);
    let text = || cell.text().unwrap_or_default();
    let needle = || match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let in_list =
        || value.as_array().is_some_and(|items| items.iter().any(|v| compare(cell, v) == Some(Equal)));
    match op {
        FilterOp::Exists => present,
        FilterOp::DoesNotExist => !present,
        _ if !present => false,
        FilterOp::Compare(c) => c.holds(compare(cell, value)),
        FilterOp::Contains => text().contains(&needle()),
        FilterOp::DoesNotContain => !text().contains(&needle()),
        FilterOp::StartsWith => text().starts_with(&needle()),
        FilterOp::DoesNotStartWith => !text().starts_with(&needle()),
        FilterOp::In => in_list(),
        FilterOp::NotIn => !in_list(),
    }
}

#[derive(Debug, Clone)]
enum Acc {
    Count(u64),
    Sum(f64),
    Avg(f64, u64),
    Min(Option<f64>),
    Max(Option<f64>),
    Distinct(HashSet<String>),
    Values(Vec<f64>),
}

impl Acc {
    fn new(op: Op) -> Self {
        match op {
            Op::Count => Acc::Count(0),
            Op::Sum => Acc::Sum(0.0),
            Op::Avg => Acc::Avg(0.0, 0),
            Op::Min => Acc::Min(None),
            Op::Max => Acc::Max(None),
            Op::CountDistinct => Acc::Distinct(HashSet::new()),
            Op::Percentile(_) | Op::Heatmap => Acc::Values(Vec::new()),
        }
    }

    fn add(&mut self, cell: Option<&Cell>) {
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Distinct(set) => {
                if let Some(t) = cell.and_then(Cell::text) {
                    set.insert(t);
                }
            }
            _ => {
                let Some(x) = cell.and_then(Cell::number).filter(|x| x.is_finite()) else { return };
                match self {
                    Acc::Sum(s) => *s += x,
                    Acc::Avg(s, n) => {
                        *s += x;
                        *n += 1;
                    }
                    Acc::Min(m) => *m = Some(m.map_or(x, |m| m.min(x))),
                    Acc::Max(m) => *m = Some(m.map_or(x, |m| m.max(x))),
                    Acc::Values(v) => v.push(x),
                    Acc::Count(_) | Acc::Distinct(_) => {}
                }
            }
        }
    }

    fn value(&mut self, op: Op) -> Option<f64> {
        match (self, op) {
            (Acc::Count(n), _) => Some(*n as f64),
            (Acc::Sum(s), _) => Some(*s),
            (Acc::Avg(s, n), _) => (*n > 0).then(|| *s / *n as f64),
            (Acc::Min(m), _) | (Acc::Max(m), _) => *m,
            (Acc::Distinct(set), _) => Some(set.len() as f64),
            (Acc::Values(v), Op::Percentile(q)) => {
                if v.is_empty() {
                    return None;
                }
                let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
                let (_, nth, _) = v.select_nth_unstable_by(rank - 1, f64::total_cmp);
                Some(*nth)
            }
            (Acc::Values(v), _) => Some(v.len() as f64),
        }
    }
}

/// One group's results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupResult {
    /// Breakdown column → value.
    pub group: Map<String, Json>,
    /// Calculation label → value (`null` when there was nothing to compute on).
    pub values: Map<String, Json>,
}

/// One point of a time series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesPoint {
    /// Bucket start, seconds since the epoch.
    pub time: i64,
    /// The group.
    pub group: Map<String, Json>,
    /// Calculation label → value.
    pub values: Map<String, Json>,
}

/// A heatmap: counts of values per time bucket and value bucket.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Heatmap {
    /// `HEATMAP(column)`.
    pub calculation: String,
    /// The group.
    pub group: Map<String, Json>,
    /// Value bucket bounds (`n + 1` of them for `n` buckets).
    pub value_bounds: Vec<f64>,
    /// Time bucket starts, seconds.
    pub times: Vec<i64>,
    /// `counts[time][value]`.
    pub counts: Vec<Vec<u64>>,
}

/// About the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Meta {
    /// Spans in the time range.
    pub rows_examined: u64,
    /// Spans that passed the filters.
    pub rows_matched: u64,
    /// Start, seconds.
    pub start_time: i64,
    /// End, seconds.
    pub end_time: i64,
    /// Series bucket, seconds.
    pub granularity: i64,
}

/// Everything a query returns.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueryResult {
    /// Groups, filtered by havings, ordered, limited.
    pub results: Vec<GroupResult>,
    /// Per time bucket, for the groups in `results`.
    pub series: Vec<SeriesPoint>,
    /// One per HEATMAP calculation and group in `results`.
    pub heatmaps: Vec<Heatmap>,
    /// About the run.
    pub meta: Meta,
}

/// Heatmap value buckets.
pub const HEATMAP_BUCKETS: usize = 20;

struct GroupAcc {
    cells: Vec<Cell>,
    totals: Vec<Acc>,
    series: BTreeMap<i64, Vec<Acc>>,
    heat: Vec<Vec<(i64, f64)>>,
}

/// Whether a row passes the query's filters; `positions` maps each filter to its cell.
fn passes(query: &Query, positions: &[usize], cells: &[Cell]) -> bool {
    if query.filters.is_empty() {
        return true;
    }
    let mut results =
        query.filters.iter().zip(positions).map(|(f, &i)| filter_matches(f.op, &cells[i], &f.value));
    if query.filter_or { results.any(|m| m) } else { results.all(|m| m) }
}

fn position(columns: &[String], column: &str) -> usize {
    columns.iter().position(|c| c == column).unwrap_or(0)
}

/// Runs `query`.
pub fn run(store: &Store, query: &Query) -> Result<QueryResult, StoreError> {
    let columns = columns(query);
    let filter_at: Vec<usize> = query.filters.iter().map(|f| position(&columns, &f.column)).collect();
    let group_at: Vec<usize> = query.breakdowns.iter().map(|b| position(&columns, b)).collect();
    let calc_at: Vec<Option<usize>> =
        query.calculations.iter().map(|c| c.column.as_deref().map(|col| position(&columns, col))).collect();
    let heat_calcs: Vec<usize> =
        query.calculations.iter().enumerate().filter(|(_, c)| c.op == Op::Heatmap).map(|(i, _)| i).collect();
    let mut groups: HashMap<String, GroupAcc> = HashMap::new();
    let mut matched = 0u64;
    let granularity = query.granularity.max(1);
    let granularity_ns = seconds_to_ns(granularity);
    let origin_ns = seconds_to_ns(query.start_time);
    let examined = scan(store, query, &columns, |start, cells| {
        if !passes(query, &filter_at, cells) {
            return;
        }
        matched += 1;
        let key: String =
            group_at.iter().map(|&i| cells[i].to_json().to_string()).collect::<Vec<_>>().join("\u{1f}");
        let group = groups.entry(key).or_insert_with(|| GroupAcc {
            cells: group_at.iter().map(|&i| cells[i].clone()).collect(),
            totals: query.calculations.iter().map(|c| Acc::new(c.op)).collect(),
            series: BTreeMap::new(),
            heat: vec![Vec::new(); heat_calcs.len()],
        });
        let bucket = query
            .start_time
            .saturating_add((start.saturating_sub(origin_ns) / granularity_ns).saturating_mul(granularity));
        let series = group
            .series
            .entry(bucket)
            .or_insert_with(|| query.calculations.iter().map(|c| Acc::new(c.op)).collect());
        for (i, at) in calc_at.iter().enumerate() {
            let cell = at.map(|a| &cells[a]);
            group.totals[i].add(cell);
            series[i].add(cell);
        }
        for (h, &calc) in heat_calcs.iter().enumerate() {
            if let Some(x) = calc_at[calc].and_then(|a| cells[a].number()).filter(|x| x.is_finite()) {
                group.heat[h].push((bucket, x));
            }
        }
    })?;

    // Final values per group, then havings, orders, limit.
    let mut finished: Vec<(GroupAcc, Vec<Option<f64>>)> = groups
        .into_values()
        .map(|mut g| {
            let values =
                query.calculations.iter().zip(g.totals.iter_mut()).map(|(c, acc)| acc.value(c.op)).collect();
            (g, values)
        })
        .collect();
    let calc_index = |c: &Calculation| query.calculations.iter().position(|x| x == c).unwrap_or(0);
    finished.retain(|(_, values)| {
        query
            .havings
            .iter()
            .all(|h| values[calc_index(&h.calculation)].is_some_and(|v| h.op.test(v, h.value)))
    });
    let default_order;
    let orders = if query.orders.is_empty() {
        let first = query.calculations.iter().find(|c| c.op != Op::Heatmap).cloned();
        default_order = first
            .map(|c| super::spec::Order { by: OrderBy::Calculation(c), descending: true })
            .into_iter()
            .collect::<Vec<_>>();
        &default_order
    } else {
        &query.orders
    };
    finished.sort_by(|(ga, va), (gb, vb)| {
        for order in orders {
            let ordering = match &order.by {
                OrderBy::Calculation(c) => {
                    let i = calc_index(c);
                    va[i].unwrap_or(f64::NEG_INFINITY).total_cmp(&vb[i].unwrap_or(f64::NEG_INFINITY))
                }
                OrderBy::Column(column) => {
                    let i = query.breakdowns.iter().position(|b| b == column).unwrap_or(0);
                    cell_order(&ga.cells[i], &gb.cells[i])
                }
            };
            let ordering = if order.descending { ordering.reverse() } else { ordering };
            if ordering != std::cmp::Ordering::Equal {
                return ordering;
            }
        }
        // Stable, deterministic output: the group values break ties.
        ga.cells
            .iter()
            .zip(&gb.cells)
            .map(|(a, b)| cell_order(a, b))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    finished.truncate(query.limit);

    let group_json = |cells: &[Cell]| -> Map<String, Json> {
        query.breakdowns.iter().zip(cells).map(|(b, c)| (b.clone(), c.to_json())).collect()
    };
    let values_json = |values: &[Option<f64>]| -> Map<String, Json> {
        query
            .calculations
            .iter()
            .zip(values)
            .filter(|(c, _)| c.op != Op::Heatmap)
            .map(|(c, v)| {
                (c.label(), v.and_then(serde_json::Number::from_f64).map(Json::Number).unwrap_or(Json::Null))
            })
            .collect()
    };
    let times: Vec<i64> = (query.start_time..query.end_time)
        .step_by(usize::try_from(granularity).unwrap_or(usize::MAX))
        .take(MAX_BUCKETS as usize + 1)
        .collect();
    let mut results = Vec::new();
    let mut series = Vec::new();
    let mut heatmaps = Vec::new();
    for (mut group, values) in finished {
        let group_map = group_json(&group.cells);
        for (time, accs) in group.series.iter_mut() {
            let point: Vec<Option<f64>> =
                query.calculations.iter().zip(accs.iter_mut()).map(|(c, a)| a.value(c.op)).collect();
            series.push(SeriesPoint { time: *time, group: group_map.clone(), values: values_json(&point) });
        }
        for (h, &calc) in heat_calcs.iter().enumerate() {
            heatmaps.push(heatmap(
                &query.calculations[calc].label(),
                group_map.clone(),
                &times,
                granularity,
                &group.heat[h],
            ));
        }
        results.push(GroupResult { group: group_map, values: values_json(&values) });
    }
    series.sort_by_key(|p| p.time);
    Ok(QueryResult {
        results,
        series,
        heatmaps,
        meta: Meta {
            rows_examined: examined,
            rows_matched: matched,
            start_time: query.start_time,
            end_time: query.end_time,
            granularity: query.granularity,
        },
    })
}

fn cell_order(a: &Cell, b: &Cell) -> std::cmp::Ordering {
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.text().cmp(&b.text()),
    }
}

fn heatmap(
    label: &str,
    group: Map<String, Json>,
    times: &[i64],
    granularity: i64,
    points: &[(i64, f64)],
) -> Heatmap {
    let (min, max) =
        points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, x)| (lo.min(*x), hi.max(*x)));
    let (min, max) = if points.is_empty() {
        (0.0, 1.0)
    } else if max > min {
        (min, max)
    } else {
        (min, min + 1.0)
    };
    let width = (max - min) / HEATMAP_BUCKETS as f64;
    let value_bounds: Vec<f64> = (0..=HEATMAP_BUCKETS).map(|i| min + width * i as f64).collect();
    let mut counts = vec![vec![0u64; HEATMAP_BUCKETS]; times.len()];
    let first = times.first().copied().unwrap_or(0);
    for (time, x) in points {
        let t = usize::try_from(time.saturating_sub(first) / granularity.max(1)).unwrap_or(usize::MAX);
        let v = (((x - min) / width) as usize).min(HEATMAP_BUCKETS - 1);
        if let Some(row) = counts.get_mut(t) {
            row[v] += 1;
        }
    }
    Heatmap { calculation: label.to_owned(), group, value_bounds, times: times.to_vec(), counts }
}

/// Trace ids (newest first) of the spans that a result row stands for: the query's filters plus
/// `group`'s breakdown values, optionally within a heatmap cell (`[t0, t1)` seconds and
/// `[lo, hi]` of the heatmap's column).
pub fn matching_traces(
    store: &Store,
    query: &Query,
    group: &Map<String, Json>,
    cell: Option<(i64, i64, &str, f64, f64)>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut columns = columns(query);
    if let Some((_, _, column, _, _)) = cell
        && !columns.iter().any(|c| c == column)
    {
        columns.push(column.to_owned());
    }
    let filter_at: Vec<usize> = query.filters.iter().map(|f| position(&columns, &f.column)).collect();
    let wanted: Vec<(usize, Json)> = group
        .iter()
        .filter_map(|(k, v)| columns.iter().position(|c| c == k).map(|i| (i, v.clone())))
        .collect();
    let cell_at = cell.map(|(t0, t1, column, lo, hi)| {
        (seconds_to_ns(t0), seconds_to_ns(t1), position(&columns, column), lo, hi)
    });
    let mut found: Vec<(i64, String)> = Vec::new();
    scan(store, query, &columns, |start, cells| {
        if !passes(query, &filter_at, cells) || !wanted.iter().all(|(i, v)| &cells[*i].to_json() == v) {
            return;
        }
        if let Some((t0, t1, at, lo, hi)) = cell_at
            && !(start >= t0 && start < t1 && cells[at].number().is_some_and(|x| x >= lo && x <= hi))
        {
            return;
        }
        if let Cell::Text(trace) = &cells[0] {
            found.push((start, trace.clone()));
        }
    })?;
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut seen = HashSet::new();
    Ok(found.into_iter().filter(|(_, t)| seen.insert(t.clone())).map(|(_, t)| t).take(limit).collect())
}
