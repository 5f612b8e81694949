//! User interactions in headless Chromium: a click parents the fetches its handler starts
//! (synchronously and in a `spawn_local` future) and the receiver sees its trace; a click with
//! no work is one short span; a form's submit belongs to the click that fired it; what is not an
//! interaction is not recorded; selectors find their element again; rage clicks; the ambient
//! window's limit and `otel_web::spawn_local` past it; a click on a link that pushes a route
//! parents the navigation (with `soft-navigations`).
#![cfg(all(target_arch = "wasm32", feature = "interactions"))]

mod support;

use opentelemetry::trace::{SpanId, Tracer as _};
use opentelemetry::{Value, global};
use otel_web::export::InMemoryExporter;
use otel_web::fetch::{self, FetchConfig, OriginMatcher};
use otel_web::instrument::interactions::Interactions;
use otel_web::instrument::{Instrumentation, Options};
use otel_web::trace::{SpanData, TracerProvider};
use support::{Receiver, receiver_base, sleep};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const QUIET_MS: f64 = 60.0;

/// A fresh global provider exporting to memory, the fetch settings, and the instrumentation.
fn setup() -> (TracerProvider, InMemoryExporter) {
    let exporter = InMemoryExporter::default();
    let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    global::set_tracer_provider(provider.clone());
    global::set_text_map_propagator(otel_web::propagation::default_propagator());
    fetch::configure(FetchConfig {
        propagate_to: vec![OriginMatcher::parse(receiver_base()).expect("origin")],
        ..Default::default()
    });
    Interactions.start(&provider, &Options::default().with("quietMs", QUIET_MS));
    (provider, exporter)
}

/// Puts `html` at the end of the body, in a container with a fresh id; returns the container.
fn mount(html: &str) -> web_sys::Element {
    let document = web_sys::window().expect("window").document().expect("document");
    let id = format!("mount-{}", (js_sys::Math::random() * 1e9) as u64);
    let body = document.query_selector("body").expect("query").expect("body");
    body.insert_adjacent_html("beforeend", &format!("<div id=\"{id}\">{html}</div>")).expect("html");
    document.get_element_by_id(&id).expect("mounted")
}

fn find(root: &web_sys::Element, selector: &str) -> web_sys::Element {
    root.query_selector(selector).expect("selector").expect(selector)
}

/// `element.click()`: a synthetic click, with the element's activation behaviour (submit).
fn click(element: &web_sys::Element) {
    let f: js_sys::Function =
        js_sys::Reflect::get(element, &"click".into()).expect("click").dyn_into().expect("function");
    f.call0(element).expect("click()");
}

fn key(element: &web_sys::Element, key: &str) {
    let init = js_sys::Object::new();
    js_sys::Reflect::set(&init, &"key".into(), &key.into()).expect("key");
    js_sys::Reflect::set(&init, &"bubbles".into(), &true.into()).expect("bubbles");
    let ctor: js_sys::Function = js_sys::Reflect::get(&js_sys::global(), &"KeyboardEvent".into())
        .expect("ctor")
        .dyn_into()
        .expect("fn");
    let event =
        js_sys::Reflect::construct(&ctor, &js_sys::Array::of2(&"keydown".into(), &init)).expect("event");
    element.dispatch_event(event.unchecked_ref()).expect("dispatch");
}

fn listen(element: &web_sys::Element, event: &str, handler: impl FnMut(web_sys::Event) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    element.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref()).expect("listen");
    closure.forget();
}

/// `history[method](null, "", url)`.
fn history(method: &str, url: &str) {
    let history = js_sys::Reflect::get(&js_sys::global(), &"history".into()).expect("history");
    let f: js_sys::Function =
        js_sys::Reflect::get(&history, &method.into()).expect(method).dyn_into().expect("fn");
    f.call3(&history, &JsValue::NULL, &"".into(), &url.into()).expect(method);
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attribute(key).map(Value::to_string)
}

