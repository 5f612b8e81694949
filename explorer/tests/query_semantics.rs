//! The query engine against a straightforward reference computation over randomly generated
//! spans and randomly generated queries: filters (every operator, AND/OR), breakdowns, every
//! calculation, havings, orders and limits.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use trace_explorer::otlp::{AttrValue, SpanRecord};
use trace_explorer::query::{Query, run};
use trace_explorer::store::{Retention, Store};

/// xorshift64*, so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const USERS: &[&str] = &["andrew", "worf", "garek"];
const STATUSES: &[i64] = &[200, 201, 404, 500];
const NAMES: &[&str] = &["GET /api/a", "GET /api/b", "SELECT activities"];
const SERVICES: &[&str] = &["frontend", "backend"];

/// The reference's view of a span: the columns the generated queries use.
#[derive(Debug, Clone)]
struct Row {
    service: String,
    name: String,
    duration_ms: f64,
    user: Option<String>,
    status: Option<i64>,
    parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum V {
    S(String),
    N(f64),
}

impl Row {
    fn get(&self, column: &str) -> Option<V> {
        match column {
            "service.name" => Some(V::S(self.service.clone())),
            "name" => Some(V::S(self.name.clone())),
            "duration_ms" => Some(V::N(self.duration_ms)),
            "user.id" => self.user.clone().map(V::S),
            "http.response.status_code" => self.status.map(|s| V::N(s as f64)),
            "trace.parent_id" => self.parent.clone().map(V::S),
            _ => None,
        }
    }
}

fn generate(rng: &mut Rng, n: usize, now_ns: i64) -> (Vec<SpanRecord>, Vec<Row>) {
    let mut records = Vec::new();
    let mut rows = Vec::new();
    for i in 0..n {
        let duration_us = rng.below(500_000) as i64;
        let start = now_ns - 3_000_000_000_000 + rng.below(2_900_000_000_000) as i64;
        let row = Row {
            service: rng.pick(SERVICES).to_string(),
            name: rng.pick(NAMES).to_string(),
            duration_ms: duration_us as f64 / 1000.0,
            user: rng.chance(80).then(|| rng.pick(USERS).to_string()),
            status: rng.chance(60).then(|| *rng.pick(STATUSES)),
            parent: rng.chance(70).then(|| format!("{:016x}", rng.below(u64::MAX) | 1)),
        };
        let mut attributes = vec![("service.name".to_owned(), AttrValue::Str(row.service.clone()))];
        if let Some(u) = &row.user {
            attributes.push(("user.id".into(), AttrValue::Str(u.clone())));
        }
        if let Some(s) = row.status {
            attributes.push(("http.response.status_code".into(), AttrValue::Int(s)));
        }
        records.push(SpanRecord {
            trace_id: format!("{:032x}", i + 1),
            span_id: format!("{:016x}", i + 1),
            parent_id: row.parent.clone(),
            name: row.name.clone(),
            kind: 2,
            service: row.service.clone(),
            start_ns: start,
            end_ns: start + duration_us * 1000,
            status_code: 0,
            status_message: String::new(),
            attributes,
            events: vec![],
            scope: "gen".into(),
        });
        rows.push(row);
    }
    (records, rows)
}

fn random_filter(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0 => {
            let op = *rng.pick(&[
                "=",
                "!=",
                "exists",
                "does-not-exist",
                "contains",
                "does-not-contain",
                "starts-with",
                "does-not-start-with",
            ]);
            json!({"column": "user.id", "op": op, "value": rng.pick(&["andrew", "wo", "garek", "x"])})
        }
        1 => {
            let op = *rng.pick(&["=", "!=", ">", ">=", "<", "<="]);
            json!({"column": "http.response.status_code", "op": op, "value": rng.pick(STATUSES)})
        }
        2 => json!({"column": "duration_ms", "op": rng.pick(&[">", "<=", ">="]), "value": rng.below(500)}),
        3 => json!({"column": "trace.parent_id", "op": rng.pick(&["exists", "does-not-exist"])}),
        _ => {
            let op = *rng.pick(&["in", "not-in"]);
            json!({"column": "user.id", "op": op, "value": ["andrew", "garek"]})
        }
    }
}

