//! Reading configuration from the page: a JSON `<script>` block and `<meta>` tags.
//!
//! The browser parses the JSON (`JSON.parse`), so no JSON parser is compiled into the wasm; the
//! result is converted to a small [`PageValue`] tree whose interpretation is plain Rust, unit
//! tested natively.

use std::time::Duration;

use opentelemetry::{KeyValue, Value};

use super::{Config, ExporterKind, MAX_TIMER_MS, check_endpoint};
use crate::error::ConfigError;
use crate::export::{Compression, Encoding};
use crate::fetch::OriginMatcher;
use crate::instrument::{OptionValue, Options, Switch};
use crate::platform::number;
use crate::propagation::PropagatorKind;
use crate::report::{self, Problem};
use crate::trace::{IdGenerator, Sampler};

/// The `id` of the `<script type="application/json">` element holding the configuration.
pub const PAGE_CONFIG_ELEMENT_ID: &str = "otel-web-config";

/// A JSON value from the page.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "built from JS values in the browser"))]
pub(crate) enum PageValue {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<PageValue>),
    Map(Vec<(String, PageValue)>),
}

impl PageValue {
    fn kind(&self) -> &'static str {
        match self {
            PageValue::Null => "null",
            PageValue::Bool(_) => "a boolean",
            PageValue::Number(_) => "a number",
            PageValue::String(_) => "a string",
            PageValue::List(_) => "a list",
            PageValue::Map(_) => "an object",
        }
    }
}

/// What the page says: the JSON block (if any) and the `otel-web:*` meta tags.
#[derive(Debug, Default)]
pub(crate) struct PageSettings {
    json: Option<PageValue>,
    metas: Vec<(String, String)>,
}

pub(super) fn merge(config: Config) -> Result<Config, ConfigError> {
    let page = imp::read_page()?;
    let config = match &page.json {
        Some(json) => apply_json(config, json)?,
        None => config,
    };
    apply_meta(config, &page.metas)
}

fn string(field: &'static str, value: &PageValue) -> Result<String, ConfigError> {
    match value {
        PageValue::String(s) => Ok(s.clone()),
        other => Err(ConfigError::field(field, format!("must be a string, got {}", other.kind()))),
    }
}

fn boolean(field: &'static str, value: &PageValue) -> Result<bool, ConfigError> {
    match value {
        PageValue::Bool(b) => Ok(*b),
        other => Err(ConfigError::field(field, format!("must be true or false, got {}", other.kind()))),
    }
}

/// A whole number from 0 to `max`, as a JSON number or a string of digits. Anything else —
/// negative, fractional, too large, not a number — is an error naming the field, never
/// wrapped or clamped.
fn whole(field: &'static str, value: &PageValue, max: u32) -> Result<u32, ConfigError> {
    let out_of_range =
        |got: String| ConfigError::field(field, format!("must be a whole number from 0 to {max}, got {got}"));
    match value {
        PageValue::Number(n) => {
            if n.fract() == 0.0 && (0.0..=f64::from(max)).contains(n) {
                // Exact: a whole number within u32.
                Ok(*n as u32)
            } else {
                Err(out_of_range(number::format_f64(*n)))
            }
        }
        PageValue::String(s) => {
            s.trim().parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| out_of_range(format!("{s:?}")))
        }
        other => Err(out_of_range(other.kind().to_owned())),
    }
}

/// A count (queue sizes, span limits).
fn count(field: &'static str, value: &PageValue) -> Result<u32, ConfigError> {
    whole(field, value, u32::MAX)
}

/// A queue or batch size (a count; `usize` holds every `u32` on the targets otel-web builds for).
fn size(field: &'static str, value: &PageValue) -> Result<usize, ConfigError> {
    let n = count(field, value)?;
    usize::try_from(n)
        .map_err(|_| ConfigError::field(field, format!("{n} is more than this platform can hold")))
}

