//! The soft-navigation checks shared by the Navigation API and the wrapped-history test files.
#![allow(dead_code, unreachable_pub)]

use opentelemetry::Value;
use opentelemetry::global;
use otel_web::export::InMemoryExporter;
use otel_web::instrument::soft_navigations::{SoftNavigations, set_route_template, set_route_template_for};
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::{SpanData, TracerProvider};
use wasm_bindgen::{JsCast, JsValue};

use super::support::sleep;

pub const QUIET_MS: f64 = 60.0;

/// A fresh global provider exporting to memory, and the instrumentation with `options`.
pub fn setup(options: Options) -> InMemoryExporter {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    global::set_tracer_provider(provider.clone());
    SoftNavigations.start(&provider, &options);
    exporter
}

/// `history[method](null, "", url)`.
pub fn history(method: &str, url: &str) -> Result<JsValue, JsValue> {
    let history = js_sys::Reflect::get(&js_sys::global(), &"history".into())?;
    let f: js_sys::Function = js_sys::Reflect::get(&history, &method.into())?.dyn_into()?;
    f.call3(&history, &JsValue::NULL, &"".into(), &url.into())
}

pub fn href() -> String {
    web_sys::window().expect("window").location().href().expect("href")
}

pub fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attribute(key).map(Value::to_string)
}

/// The navigation spans (named `navigation`, or by their route template) once `count` have ended.
pub async fn navigations(exporter: &InMemoryExporter, count: usize) -> Vec<SpanData> {
    for _ in 0..200 {
        let spans: Vec<SpanData> = exporter
            .finished_spans()
            .into_iter()
            .filter(|s| s.attribute("otelweb.navigation.type").is_some())
            .collect();
        if spans.len() >= count {
            return spans;
        }
        sleep(20).await;
    }
    panic!("fewer than {count} navigations ended: {:#?}", exporter.finished_spans());
}

pub async fn pushed_routes_are_navigations_that_parent_the_new_views_work(exporter: &InMemoryExporter) {
    let before = href();
    exporter.reset();
    history("pushState", "/@andrewbrown?tab=posts").expect("push");
    let to = href();
    assert!(set_route_template("/@:handle"), "the navigation is open");
    // The new view's work, started later with no parent given.
    wasm_bindgen_futures::spawn_local(async {
        sleep(20).await;
        drop(opentelemetry::trace::Tracer::start(&global::tracer("app"), "load profile"));
    });
    let spans = navigations(exporter, 1).await;
    history("replaceState", &before).expect("restore");
    let navigation = &spans[0];
    assert_eq!(attr(navigation, "otelweb.navigation.from"), Some(before.clone()));
    assert_eq!(attr(navigation, "url.full"), Some(to));
    assert_eq!(attr(navigation, "url.path").as_deref(), Some("/@andrewbrown"));
    assert_eq!(attr(navigation, "otelweb.navigation.type").as_deref(), Some("push"));
    assert_eq!(attr(navigation, "url.template").as_deref(), Some("/@:handle"));
    assert_eq!(navigation.name, "/@:handle", "named by its template (given after the URL changed)");
    let all = exporter.finished_spans();
    let child = all.iter().find(|s| s.name == "load profile").expect("the view's span");
    assert_eq!(child.parent_span_id, navigation.span_context.span_id());
    assert!(
        // (The child's start is read just after it joined: allow a millisecond.)
        navigation.end_time_unix_nano + 1_000_000 >= child.start_time_unix_nano,
        "the navigation lasts until the view's work started"
    );
    // The replace back to `before` is a navigation too (a different URL).
    let spans = navigations(exporter, 2).await;
    assert_eq!(attr(&spans[1], "otelweb.navigation.type").as_deref(), Some("replace"));
    assert!(!set_route_template("/late"), "no navigation is open any more");
}

pub async fn same_url_is_nothing_and_back_is_a_traverse(exporter: &InMemoryExporter) {
    let before = href();
    exporter.reset();
    history("replaceState", &before).expect("same URL");
    sleep((QUIET_MS * 3.0) as i32).await;
    assert!(exporter.finished_spans().is_empty(), "{:#?}", exporter.finished_spans());

    history("pushState", "?step=2").expect("push");
    let pushed = href();
    let back: js_sys::Function = js_sys::Reflect::get(
        &js_sys::Reflect::get(&js_sys::global(), &"history".into()).expect("history"),
        &"back".into(),
    )
    .expect("back")
    .dyn_into()
    .expect("fn");
    back.call0(&js_sys::Reflect::get(&js_sys::global(), &"history".into()).expect("history"))
        .expect("back()");
    let spans = navigations(exporter, 2).await;
    let traverse = &spans[1];
    assert_eq!(attr(traverse, "otelweb.navigation.type").as_deref(), Some("traverse"));
    assert_eq!(attr(traverse, "otelweb.navigation.from"), Some(pushed));
    assert_eq!(attr(traverse, "url.full"), Some(before));
}

pub async fn a_template_given_before_the_url_changes_names_the_navigation_to_its_path(
    exporter: &InMemoryExporter,
) {
    let before = href();
    exporter.reset();
    // A router that matches first: the template comes before the URL changes.
    assert!(!set_route_template_for("/@somebody-else", "/@:wrong"), "nothing open yet");
    assert!(!set_route_template_for("/@pending", "/@:handle"), "nothing open yet");
    history("pushState", "/@pending").expect("push");
    // …and after, for the open navigation to that path only.
    assert!(!set_route_template_for("/elsewhere", "/:other"));
    let spans = navigations(exporter, 1).await;
    history("replaceState", &before).expect("restore");
    assert_eq!(attr(&spans[0], "url.template").as_deref(), Some("/@:handle"));
    assert_eq!(spans[0].name, "/@:handle", "named by its template (given before the URL changed)");
}