fn random_query(rng: &mut Rng) -> Value {
    let all_calcs = [
        json!({"op": "COUNT"}),
        json!({"op": "SUM", "column": "duration_ms"}),
        json!({"op": "AVG", "column": "duration_ms"}),
        json!({"op": "MIN", "column": "duration_ms"}),
        json!({"op": "MAX", "column": "http.response.status_code"}),
        json!({"op": "COUNT_DISTINCT", "column": "user.id"}),
        json!({"op": "P50", "column": "duration_ms"}),
        json!({"op": "P95", "column": "duration_ms"}),
        json!({"op": "P99", "column": "duration_ms"}),
        json!({"op": "P001", "column": "duration_ms"}),
    ];
    let mut calcs: Vec<Value> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let c = rng.pick(&all_calcs).clone();
        if !calcs.contains(&c) {
            calcs.push(c);
        }
    }
    let filters: Vec<Value> = (0..rng.below(3)).map(|_| random_filter(rng)).collect();
    let mut breakdowns: Vec<&str> = Vec::new();
    for _ in 0..rng.below(3) {
        let b = *rng.pick(&["service.name", "user.id", "http.response.status_code", "name"]);
        if !breakdowns.contains(&b) {
            breakdowns.push(b);
        }
    }
    let first = calcs[0].clone();
    let mut orders = vec![];
    if rng.chance(70) {
        let mut order = first.clone();
        order["order"] = json!(if rng.chance(50) { "ascending" } else { "descending" });
        orders.push(order);
    }
    let mut spec = json!({
        "calculations": calcs, "filters": filters, "breakdowns": breakdowns, "orders": orders,
        "filter_combination": if rng.chance(30) { "OR" } else { "AND" },
        "limit": if rng.chance(50) { 1000 } else { 1 + rng.below(5) },
        "time_range": 7200,
    });
    if rng.chance(30) {
        let mut having = first;
        let op = having.as_object_mut().and_then(|o| o.remove("op")).unwrap_or(json!("COUNT"));
        having["calculate_op"] = op;
        having["op"] = json!(*rng.pick(&[">", ">=", "<", "!="]));
        having["value"] = json!(rng.below(300));
        spec["havings"] = json!([having]);
    }
    spec
}

fn matches(filter: &Value, row: &Row) -> bool {
    let column = filter["column"].as_str().unwrap_or("");
    let op = filter["op"].as_str().unwrap_or("");
    let value = row.get(column);
    match op {
        "exists" => return value.is_some(),
        "does-not-exist" => return value.is_none(),
        _ => {}
    }
    let Some(value) = value else { return false };
    let target = &filter["value"];
    match (op, &value) {
        ("in", _) | ("not-in", _) => {
            let inside = target.as_array().is_some_and(|xs| {
                xs.iter().any(|x| {
                    Some(x.as_str().unwrap_or_default())
                        == match &value {
                            V::S(s) => Some(s.as_str()),
                            V::N(_) => None,
                        }
                })
            });
            (op == "in") == inside
        }
        (_, V::N(n)) => {
            let t = target.as_f64().unwrap_or(f64::NAN);
            match op {
                "=" => *n == t,
                "!=" => *n != t,
                ">" => *n > t,
                ">=" => *n >= t,
                "<" => *n < t,
                "<=" => *n <= t,
                _ => panic!("{op} on a number"),
            }
        }
        (_, V::S(s)) => {
            let t = target.as_str().unwrap_or("");
            match op {
                "=" => s == t,
                "!=" => s != t,
                "contains" => s.contains(t),
                "does-not-contain" => !s.contains(t),
                "starts-with" => s.starts_with(t),
                "does-not-start-with" => !s.starts_with(t),
                _ => panic!("{op} on a string"),
            }
        }
    }
}