/// Milliseconds for a browser timer: at most [`MAX_TIMER_MS`].
fn millis(field: &'static str, value: &PageValue) -> Result<Duration, ConfigError> {
    whole(field, value, MAX_TIMER_MS).map(|ms| Duration::from_millis(u64::from(ms)))
}

fn map<'a>(field: &'static str, value: &'a PageValue) -> Result<&'a [(String, PageValue)], ConfigError> {
    match value {
        PageValue::Map(entries) => Ok(entries),
        other => Err(ConfigError::field(field, format!("must be an object, got {}", other.kind()))),
    }
}

fn exporters(value: &PageValue) -> Result<Vec<ExporterKind>, ConfigError> {
    let names: Vec<String> = match value {
        PageValue::String(s) => s.split(',').map(|n| n.trim().to_owned()).collect(),
        PageValue::List(items) => items.iter().map(|i| string("exporters", i)).collect::<Result<_, _>>()?,
        other => {
            return Err(ConfigError::field("exporters", format!("must be a list, got {}", other.kind())));
        }
    };
    let mut kinds = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        match name.as_str() {
            "otlp" => kinds.push(ExporterKind::Otlp),
            "console" => kinds.push(ExporterKind::Console),
            "none" => {}
            other => {
                return Err(ConfigError::field(
                    "exporters",
                    format!("must name otlp, console or none; got {other:?}"),
                ));
            }
        }
    }
    Ok(kinds)
}

fn encoding(field: &'static str, value: &PageValue) -> Result<Encoding, ConfigError> {
    match string(field, value)?.trim() {
        "json" => Ok(Encoding::Json),
        "protobuf" => Ok(Encoding::Protobuf),
        other => Err(ConfigError::field(field, format!("must be json or protobuf, got {other:?}"))),
    }
}

fn compression(field: &'static str, value: &PageValue) -> Result<Compression, ConfigError> {
    match string(field, value)?.trim() {
        "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        other => Err(ConfigError::field(field, format!("must be none or gzip, got {other:?}"))),
    }
}

fn propagators(value: &PageValue) -> Result<Vec<PropagatorKind>, ConfigError> {
    let names: Vec<String> = match value {
        PageValue::String(s) => s.split(',').map(|n| n.trim().to_owned()).collect(),
        PageValue::List(items) => items.iter().map(|i| string("propagators", i)).collect::<Result<_, _>>()?,
        other => {
            return Err(ConfigError::field("propagators", format!("must be a list, got {}", other.kind())));
        }
    };
    names
        .iter()
        .filter(|n| !n.is_empty())
        .map(|name| match name.as_str() {
            "tracecontext" => Ok(PropagatorKind::TraceContext),
            "baggage" => Ok(PropagatorKind::Baggage),
            "xray" => Ok(PropagatorKind::XRay),
            other => Err(ConfigError::field(
                "propagators",
                format!("must name tracecontext, baggage or xray; got {other:?}"),
            )),
        })
        .collect()
}

/// A traces URL, checked where the page gives it so the error names the page's field.
fn endpoint(field: &'static str, url: &str) -> Result<String, ConfigError> {
    check_endpoint(field, url)?;
    Ok(url.to_owned())
}

