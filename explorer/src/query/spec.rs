//! The query specification — the shape Honeycomb's Query API takes — parsed into a validated
//! [`Query`]. Errors name the offending field (`calculations[1].op`).
//!
//! Limits (each refused with a [`QueryError`], 400 at the API):
//! - `time_range`, and `end_time − start_time`, from 1 s to [`MAX_TIME_RANGE`];
//! - `start_time` and `end_time` from 0 to [`MAX_TIMESTAMP`] (the last second whose nanoseconds fit
//!   in an `i64`, in 2262);
//! - `granularity` from `time range / `[`MAX_BUCKETS`] to `time range / `[`MIN_BUCKETS`] (at
//!   least 1 s), so a time series has from 10 to 1000 buckets (Honeycomb's rule);
//! - `limit` from 1 to [`MAX_LIMIT`].

use std::cmp::Ordering;

use serde_json::{Map, Value as Json};
use thiserror::Error;

/// A query the engine cannot run; `field` says where the specification is wrong.
#[derive(Debug, Error, PartialEq)]
#[error("{field}: {reason}")]
pub struct QueryError {
    /// Path of the bad field, e.g. `filters[0].op`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub reason: String,
}

fn err(field: impl Into<String>, reason: impl Into<String>) -> QueryError {
    QueryError { field: field.into(), reason: reason.into() }
}

/// A calculation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Rows.
    Count,
    /// Sum of a numeric column.
    Sum,
    /// Mean of a numeric column.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Distinct values.
    CountDistinct,
    /// A percentile (0–1), nearest rank.
    Percentile(f64),
    /// A heatmap of a numeric column over time.
    Heatmap,
}

/// The percentiles Honeycomb offers, by name.
pub const PERCENTILES: &[(&str, f64)] = &[
    ("P001", 0.001),
    ("P01", 0.01),
    ("P05", 0.05),
    ("P10", 0.10),
    ("P20", 0.20),
    ("P25", 0.25),
    ("P50", 0.50),
    ("P75", 0.75),
    ("P80", 0.80),
    ("P90", 0.90),
    ("P95", 0.95),
    ("P99", 0.99),
    ("P999", 0.999),
];

impl Op {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "COUNT" => Op::Count,
            "SUM" => Op::Sum,
            "AVG" => Op::Avg,
            "MIN" => Op::Min,
            "MAX" => Op::Max,
            "COUNT_DISTINCT" => Op::CountDistinct,
            "HEATMAP" => Op::Heatmap,
            other => Op::Percentile(PERCENTILES.iter().find(|(n, _)| *n == other)?.1),
        })
    }

    /// The op's name.
    pub fn name(&self) -> String {
        match self {
            Op::Count => "COUNT".into(),
            Op::Sum => "SUM".into(),
            Op::Avg => "AVG".into(),
            Op::Min => "MIN".into(),
            Op::Max => "MAX".into(),
            Op::CountDistinct => "COUNT_DISTINCT".into(),
            Op::Heatmap => "HEATMAP".into(),
            Op::Percentile(q) => PERCENTILES
                .iter()
                .find(|(_, v)| v == q)
                .map(|(n, _)| (*n).to_owned())
                .unwrap_or_else(|| format!("P{q}")),
        }
    }
}

/// A calculation on a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Calculation {
    /// What to compute.
    pub op: Op,
    /// On which column (`None` only for COUNT).
    pub column: Option<String>,
}

impl Calculation {
    /// The result's name: `COUNT`, `P95(duration_ms)`.
    pub fn label(&self) -> String {
        match &self.column {
            Some(c) => format!("{}({c})", self.op.name()),
            None => self.op.name(),
        }
    }
}

/// Filter operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `=`, `!=`, `>`, `>=`, `<`, `<=`
    Compare(Compare),
    /// `exists`
    Exists,
    /// `does-not-exist`
    DoesNotExist,
    /// `contains`
    Contains,
    /// `does-not-contain`
    DoesNotContain,
    /// `starts-with`
    StartsWith,
    /// `does-not-start-with`
    DoesNotStartWith,
    /// `in`
    In,
    /// `not-in`
    NotIn,
}