fn calculate(calc: &Value, rows: &[&Row]) -> Option<f64> {
    let op = calc["op"].as_str().unwrap_or("");
    let column = calc["column"].as_str().unwrap_or("");
    let numbers: Vec<f64> = rows
        .iter()
        .filter_map(|r| match r.get(column) {
            Some(V::N(n)) => Some(n),
            _ => None,
        })
        .collect();
    match op {
        "COUNT" => Some(rows.len() as f64),
        "SUM" => Some(numbers.iter().sum()),
        "AVG" => (!numbers.is_empty()).then(|| numbers.iter().sum::<f64>() / numbers.len() as f64),
        "MIN" => numbers.iter().copied().reduce(f64::min),
        "MAX" => numbers.iter().copied().reduce(f64::max),
        "COUNT_DISTINCT" => {
            let set: HashSet<String> = rows
                .iter()
                .filter_map(|r| match r.get(column) {
                    Some(V::S(s)) => Some(s),
                    Some(V::N(n)) => Some(n.to_string()),
                    None => None,
                })
                .collect();
            Some(set.len() as f64)
        }
        p => {
            let q = match p {
                "P50" => 0.5,
                "P95" => 0.95,
                "P99" => 0.99,
                "P001" => 0.001,
                _ => panic!("{p}"),
            };
            if numbers.is_empty() {
                return None;
            }
            let mut sorted = numbers;
            sorted.sort_by(f64::total_cmp);
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            Some(sorted[rank - 1])
        }
    }
}

fn label(calc: &Value) -> String {
    match calc["column"].as_str() {
        Some(c) => format!("{}({c})", calc["op"].as_str().unwrap_or("")),
        None => calc["op"].as_str().unwrap_or("").to_owned(),
    }
}