fn endpoint_base(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

/// `true`/`false`, or an object of options (`"enabled": false` turns it off).
fn instrumentation_switch(name: &str, value: &PageValue) -> Result<Switch, ConfigError> {
    let options = match value {
        PageValue::Bool(enabled) => return Ok(Switch { enabled: *enabled, options: Options::default() }),
        PageValue::Map(entries) => entries,
        other => {
            return Err(ConfigError::field(
                "instrumentations",
                format!("{name:?} must be true, false or an object of options, not {}", other.kind()),
            ));
        }
    };
    let mut enabled = true;
    let mut parsed = Options::default();
    for (key, v) in options {
        let v = match v {
            PageValue::Bool(b) if key == "enabled" => {
                enabled = *b;
                continue;
            }
            PageValue::Bool(b) => OptionValue::Bool(*b),
            PageValue::Number(n) => OptionValue::Number(*n),
            PageValue::String(s) => OptionValue::String(s.clone()),
            other => {
                return Err(ConfigError::field(
                    "instrumentations",
                    format!("{name}.{key} must be a boolean, a number or a string, not {}", other.kind()),
                ));
            }
        };
        parsed = parsed.with(key.clone(), v);
    }
    Ok(Switch { enabled, options: parsed })
}

pub(crate) fn apply_json(mut config: Config, json: &PageValue) -> Result<Config, ConfigError> {
    let mut sampler_name = None;
    let mut sampler_arg = None;
    for (key, value) in map("otel-web-config", json)? {
        match key.as_str() {
            "serviceName" => config.service_name = string("serviceName", value)?,
            "serviceVersion" => config.service_version = Some(string("serviceVersion", value)?),
            "environment" => config.deployment_environment = Some(string("environment", value)?),
            "resourceAttributes" => {
                for (name, v) in map("resourceAttributes", value)? {
                    let v = match v {
                        PageValue::String(s) => Value::from(s.clone()),
                        PageValue::Bool(b) => Value::from(*b),
                        PageValue::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => Value::from(*n as i64),
                        PageValue::Number(n) => Value::from(*n),
                        other => {
                            return Err(ConfigError::field(
                                "resourceAttributes",
                                format!(
                                    "values must be strings, numbers or booleans; {name:?} is {}",
                                    other.kind()
                                ),
                            ));
                        }
                    };
                    config.resource_attributes.push(KeyValue::new(name.clone(), v));
                }
            }
            "exporters" => config.exporters = exporters(value)?,
            "endpoint" => {
                config.traces_endpoint = endpoint("endpoint", &endpoint_base(&string("endpoint", value)?))?
            }
            "tracesEndpoint" => {
                config.traces_endpoint = endpoint("tracesEndpoint", &string("tracesEndpoint", value)?)?
            }
            "headers" => {
                for (name, v) in map("headers", value)? {
                    config.headers.push((name.clone(), string("headers", v)?));
                }
            }
            "exportTimeoutMs" => config.request_timeout = millis("exportTimeoutMs", value)?,
            "instrumentations" => {
                for (name, v) in map("instrumentations", value)? {
                    config.instrumentations.set(name.clone(), instrumentation_switch(name, v)?);
                }
            }
            "sampler" => sampler_name = Some(string("sampler", value)?),
            "samplerArg" => {
                sampler_arg = Some(match value {
                    PageValue::Number(n) => number::format_f64(*n),
                    other => string("samplerArg", other)?,
                })
            }
            "batch" => {
                for (name, v) in map("batch", value)? {
                    let batch = &mut config.batch;
                    match name.as_str() {
                        "maxQueueSize" => batch.max_queue_size = size("batch.maxQueueSize", v)?,
                        "maxExportBatchSize" => {
                            batch.max_export_batch_size = size("batch.maxExportBatchSize", v)?
                        }
                        "scheduledDelayMs" => batch.scheduled_delay = millis("batch.scheduledDelayMs", v)?,
                        "exportTimeoutMs" => batch.export_timeout = millis("batch.exportTimeoutMs", v)?,
                        other => unknown("batch", other),
                    }
                }
            }
            "limits" => {
                for (name, v) in map("limits", value)? {
                    let limits = &mut config.limits;
                    match name.as_str() {
                        "attributeCountLimit" => {
                            limits.max_attributes_per_span = count("limits.attributeCountLimit", v)?
                        }
                        "attributeValueLengthLimit" => {
                            limits.max_attribute_value_length =
                                Some(count("limits.attributeValueLengthLimit", v)?)
                        }
                        "eventCountLimit" => limits.max_events_per_span = count("limits.eventCountLimit", v)?,
                        "linkCountLimit" => limits.max_links_per_span = count("limits.linkCountLimit", v)?,
                        other => unknown("limits", other),
                    }
                }
            }
            "idGenerator" => {
                config.id_generator = match string("idGenerator", value)?.as_str() {
                    "random" => IdGenerator::Random,
                    "xray" => IdGenerator::XRay,
                    other => {
                        return Err(ConfigError::field(
                            "idGenerator",
                            format!("must be random or xray, got {other:?}"),
                        ));
                    }
                }
            }
            "propagateTraceHeaderCorsUrls" => {
                let PageValue::List(items) = value else {
                    return Err(ConfigError::field(
                        "propagateTraceHeaderCorsUrls",
                        format!("must be a list, got {}", value.kind()),
                    ));
                };
                for item in items {
                    let entry = string("propagateTraceHeaderCorsUrls", item)?;
                    config.propagate_trace_header_cors_urls.push(OriginMatcher::parse(&entry)?);
                }
            }
            "instrumentGlobalFetch" => {
                config.instrument_global_fetch = boolean("instrumentGlobalFetch", value)?
            }
            "correctClockSkew" => config.correct_clock_skew = boolean("correctClockSkew", value)?,
            "propagators" => config.propagators = propagators(value)?,
            "encoding" => config.encoding = encoding("encoding", value)?,
            "compression" => config.compression = compression("compression", value)?,
            "offlineStorageBytes" => config.offline_storage_bytes = count("offlineStorageBytes", value)?,
            other => unknown("otel-web-config", other),
        }
    }
    apply_sampler(config, sampler_name, sampler_arg)
}

fn apply_sampler(
    mut config: Config,
    name: Option<String>,
    arg: Option<String>,
) -> Result<Config, ConfigError> {
    match (name, arg) {
        (Some(name), arg) => config.sampler = Sampler::from_name(&name, arg.as_deref())?,
        (None, Some(arg)) => {
            // A ratio alone adjusts a ratio sampler, as OTEL_TRACES_SAMPLER_ARG does.
            config.sampler = Sampler::from_name("parentbased_traceidratio", Some(&arg))?;
        }
        (None, None) => {}
    }
    Ok(config)
}

/// Unknown keys are reported (a typo should be visible) but do not stop the app.
fn unknown(section: &str, key: &str) {
    report::warn(Problem::Config, || {
        format!("unknown configuration key {key:?} in {section}; it is ignored")
    });
}

pub(crate) fn apply_meta(mut config: Config, metas: &[(String, String)]) -> Result<Config, ConfigError> {
    let mut sampler_name = None;
    let mut sampler_arg = None;
    for (name, content) in metas {
        let Some(key) = name.strip_prefix("otel-web:") else { continue };
        match key {
            "service-name" => config.service_name = content.clone(),
            "service-version" => config.service_version = Some(content.clone()),
            "environment" => config.deployment_environment = Some(content.clone()),
            "exporters" => config.exporters = exporters(&PageValue::String(content.clone()))?,
            "endpoint" => config.traces_endpoint = endpoint("otel-web:endpoint", &endpoint_base(content))?,
            "traces-endpoint" => config.traces_endpoint = endpoint("otel-web:traces-endpoint", content)?,
            "sampler" => sampler_name = Some(content.clone()),
            "sampler-arg" => sampler_arg = Some(content.clone()),
            "encoding" => {
                config.encoding = encoding("otel-web:encoding", &PageValue::String(content.clone()))?
            }
            "compression" => {
                config.compression = compression("otel-web:compression", &PageValue::String(content.clone()))?
            }
            other => unknown("<meta> tags", other),
        }
    }
    apply_sampler(config, sampler_name, sampler_arg)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasm_bindgen::{JsCast, JsValue};

    use super::{PAGE_CONFIG_ELEMENT_ID, PageSettings, PageValue};
    use crate::error::ConfigError;

    const MAX_DEPTH: usize = 8;

    pub(super) fn read_page() -> Result<PageSettings, ConfigError> {
        let Some(document) = js_sys::global().dyn_into::<web_sys::Window>().ok().and_then(|w| w.document())
        else {
            return Ok(PageSettings::default());
        };
        let json = match document.get_element_by_id(PAGE_CONFIG_ELEMENT_ID).and_then(|e| e.text_content()) {
            Some(text) if !text.trim().is_empty() => {
                let parsed = js_sys::JSON::parse(&text)
                    .map_err(|e| ConfigError::InvalidJson(crate::platform::fetch::describe(&e)))?;
                Some(convert(&parsed, 0))
            }
            _ => None,
        };
        let mut metas = Vec::new();
        if let Ok(nodes) = document.query_selector_all("meta[name^=\"otel-web:\"]") {
            for i in 0..nodes.length() {
                if let Some(meta) = nodes.item(i).and_then(|n| n.dyn_into::<web_sys::Element>().ok())
                    && let (Some(name), Some(content)) =
                        (meta.get_attribute("name"), meta.get_attribute("content"))
                {
                    metas.push((name, content));
                }
            }
        }
        Ok(PageSettings { json, metas })
    }

    fn convert(value: &JsValue, depth: usize) -> PageValue {
        if depth > MAX_DEPTH || value.is_null() || value.is_undefined() {
            return PageValue::Null;
        }
        if let Some(b) = value.as_bool() {
            return PageValue::Bool(b);
        }
        if let Some(n) = value.as_f64() {
            return PageValue::Number(n);
        }
        if let Some(s) = value.as_string() {
            return PageValue::String(s);
        }
        if js_sys::Array::is_array(value) {
            let array: &js_sys::Array = value.unchecked_ref();
            return PageValue::List(array.iter().map(|v| convert(&v, depth + 1)).collect());
        }
        if let Some(object) = value.dyn_ref::<js_sys::Object>() {
            let entries = js_sys::Object::entries(object)
                .iter()
                .filter_map(|entry| {
                    let pair: js_sys::Array = entry.dyn_into().ok()?;
                    Some((pair.get(0).as_string()?, convert(&pair.get(1), depth + 1)))
                })
                .collect();
            return PageValue::Map(entries);
        }
        PageValue::Null
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::PageSettings;
    use crate::error::ConfigError;

    /// Outside a browser there is no page to read.
    pub(super) fn read_page() -> Result<PageSettings, ConfigError> {
        Ok(PageSettings::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::BatchConfig;

    #[test]
    fn instrumentations_are_switched_and_tuned_from_the_page() {
        let json = obj(&[(
            "instrumentations",
            obj(&[
                ("documentLoad", PageValue::Bool(false)),
                (
                    "sessions",
                    obj(&[
                        ("inactivityTimeoutMs", PageValue::Number(1000.0)),
                        ("enabled", PageValue::Bool(true)),
                    ]),
                ),
                ("webVitals", obj(&[("enabled", PageValue::Bool(false))])),
            ]),
        )]);
        let config = apply_json(Config::default(), &json).expect("valid");
        let switches = &config.instrumentations;
        assert_eq!(switches.get("documentLoad").map(|s| s.enabled), Some(false));
        assert_eq!(switches.get("webVitals").map(|s| s.enabled), Some(false));
        let sessions = switches.get("sessions").expect("sessions");
        assert!(sessions.enabled);
        assert_eq!(sessions.options.get("inactivityTimeoutMs"), Some(&OptionValue::Number(1000.0)));
        for bad in [
            obj(&[("instrumentations", s("all"))]),
            obj(&[("instrumentations", obj(&[("errors", s("yes"))]))]),
            obj(&[("instrumentations", obj(&[("errors", obj(&[("max", PageValue::List(vec![]))]))]))]),
        ] {
            let err = apply_json(Config::default(), &bad).expect_err("refused");
            assert!(err.to_string().contains("`instrumentations`"), "{err}");
        }
    }

    fn obj(entries: &[(&str, PageValue)]) -> PageValue {
        PageValue::Map(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn s(v: &str) -> PageValue {
        PageValue::String(v.into())
    }

    #[test]
    fn page_json_sets_every_field() {
        let json = obj(&[
            ("serviceName", s("frontend")),
            ("serviceVersion", s("1.2.3")),
            ("environment", s("staging")),
            ("resourceAttributes", obj(&[("team", s("web")), ("build", PageValue::Number(42.0))])),
            ("exporters", PageValue::List(vec![s("otlp"), s("console")])),
            ("endpoint", s("http://127.0.0.1:4318/")),
            ("headers", obj(&[("x-team", s("web"))])),
            ("sampler", s("parentbased_traceidratio")),
            ("samplerArg", PageValue::Number(0.25)),
            ("batch", obj(&[("maxQueueSize", PageValue::Number(100.0)), ("scheduledDelayMs", s("250"))])),
            ("limits", obj(&[("attributeValueLengthLimit", PageValue::Number(64.0))])),
            ("idGenerator", s("xray")),
            (
                "propagateTraceHeaderCorsUrls",
                PageValue::List(vec![s("http://127.0.0.1:4567"), s("/^https:.*/")]),
            ),
            ("correctClockSkew", PageValue::Bool(true)),
            ("propagators", s("tracecontext,baggage,xray")),
            ("encoding", s("protobuf")),
            ("compression", s("gzip")),
            ("offlineStorageBytes", PageValue::Number(65536.0)),
        ]);
        let config = apply_json(Config::default(), &json).expect("valid");
        assert_eq!(config.service_name, "frontend");
        assert_eq!(config.deployment_environment.as_deref(), Some("staging"));
        assert_eq!(
            config.resource_attributes,
            vec![KeyValue::new("team", "web"), KeyValue::new("build", 42i64)]
        );
        assert_eq!(config.exporters, vec![ExporterKind::Otlp, ExporterKind::Console]);
        assert_eq!(config.traces_endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(config.headers, vec![("x-team".to_owned(), "web".to_owned())]);
        assert_eq!(config.sampler, Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.25))));
        assert_eq!(
            config.batch,
            BatchConfig {
                max_queue_size: 100,
                scheduled_delay: Duration::from_millis(250),
                ..Default::default()
            }
        );
        assert_eq!(config.limits.max_attribute_value_length, Some(64));
        assert_eq!(config.id_generator, IdGenerator::XRay);
        assert_eq!(
            config.propagate_trace_header_cors_urls,
            vec![
                OriginMatcher::Exact("http://127.0.0.1:4567".into()),
                OriginMatcher::Regex(crate::fetch::RegexSource::new("^https:.*").expect("valid"))
            ]
        );
        assert!(config.correct_clock_skew);
        assert_eq!(
            config.propagators,
            vec![PropagatorKind::TraceContext, PropagatorKind::Baggage, PropagatorKind::XRay]
        );
        assert!(!config.instrument_global_fetch);
        assert_eq!(config.encoding, Encoding::Protobuf);
        assert_eq!(config.compression, Compression::Gzip);
        assert_eq!(config.offline_storage_bytes, 65536);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let cases = [
            (obj(&[("serviceName", PageValue::Number(1.0))]), "`serviceName`"),
            (obj(&[("batch", obj(&[("maxQueueSize", s("many"))]))]), "`batch.maxQueueSize`"),
            (obj(&[("exporters", s("otlp,zipkin"))]), "`exporters`"),
            (obj(&[("sampler", s("half"))]), "`sampler`"),
            (obj(&[("samplerArg", s("1.5"))]), "`samplerArg`"),
            (s("not an object"), "`otel-web-config`"),
            (
                obj(&[("propagateTraceHeaderCorsUrls", PageValue::List(vec![s("example.com")]))]),
                "`propagateTraceHeaderCorsUrls`",
            ),
            (obj(&[("correctClockSkew", s("yes"))]), "`correctClockSkew`"),
            (obj(&[("encoding", s("xml"))]), "`encoding`"),
            (obj(&[("compression", s("br"))]), "`compression`"),
            (obj(&[("offlineStorageBytes", PageValue::Number(-1.0))]), "`offlineStorageBytes`"),
        ];
        for (json, field) in cases {
            let err = apply_json(Config::default(), &json).expect_err(field);
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn meta_tags_override_and_none_disables_export() {
        let metas = [
            ("otel-web:service-name".to_owned(), "from-meta".to_owned()),
            ("otel-web:exporters".to_owned(), "none".to_owned()),
            ("otel-web:sampler-arg".to_owned(), "0.5".to_owned()),
            ("description".to_owned(), "ignored".to_owned()),
        ];
        let config = apply_meta(Config::default(), &metas).expect("valid");
        assert_eq!(config.service_name, "from-meta");
        assert!(config.exporters.is_empty());
        assert_eq!(config.sampler, Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.5))));
    }

    /// Issue #13 item 12: numbers out of range for their field are errors naming it, never
    /// wrapped, truncated or clamped.
    #[test]
    fn numbers_out_of_range_name_the_field() {
        let n = PageValue::Number;
        let cases = [
            ("batch", "maxQueueSize", n(-1.0)),
            ("batch", "maxQueueSize", n(1.5)),
            ("batch", "maxQueueSize", n(1e300)),
            ("batch", "maxQueueSize", n(4_294_967_296.0)),
            ("batch", "maxQueueSize", n(f64::NAN)),
            ("batch", "maxQueueSize", n(f64::INFINITY)),
            ("batch", "maxQueueSize", s("4294967296")),
            ("batch", "maxQueueSize", s("-1")),
            ("batch", "maxQueueSize", s("18446744073709551617")),
            ("batch", "maxExportBatchSize", n(-0.5)),
            ("batch", "scheduledDelayMs", n(2_147_483_648.0)),
            ("batch", "exportTimeoutMs", n(1e300)),
            ("limits", "attributeCountLimit", n(-1.0)),
            ("limits", "attributeValueLengthLimit", s("4294967296")),
            ("limits", "eventCountLimit", n(1e10)),
            ("limits", "linkCountLimit", PageValue::Bool(true)),
        ];
        for (section, key, value) in cases {
            let json = obj(&[(section, obj(&[(key, value.clone())]))]);
            let field = format!("`{section}.{key}`");
            let err = apply_json(Config::default(), &json).expect_err(&field);
            assert!(err.to_string().contains(&field), "{err} should name {field} for {value:?}");
        }
        let err = apply_json(Config::default(), &obj(&[("exportTimeoutMs", n(-1.0))])).expect_err("negative");
        assert!(err.to_string().contains("`exportTimeoutMs`"), "{err}");
        // The largest values are kept exactly.
        let json = obj(&[
            ("batch", obj(&[("maxQueueSize", n(4_294_967_295.0)), ("scheduledDelayMs", n(2_147_483_647.0))])),
            ("limits", obj(&[("eventCountLimit", s(" 4294967295 "))])),
        ]);
        let config = apply_json(Config::default(), &json).expect("in range");
        assert_eq!(config.batch.max_queue_size, 4_294_967_295);
        assert_eq!(config.batch.scheduled_delay, Duration::from_millis(2_147_483_647));
        assert_eq!(config.limits.max_events_per_span, u32::MAX);
    }

    /// Issue #13 item 12: an endpoint that is not a URL is an error naming the page's field.
    #[test]
    fn endpoints_that_are_not_urls_name_their_field() {
        for (key, field) in [("tracesEndpoint", "`tracesEndpoint`"), ("endpoint", "`endpoint`")] {
            let err = apply_json(Config::default(), &obj(&[(key, s("collector:4318"))])).expect_err(key);
            assert!(err.to_string().contains(field), "{err}");
        }
        for (name, field) in [
            ("otel-web:traces-endpoint", "`otel-web:traces-endpoint`"),
            ("otel-web:endpoint", "`otel-web:endpoint`"),
        ] {
            let err =
                apply_meta(Config::default(), &[(name.to_owned(), "not a url".to_owned())]).expect_err(name);
            assert!(err.to_string().contains(field), "{err}");
        }
        let config =
            apply_json(Config::default(), &obj(&[("tracesEndpoint", s("/relay/v1/traces"))])).expect("path");
        assert_eq!(config.traces_endpoint, "/relay/v1/traces");
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Every key the page configuration knows, and a few it does not.
        const KEYS: &[&str] = &[
            "serviceName",
            "serviceVersion",
            "environment",
            "resourceAttributes",
            "exporters",
            "endpoint",
            "tracesEndpoint",
            "headers",
            "exportTimeoutMs",
            "sampler",
            "samplerArg",
            "batch",
            "limits",
            "idGenerator",
            "propagateTraceHeaderCorsUrls",
            "instrumentGlobalFetch",
            "correctClockSkew",
            "propagators",
            "encoding",
            "compression",
            "offlineStorageBytes",
            "maxQueueSize",
            "maxExportBatchSize",
            "scheduledDelayMs",
            "attributeCountLimit",
            "attributeValueLengthLimit",
            "eventCountLimit",
            "linkCountLimit",
            "unknown",
        ];

        /// Any JSON value, with object keys mostly from [`KEYS`].
        fn page_value() -> impl Strategy<Value = PageValue> {
            let number = prop_oneof![
                any::<f64>(),
                (0u64..10_000_000_000).prop_map(|n| n as f64),
                Just(-1.0),
                Just(1e300),
                Just(0.5),
            ];
            let leaf = prop_oneof![
                Just(PageValue::Null),
                any::<bool>().prop_map(PageValue::Bool),
                number.prop_map(PageValue::Number),
                prop_oneof![
                    any::<String>(),
                    "[0-9]{0,12}",
                    Just("/(/".to_owned()),
                    Just("otlp,console".to_owned()),
                    Just("http://127.0.0.1:4318".to_owned()),
                    Just("parentbased_traceidratio".to_owned()),
                ]
                .prop_map(PageValue::String),
            ];
            let key = prop_oneof![4 => proptest::sample::select(KEYS).prop_map(str::to_owned), 1 => any::<String>()];
            leaf.prop_recursive(3, 32, 6, move |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(PageValue::List),
                    proptest::collection::vec((key.clone(), inner), 0..6).prop_map(PageValue::Map),
                ]
            })
        }

        proptest! {
            #[test]
            fn page_configuration_never_panics_and_errors_name_a_field(json in page_value()) {
                if let Err(err) = apply_json(Config::default(), &json).and_then(|config| config.validate()) {
                    prop_assert!(err.to_string().contains('`'), "{}", err);
                }
            }

            #[test]
            fn whole_numbers_are_exact_or_errors(n in prop_oneof![any::<f64>(), (0u64..=u64::from(u32::MAX) + 2).prop_map(|n| n as f64)]) {
                let in_range = n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n);
                match count("limits.linkCountLimit", &PageValue::Number(n)) {
                    Ok(read) => prop_assert!(in_range && f64::from(read) == n),
                    Err(err) => prop_assert!(!in_range && err.to_string().contains("`limits.linkCountLimit`")),
                }
            }

            #[test]
            fn digit_strings_round_trip(n in any::<u64>()) {
                let read = count("batch.maxQueueSize", &PageValue::String(n.to_string()));
                prop_assert_eq!(read.ok(), u32::try_from(n).ok());
            }
        }
    }
}