impl FilterOp {
    fn parse(op: &str) -> Option<Self> {
        if let Some(compare) = Compare::parse(op) {
            return Some(FilterOp::Compare(compare));
        }
        Some(match op {
            "exists" => FilterOp::Exists,
            "does-not-exist" => FilterOp::DoesNotExist,
            "contains" => FilterOp::Contains,
            "does-not-contain" => FilterOp::DoesNotContain,
            "starts-with" => FilterOp::StartsWith,
            "does-not-start-with" => FilterOp::DoesNotStartWith,
            "in" => FilterOp::In,
            "not-in" => FilterOp::NotIn,
            _ => return None,
        })
    }
}

/// A filter on a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Column.
    pub column: String,
    /// Operator.
    pub op: FilterOp,
    /// Value (a list for `in`/`not-in`; none for `exists`/`does-not-exist`).
    pub value: Json,
}

/// A comparison, in filters and in havings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl Compare {
    fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "=" => Compare::Eq,
            "!=" => Compare::Ne,
            ">" => Compare::Gt,
            ">=" => Compare::Ge,
            "<" => Compare::Lt,
            "<=" => Compare::Le,
            _ => return None,
        })
    }

    /// Whether the comparison holds for `ordering` (of the left side to the right); values that
    /// cannot be compared (`None`) satisfy only `!=`.
    pub fn holds(self, ordering: Option<Ordering>) -> bool {
        use Ordering::{Equal, Greater, Less};
        match self {
            Compare::Eq => ordering == Some(Equal),
            Compare::Ne => ordering != Some(Equal),
            Compare::Gt => ordering == Some(Greater),
            Compare::Ge => matches!(ordering, Some(Greater | Equal)),
            Compare::Lt => ordering == Some(Less),
            Compare::Le => matches!(ordering, Some(Less | Equal)),
        }
    }

    /// Applies the comparison to two numbers.
    pub fn test(&self, a: f64, b: f64) -> bool {
        self.holds(a.partial_cmp(&b))
    }
}

/// A condition on a group's calculated value.
#[derive(Debug, Clone, PartialEq)]
pub struct Having {
    /// Which calculation.
    pub calculation: Calculation,
    /// How to compare.
    pub op: Compare,
    /// With what.
    pub value: f64,
}

/// What results are sorted by.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderBy {
    /// A calculation's value.
    Calculation(Calculation),
    /// A breakdown column's value.
    Column(String),
}

/// A sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// By what.
    pub by: OrderBy,
    /// Largest first.
    pub descending: bool,
}

/// A validated query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Calculations (COUNT when none were given).
    pub calculations: Vec<Calculation>,
    /// Filters.
    pub filters: Vec<Filter>,
    /// `AND` (false) or `OR` (true).
    pub filter_or: bool,
    /// Breakdown columns.
    pub breakdowns: Vec<String>,
    /// Sort order.
    pub orders: Vec<Order>,
    /// Group conditions.
    pub havings: Vec<Having>,
    /// Result groups at most.
    pub limit: usize,
    /// Start, seconds since the epoch (inclusive).
    pub start_time: i64,
    /// End, seconds since the epoch (exclusive).
    pub end_time: i64,
    /// Time-series bucket, seconds.
    pub granularity: i64,
}

/// Largest `limit`.
pub const MAX_LIMIT: usize = 1000;
/// Default `time_range`, seconds (two hours, as Honeycomb).
pub const DEFAULT_TIME_RANGE: i64 = 7200;
/// Longest time range, seconds (366 days).
pub const MAX_TIME_RANGE: i64 = 366 * 24 * 3600;
/// Latest `start_time` / `end_time`, seconds since the epoch: its nanoseconds still fit in an `i64`.
pub const MAX_TIMESTAMP: i64 = i64::MAX / 1_000_000_000;
/// Most time-series buckets: `granularity` is at least the time range over this.
pub const MAX_BUCKETS: i64 = 1000;
/// Fewest time-series buckets (when the range allows): `granularity` is at most the time range
/// over this.
pub const MIN_BUCKETS: i64 = 10;