/// The spans of `scope` once `count` have ended (or panics after 4 s).
async fn ended(exporter: &InMemoryExporter, scope: &str, count: usize) -> Vec<SpanData> {
    for _ in 0..200 {
        let spans: Vec<SpanData> =
            exporter.finished_spans().into_iter().filter(|s| s.scope.name() == scope).collect();
        if spans.len() >= count {
            return spans;
        }
        sleep(20).await;
    }
    panic!("fewer than {count} {scope} spans ended: {:#?}", exporter.finished_spans());
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}: {spans:#?}"))
}

#[wasm_bindgen_test]
async fn a_click_parents_the_fetches_its_handler_starts_synchronously_and_in_spawn_local() {
    let (_provider, exporter) = setup();
    fetch::install_global().expect("patch fetch");
    let receiver = Receiver::new("click");
    let root = mount(r#"<form><button type="button" id="load-more">Load <b>more</b></button></form>"#);
    let button = find(&root, "#load-more");
    let (sync_url, spawned_url) =
        (format!("{}/api/sync", receiver.base), format!("{}/api/spawned", receiver.base));
    listen(&button, "click", move |_| {
        // Started synchronously in the handler: a span, and a fetch through the page's `fetch`.
        drop(global::tracer("app").start("handler work"));
        let _ = web_sys::window().expect("window").fetch_with_str(&sync_url);
        // A future spawned by the handler, fetching after the dispatch is long over.
        let url = spawned_url.clone();
        wasm_bindgen_futures::spawn_local(async move {
            sleep(20).await;
            let _ = fetch::fetch(web_sys::Request::new_with_str(&url).expect("request")).await;
        });
    });
    // The click lands on the <b> inside: the span is the button's.
    click(&find(&root, "#load-more b"));

    let clicks = ended(&exporter, "otel-web.interactions", 1).await;
    let fetches = ended(&exporter, "otel-web.fetch", 2).await;
    fetch::uninstall_global().expect("unpatch");
    let click = named(&clicks, "click");
    assert_eq!(click.parent_span_id, SpanId::INVALID, "a click starts a trace");
    assert_eq!(attr(click, "app.widget.id").as_deref(), Some("#load-more"));
    assert_eq!(attr(click, "otelweb.widget.tag").as_deref(), Some("button"));
    assert_eq!(attr(click, "app.widget.name").as_deref(), Some("Load more"));
    let work = named(&exporter.finished_spans(), "handler work").clone();
    assert_eq!(work.parent_span_id, click.span_context.span_id(), "the handler's own span");
    let requests = receiver.requests().await;
    for path in ["/api/sync", "/api/spawned"] {
        let span = fetches
            .iter()
            .find(|s| attr(s, "url.full").is_some_and(|u| u.ends_with(path)))
            .unwrap_or_else(|| panic!("no fetch span for {path}: {fetches:#?}"));
        assert_eq!(span.span_context.trace_id(), click.span_context.trace_id(), "{path}");
        assert_eq!(span.parent_span_id, click.span_context.span_id(), "{path} is the click's child");
        // The server continues the fetch span: its traceparent names it.
        let request = requests
            .iter()
            .find(|r| r["path"] == path && r["method"] == "GET")
            .unwrap_or_else(|| panic!("{path} not received"));
        let expected = format!("00-{}-{}-03", span.span_context.trace_id(), span.span_context.span_id());
        assert_eq!(request["headers"]["traceparent"], expected.as_str(), "{path}");
        assert!(
            click.end_time_unix_nano >= span.end_time_unix_nano,
            "the click lasts until its last fetch settled ({path})"
        );
    }
}

#[wasm_bindgen_test]
async fn a_click_with_no_work_is_one_short_span() {
    let (_provider, exporter) = setup();
    let root = mount(r#"<button class="noop">Nothing</button>"#);
    exporter.reset();
    click(&find(&root, "button.noop"));
    let spans = ended(&exporter, "otel-web.interactions", 1).await;
    sleep((QUIET_MS * 3.0) as i32).await;
    let all = exporter.finished_spans();
    assert_eq!(all.len(), 1, "one span and nothing else: {all:#?}");
    let span = &spans[0];
    let ms = (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e6;
    assert!(ms < QUIET_MS / 2.0, "the dispatch's time, not the quiet period: {ms} ms");
    assert!(attr(span, "app.widget.id").is_some_and(|id| id.ends_with("button.noop")), "{span:?}");
}

#[wasm_bindgen_test]
async fn a_submit_fired_by_a_click_on_its_button_belongs_to_the_click() {
    let (_provider, exporter) = setup();
    let root = mount(
        r#"<form class="compose"><textarea></textarea><button id="post" type="submit">Crud</button></form>"#,
    );
    let form = find(&root, "form.compose");
    listen(&form, "submit", |event| {
        event.prevent_default();
        // The app's action starts in a future, with no parent given.
        wasm_bindgen_futures::spawn_local(async {
            drop(global::tracer("app").start("post activity"));
        });
    });
    exporter.reset();
    click(&find(&root, "#post"));
    let spans = ended(&exporter, "otel-web.interactions", 1).await;
    sleep((QUIET_MS * 2.0) as i32).await;
    assert_eq!(spans.len(), 1, "no separate submit span: {spans:#?}");
    let click = named(&spans, "click");
    assert!(click.events.iter().any(|e| e.name == "submit"), "the submit is an event on the click");
    let action = named(&exporter.finished_spans(), "post activity").clone();
    assert_eq!(action.parent_span_id, click.span_context.span_id());

    // A submit nobody clicked for (requestSubmit from code) is its own span.
    exporter.reset();
    let request_submit: js_sys::Function =
        js_sys::Reflect::get(&form, &"requestSubmit".into()).expect("requestSubmit").dyn_into().expect("fn");
    request_submit.call0(&form).expect("requestSubmit()");
    let spans = ended(&exporter, "otel-web.interactions", 1).await;
    assert_eq!(named(&spans, "submit").name, "submit");
}

#[wasm_bindgen_test]
async fn only_interactive_elements_and_activation_keys_are_interactions() {
    let (_provider, exporter) = setup();
    let root = mount(
        r#"<div class="plain">text</div><div role="button" tabindex="0" class="fake">Menu</div><button class="real">B</button>"#,
    );
    exporter.reset();
    click(&find(&root, "div.plain"));
    key(&find(&root, "div.fake"), "a");
    key(&find(&root, "button.real"), "Enter"); // the browser turns it into a click, recorded then
    sleep((QUIET_MS * 3.0) as i32).await;
    assert!(exporter.finished_spans().is_empty(), "{:#?}", exporter.finished_spans());

    key(&find(&root, "div.fake"), "Enter");
    let spans = ended(&exporter, "otel-web.interactions", 1).await;
    let span = named(&spans, "keydown");
    assert_eq!(attr(span, "otelweb.interaction.key").as_deref(), Some("Enter"));
    assert_eq!(attr(span, "app.widget.name"), None, "a div's text is not recorded");
}

#[wasm_bindgen_test]
async fn selectors_find_their_element_again_whatever_its_id_and_classes() {
    let (_provider, exporter) = setup();
    let root = mount(
        r#"<ul><li><button class="item 9lives">one</button></li><li><button class="item 9lives">two</button></li></ul>
           <button id="1 a.b:c">odd id</button>"#,
    );
    let document = web_sys::window().expect("window").document().expect("document");
    for target in [
        root.query_selector_all("button.item")
            .expect("all")
            .get(1)
            .expect("second")
            .dyn_into::<web_sys::Element>()
            .expect("el"),
        document.get_element_by_id("1 a.b:c").expect("odd"),
    ] {
        exporter.reset();
        click(&target);
        let spans = ended(&exporter, "otel-web.interactions", 1).await;
        let selector = attr(&spans[0], "app.widget.id").expect("selector");
        let found = document.query_selector(&selector).unwrap_or_else(|e| panic!("{selector}: {e:?}"));
        assert!(found.is_some_and(|f| js_sys::Object::is(&f, &target)), "{selector} finds another element");
    }
}

#[wasm_bindgen_test]
async fn the_third_quick_click_on_one_element_is_a_rage_click() {
    let (_provider, exporter) = setup();
    let root = mount(r#"<button class="rage">Pay</button>"#);
    exporter.reset();
    let button = find(&root, "button.rage");
    for _ in 0..3 {
        click(&button);
        sleep(10).await;
    }
    let spans = ended(&exporter, "otel-web.interactions", 3).await;
    let counts: Vec<Option<String>> =
        spans.iter().map(|s| attr(s, "otelweb.interaction.rage_count")).collect();
    assert_eq!(counts, [None, None, Some("3".to_owned())]);
}

#[wasm_bindgen_test]
async fn work_after_the_window_starts_its_own_trace_unless_spawned_with_otel_web_spawn_local() {
    let (_provider, exporter) = setup();
    let root = mount(r#"<button class="late">Later</button>"#);
    let late = (QUIET_MS * 4.0) as i32;
    listen(&find(&root, "button.late"), "click", move |_| {
        wasm_bindgen_futures::spawn_local(async move {
            sleep(late).await;
            drop(global::tracer("app").start("plain spawn"));
        });
        otel_web::spawn_local(async move {
            sleep(late).await;
            drop(global::tracer("app").start("carried"));
        });
    });
    exporter.reset();
    click(&find(&root, "button.late"));
    sleep(late * 2).await;
    let spans = exporter.finished_spans();
    let click = named(&spans, "click");
    assert_eq!(named(&spans, "plain spawn").parent_span_id, SpanId::INVALID, "the ambient window is over");
    assert_eq!(named(&spans, "carried").parent_span_id, click.span_context.span_id());
}

#[cfg(feature = "soft-navigations")]
#[wasm_bindgen_test]
async fn a_click_on_a_link_that_pushes_a_route_parents_the_navigation_and_its_fetch() {
    use otel_web::instrument::soft_navigations::SoftNavigations;
    let (provider, exporter) = setup();
    SoftNavigations.start(&provider, &Options::default().with("quietMs", QUIET_MS));
    let receiver = Receiver::new("link");
    let root = mount(r#"<nav><a href="/notifications" class="route">Notifications</a></nav>"#);
    let before = web_sys::window().expect("window").location().href().expect("href");
    let url = format!("{}/api/notifications", receiver.base);
    listen(&find(&root, "a.route"), "click", move |event| {
        event.prevent_default();
        history("pushState", "?route=notifications");
        let url = url.clone();
        // The new view loads its data, with no parent given.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = fetch::fetch(web_sys::Request::new_with_str(&url).expect("request")).await;
        });
    });
    exporter.reset();
    click(&find(&root, "a.route"));
    let navigations = ended(&exporter, "otel-web.soft-navigations", 1).await;
    let clicks = ended(&exporter, "otel-web.interactions", 1).await;
    let fetches = ended(&exporter, "otel-web.fetch", 1).await;
    history("replaceState", &before);
    let (click, navigation, fetch) = (named(&clicks, "click"), &navigations[0], &fetches[0]);
    assert_eq!(navigation.parent_span_id, click.span_context.span_id());
    assert_eq!(fetch.parent_span_id, navigation.span_context.span_id(), "the new view's fetch");
    assert_eq!(attr(navigation, "otelweb.navigation.from").as_deref(), Some(before.as_str()));
    assert!(attr(navigation, "url.full").is_some_and(|u| u.ends_with("?route=notifications")));
}