fn group_key(group: &serde_json::Map<String, Value>) -> String {
    Value::Object(group.clone()).to_string()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0),
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn the_engine_agrees_with_a_reference_computation_on_random_queries() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let now_ns = trace_explorer::store::now_ns();
    let (records, rows) = generate(&mut rng, 1500, now_ns);
    let store = Store::in_memory(Retention { max_spans: 10_000, max_age: Duration::from_secs(86_400) })
        .expect("store");
    store.insert(&records).expect("insert");

    for case in 0..300 {
        let spec = random_query(&mut rng);
        let query = Query::parse(&spec, now_ns / 1_000_000_000)
            .unwrap_or_else(|e| panic!("case {case}: {e}: {spec}"));
        let result = run(&store, &query).expect("run");

        // Reference: filter, group, calculate.
        let or = spec["filter_combination"] == "OR";
        let filters = spec["filters"].as_array().cloned().unwrap_or_default();
        let matched: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                filters.is_empty()
                    || if or {
                        filters.iter().any(|f| matches(f, r))
                    } else {
                        filters.iter().all(|f| matches(f, r))
                    }
            })
            .collect();
        assert_eq!(result.meta.rows_matched as usize, matched.len(), "case {case}: rows matched for {spec}");
        let breakdowns: Vec<String> = spec["breakdowns"]
            .as_array()
            .map(|b| b.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let mut groups: BTreeMap<String, (serde_json::Map<String, Value>, Vec<&Row>)> = BTreeMap::new();
        for row in &matched {
            let group: serde_json::Map<String, Value> = breakdowns
                .iter()
                .map(|b| {
                    let v = match row.get(b) {
                        Some(V::S(s)) => json!(s),
                        Some(V::N(n)) if b == "http.response.status_code" => json!(n as i64),
                        Some(V::N(n)) => json!(n),
                        None => Value::Null,
                    };
                    (b.clone(), v)
                })
                .collect();
            groups.entry(group_key(&group)).or_insert_with(|| (group, Vec::new())).1.push(row);
        }
        let calcs = spec["calculations"].as_array().cloned().unwrap_or_default();
        let mut reference: HashMap<String, Vec<Option<f64>>> = groups
            .iter()
            .map(|(k, (_, rs))| (k.clone(), calcs.iter().map(|c| calculate(c, rs)).collect()))
            .collect();
        if let Some(having) = spec["havings"].as_array().and_then(|h| h.first()) {
            let mut calc = having.clone();
            calc["op"] = having["calculate_op"].clone();
            let i = calcs.iter().position(|c| label(c) == label(&calc)).expect("having on a calculation");
            let t = having["value"].as_f64().unwrap_or(0.0);
            reference.retain(|_, values| {
                values[i].is_some_and(|v| match having["op"].as_str().unwrap_or("") {
                    ">" => v > t,
                    ">=" => v >= t,
                    "<" => v < t,
                    "!=" => v != t,
                    _ => false,
                })
            });
        }
        let limit = spec["limit"].as_u64().unwrap_or(100) as usize;
        assert_eq!(result.results.len(), reference.len().min(limit), "case {case}: group count for {spec}");
        for row in &result.results {
            let key = group_key(&row.group);
            let expected = reference
                .get(&key)
                .unwrap_or_else(|| panic!("case {case}: unexpected group {key} for {spec}"));
            for (i, calc) in calcs.iter().enumerate() {
                let got = row.values.get(&label(calc)).and_then(Value::as_f64);
                assert!(
                    close(got, expected[i]),
                    "case {case}: {} of {key} is {got:?}, reference {:?}; {spec}",
                    label(calc),
                    expected[i]
                );
            }
        }
        // Sorted by the order key, and nothing left out ranks above what was kept.
        let order = spec["orders"].as_array().and_then(|o| o.first()).cloned().unwrap_or_else(|| {
            let mut o = calcs[0].clone();
            o["order"] = json!("descending");
            o
        });
        let i = calcs.iter().position(|c| label(c) == label(&order)).expect("order calc");
        let descending = order["order"] != "ascending";
        let key_of = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
        let kept: Vec<f64> = result
            .results
            .iter()
            .map(|r| key_of(r.values.get(&label(&calcs[i])).and_then(Value::as_f64)))
            .collect();
        for pair in kept.windows(2) {
            assert!(
                if descending { pair[0] >= pair[1] } else { pair[0] <= pair[1] },
                "case {case}: not ordered {kept:?}; {spec}"
            );
        }
        if let Some(&last) = kept.last() {
            let kept_keys: HashSet<String> = result.results.iter().map(|r| group_key(&r.group)).collect();
            for (key, values) in &reference {
                if !kept_keys.contains(key) {
                    let v = key_of(values[i]);
                    assert!(
                        if descending { v <= last } else { v >= last },
                        "case {case}: {key} ({v}) should have been kept; {spec}"
                    );
                }
            }
        }
    }
}

#[test]
fn time_series_and_heatmap_counts_add_up() {
    let mut rng = Rng(42);
    let now_ns = trace_explorer::store::now_ns();
    let (records, rows) = generate(&mut rng, 800, now_ns);
    let store = Store::in_memory(Retention::default()).expect("store");
    store.insert(&records).expect("insert");
    let spec = json!({"calculations": [{"op": "COUNT"}, {"op": "HEATMAP", "column": "duration_ms"}], "breakdowns": ["service.name"], "time_range": 7200, "granularity": 300});
    let query = Query::parse(&spec, now_ns / 1_000_000_000).expect("valid");
    let result = run(&store, &query).expect("run");
    for group in &result.results {
        let service = group.group["service.name"].as_str().expect("service");
        let expected = rows.iter().filter(|r| r.service == service).count() as f64;
        let series_total: f64 = result
            .series
            .iter()
            .filter(|p| p.group == group.group)
            .filter_map(|p| p.values["COUNT"].as_f64())
            .sum();
        assert_eq!(series_total, expected, "series of {service}");
        let heatmap = result.heatmaps.iter().find(|h| h.group == group.group).expect("heatmap");
        let cells: u64 = heatmap.counts.iter().flatten().sum();
        assert_eq!(cells as f64, expected, "heatmap of {service}");
        let span = result.meta.end_time - result.meta.start_time;
        assert_eq!(heatmap.times.len() as i64, (span + 299) / 300);
    }
}