fn string_field<'a>(
    object: &'a Map<String, Json>,
    key: &str,
    field: &str,
) -> Result<Option<&'a str>, QueryError> {
    match object.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(field, "must be a string")),
    }
}

fn integer_field(object: &Map<String, Json>, key: &str) -> Result<Option<i64>, QueryError> {
    match object.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| err(key, "must be a whole number")),
    }
}

/// A time in seconds since the epoch, within what nanosecond timestamps can express.
fn timestamp(object: &Map<String, Json>, key: &str) -> Result<Option<i64>, QueryError> {
    match integer_field(object, key)? {
        Some(t) if !(0..=MAX_TIMESTAMP).contains(&t) => {
            Err(err(key, format!("must be from 0 to {MAX_TIMESTAMP} seconds since the epoch")))
        }
        t => Ok(t),
    }
}

fn list<'a>(object: &'a Map<String, Json>, key: &str) -> Result<&'a [Json], QueryError> {
    match object.get(key) {
        None | Some(Json::Null) => Ok(&[]),
        Some(Json::Array(items)) => Ok(items),
        Some(_) => Err(err(key, "must be a list")),
    }
}

fn calculation(value: &Json, field: &str, op_key: &str) -> Result<Calculation, QueryError> {
    let object = value.as_object().ok_or_else(|| err(field, "must be an object"))?;
    let op_name = string_field(object, op_key, &format!("{field}.{op_key}"))?
        .ok_or_else(|| err(format!("{field}.{op_key}"), "is required"))?;
    let op = Op::parse(op_name).ok_or_else(|| {
        err(format!("{field}.{op_key}"), format!("unknown calculation {op_name:?}; use COUNT, SUM, AVG, MIN, MAX, COUNT_DISTINCT, HEATMAP or P001…P999"))
    })?;
    let column = string_field(object, "column", &format!("{field}.column"))?.map(str::to_owned);
    if op != Op::Count && column.is_none() {
        return Err(err(format!("{field}.column"), format!("{} needs a column", op.name())));
    }
    Ok(Calculation { op, column: if op == Op::Count { None } else { column } })
}

impl Query {
    /// Parses and validates a specification; `now` (seconds) anchors relative time ranges.
    pub fn parse(spec: &Json, now: i64) -> Result<Self, QueryError> {
        let object = spec.as_object().ok_or_else(|| err("query", "must be a JSON object"))?;
        let mut calculations = Vec::new();
        for (i, c) in list(object, "calculations")?.iter().enumerate() {
            calculations.push(calculation(c, &format!("calculations[{i}]"), "op")?);
        }
        if calculations.is_empty() {
            calculations.push(Calculation { op: Op::Count, column: None });
        }
        let mut filters = Vec::new();
        for (i, f) in list(object, "filters")?.iter().enumerate() {
            let field = format!("filters[{i}]");
            let f = f.as_object().ok_or_else(|| err(&field, "must be an object"))?;
            let column = string_field(f, "column", &format!("{field}.column"))?
                .ok_or_else(|| err(format!("{field}.column"), "is required"))?
                .to_owned();
            let op_name = string_field(f, "op", &format!("{field}.op"))?
                .ok_or_else(|| err(format!("{field}.op"), "is required"))?;
            let op = FilterOp::parse(op_name)
                .ok_or_else(|| err(format!("{field}.op"), format!("unknown filter operator {op_name:?}")))?;
            let value = f.get("value").cloned().unwrap_or(Json::Null);
            match op {
                FilterOp::Exists | FilterOp::DoesNotExist => {}
                FilterOp::In | FilterOp::NotIn if !value.is_array() => {
                    return Err(err(format!("{field}.value"), "must be a list for in / not-in"));
                }
                FilterOp::In | FilterOp::NotIn => {}
                _ if value.is_null() || value.is_array() || value.is_object() => {
                    return Err(err(format!("{field}.value"), "must be a string, number or boolean"));
                }
                _ => {}
            }
            filters.push(Filter { column, op, value });
        }
        let filter_or = match string_field(object, "filter_combination", "filter_combination")? {
            None | Some("AND") => false,
            Some("OR") => true,
            Some(other) => {
                return Err(err("filter_combination", format!("must be AND or OR, got {other:?}")));
            }
        };
        let mut breakdowns = Vec::new();
        for (i, b) in list(object, "breakdowns")?.iter().enumerate() {
            breakdowns.push(
                b.as_str()
                    .ok_or_else(|| err(format!("breakdowns[{i}]"), "must be a column name"))?
                    .to_owned(),
            );
        }
        let mut orders = Vec::new();
        for (i, o) in list(object, "orders")?.iter().enumerate() {
            let field = format!("orders[{i}]");
            let object = o.as_object().ok_or_else(|| err(&field, "must be an object"))?;
            let descending = match string_field(object, "order", &format!("{field}.order"))? {
                None | Some("descending") => true,
                Some("ascending") => false,
                Some(other) => {
                    return Err(err(
                        format!("{field}.order"),
                        format!("must be ascending or descending, got {other:?}"),
                    ));
                }
            };
            let by = if object.contains_key("op") {
                let calc = calculation(o, &field, "op")?;
                if !calculations.contains(&calc) {
                    return Err(err(
                        format!("{field}.op"),
                        format!("{} is not one of the calculations", calc.label()),
                    ));
                }
                OrderBy::Calculation(calc)
            } else {
                let column =
                    string_field(object, "column", &format!("{field}.column"))?.ok_or_else(|| {
                        err(format!("{field}.column"), "give op (a calculation) or column (a breakdown)")
                    })?;
                if !breakdowns.iter().any(|b| b == column) {
                    return Err(err(format!("{field}.column"), format!("{column:?} is not a breakdown")));
                }
                OrderBy::Column(column.to_owned())
            };
            orders.push(Order { by, descending });
        }
        let mut havings = Vec::new();
        for (i, h) in list(object, "havings")?.iter().enumerate() {
            let field = format!("havings[{i}]");
            let calc = calculation(h, &field, "calculate_op")?;
            if !calculations.contains(&calc) {
                return Err(err(
                    format!("{field}.calculate_op"),
                    format!("{} is not one of the calculations", calc.label()),
                ));
            }
            if calc.op == Op::Heatmap {
                return Err(err(format!("{field}.calculate_op"), "HEATMAP has no single value to compare"));
            }
            let object = h.as_object().ok_or_else(|| err(&field, "must be an object"))?;
            let op = string_field(object, "op", &format!("{field}.op"))?;
            let Some(op) = op.and_then(Compare::parse) else {
                return Err(err(format!("{field}.op"), format!("must be =, !=, >, >=, < or <=, got {op:?}")));
            };
            let value = object
                .get("value")
                .and_then(Json::as_f64)
                .ok_or_else(|| err(format!("{field}.value"), "must be a number"))?;
            havings.push(Having { calculation: calc, op, value });
        }
        let limit = match integer_field(object, "limit")? {
            None => 100,
            Some(l) if l >= 1 && l as usize <= MAX_LIMIT => l as usize,
            Some(_) => return Err(err("limit", format!("must be from 1 to {MAX_LIMIT}"))),
        };
        let time_range = integer_field(object, "time_range")?;
        if time_range.is_some_and(|t| !(1..=MAX_TIME_RANGE).contains(&t)) {
            return Err(err("time_range", format!("must be from 1 to {MAX_TIME_RANGE} seconds")));
        }
        let range = time_range.unwrap_or(DEFAULT_TIME_RANGE);
        // Both operands are bounded above, so none of these overflow; checked all the same.
        let (start, end) = (timestamp(object, "start_time")?, timestamp(object, "end_time")?);
        let explicit = start.is_some() && end.is_some();
        let (start_time, end_time) = match (start, end) {
            (Some(s), Some(e)) => (Some(s), Some(e)),
            (Some(s), None) => (Some(s), s.checked_add(range)),
            (None, Some(e)) => (e.checked_sub(range), Some(e)),
            (None, None) => (now.checked_sub(range), now.checked_add(1)),
        };
        let in_range = |t: Option<i64>| t.filter(|t| (0..=MAX_TIMESTAMP).contains(t));
        let start_time = in_range(start_time).ok_or_else(|| {
            err(
                "start_time",
                format!("the query must start from 0 to {MAX_TIMESTAMP} seconds since the epoch"),
            )
        })?;
        let end_time = in_range(end_time).ok_or_else(|| {
            err("end_time", format!("the query must end from 0 to {MAX_TIMESTAMP} seconds since the epoch"))
        })?;
        if end_time <= start_time {
            return Err(err("end_time", "must be after start_time"));
        }
        let span = end_time - start_time;
        if explicit && span > MAX_TIME_RANGE {
            return Err(err(
                "end_time",
                format!("must be at most {MAX_TIME_RANGE} seconds after start_time"),
            ));
        }
        // From span / MAX_BUCKETS (rounded up) to span / MIN_BUCKETS, and at least 1 s.
        let finest = ((span + MAX_BUCKETS - 1) / MAX_BUCKETS).max(1);
        let coarsest = (span / MIN_BUCKETS).max(finest);
        let granularity = match integer_field(object, "granularity")? {
            None => (span / 60).clamp(finest, coarsest),
            Some(g) if (finest..=coarsest).contains(&g) => g,
            Some(_) => {
                return Err(err(
                    "granularity",
                    format!(
                        "must be from {finest} to {coarsest} seconds for this {span} s range \
                         (from {MIN_BUCKETS} to {MAX_BUCKETS} buckets)"
                    ),
                ));
            }
        };
        Ok(Self {
            calculations,
            filters,
            filter_or,
            breakdowns,
            orders,
            havings,
            limit,
            start_time,
            end_time,
            granularity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_honeycomb_spec_parses() {
        let spec = json!({
            "calculations": [{"op": "P95", "column": "duration_ms"}, {"op": "HEATMAP", "column": "duration_ms"}, {"op": "COUNT"}],
            "filters": [{"column": "trace.parent_id", "op": "does-not-exist"}, {"column": "user.id", "op": "in", "value": ["a", "b"]}],
            "filter_combination": "OR",
            "breakdowns": ["user.id"],
            "orders": [{"op": "P95", "column": "duration_ms", "order": "descending"}, {"column": "user.id", "order": "ascending"}],
            "havings": [{"calculate_op": "COUNT", "op": ">", "value": 2}],
            "limit": 10,
            "time_range": 3600,
            "granularity": 60
        });
        let q = Query::parse(&spec, 1_700_000_000).expect("valid");
        assert_eq!(q.calculations[0].label(), "P95(duration_ms)");
        assert!(q.filter_or);
        assert_eq!((q.start_time, q.end_time), (1_700_000_000 - 3600, 1_700_000_001));
        assert_eq!(q.limit, 10);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"calculations": [{"op": "P96", "column": "x"}]}), "calculations[0].op"),
            (json!({"calculations": [{"op": "AVG"}]}), "calculations[0].column"),
            (json!({"filters": [{"column": "x", "op": "like", "value": 1}]}), "filters[0].op"),
            (json!({"filters": [{"column": "x", "op": "in", "value": 1}]}), "filters[0].value"),
            (json!({"filters": [{"op": "exists"}]}), "filters[0].column"),
            (json!({"orders": [{"op": "MAX", "column": "duration_ms"}]}), "orders[0].op"),
            (json!({"orders": [{"column": "nope"}]}), "orders[0].column"),
            (json!({"havings": [{"calculate_op": "COUNT", "op": "~", "value": 1}]}), "havings[0].op"),
            (
                json!({"havings": [{"calculate_op": "MAX", "column": "x", "op": ">", "value": 1}]}),
                "havings[0].calculate_op",
            ),
            (json!({"limit": 0}), "limit"),
            (json!({"time_range": -5}), "time_range"),
            (json!({"granularity": 0}), "granularity"),
            (json!({"filter_combination": "XOR"}), "filter_combination"),
            (json!({"breakdowns": [3]}), "breakdowns[0]"),
            (json!([]), "query"),
        ];
        for (spec, field) in cases {
            let e = Query::parse(&spec, 1_700_000_000).expect_err(field);
            assert_eq!(e.field, field, "{e}");
        }
    }
}
