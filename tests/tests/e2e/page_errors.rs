//! What goes wrong on the page reaches the explorer: a Rust panic inside a traced action
//! arrives with the trace that led to it although the module aborted (the batch delay is ten
//! minutes, so only the panic hook's own send can deliver it, and its request starts before
//! the trap); uncaught JavaScript errors,
//! rejected promises and a long animation frame arrive as spans with their attribution.

use e2e::browser::Browser;
use e2e::explorer_api::{ExplorerApi, Span};
use e2e::stack::{Stack, StackOptions};

use crate::ARRIVAL;

fn frontend<'a>(trace: &'a [Span], name: &str) -> Option<&'a Span> {
    trace.iter().find(|s| s.service == "frontend" && s.name == name)
}

/// Issue #16 item 2: the panic test proves delivery after the module aborted.
#[tokio::test]
async fn a_rust_panic_inside_an_action_reaches_the_explorer_with_its_trace_before_the_module_aborts()
-> anyhow::Result<()> {
    let stack = Stack::start(StackOptions { browser_batch_delay_ms: 600_000, ..Default::default() }).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&format!("{}/debug/panic", stack.frontend)).await?;
    browser.wait_for("#debug-panic").await?;
    // The abort surfaces as an uncaught `RuntimeError: unreachable`: the page notes when, and
    // when the click came.
    browser
        .client
        .execute(
            "window.__errors = [];
             addEventListener('error', e => window.__errors.push({ message: String(e.message), at: e.timeStamp }));
             document.addEventListener('click', e => { window.__clickedAt ??= e.timeStamp; }, true);",
            vec![],
        )
        .await?;
    browser.click("#debug-panic").await?;

    let explorer = ExplorerApi::new(&stack.explorer.url);
    let trace = explorer
        .wait_for_trace(ARRIVAL, "the panicking action and its exception span", |t| {
            frontend(t, "debug panic").is_some()
                && frontend(t, "exception").is_some()
                && t.iter().any(|s| s.service != "frontend" && s.name == "GET /api/users")
        })
        .await?;
    let action = frontend(&trace, "debug panic").expect("action span");
    let exception = frontend(&trace, "exception").expect("exception span");
    assert_eq!(exception.trace_id, action.trace_id);
    assert_eq!(
        exception.parent_id.as_deref(),
        Some(action.span_id.as_str()),
        "the exception is the action's child"
    );
    assert_eq!(action.status_code, 2, "the action's status is Error");
    assert!(action.status_message.contains("a panic inside a traced action"), "{}", action.status_message);
    assert!(
        action.events.iter().any(|e| e["name"] == "exception"),
        "the panic is an event on the action: {:?}",
        action.events
    );
    assert_eq!(exception.attr("exception.type").as_deref(), Some("panic"));
    assert_eq!(exception.attr("otelweb.exception.source").as_deref(), Some("panic"));
    assert!(
        exception.attr("code.file.path").is_some_and(|f| f.ends_with("pages/debug.rs")),
        "{:?}",
        exception.attributes
    );
    assert!(exception.number("code.line.number").is_some_and(|l| l > 0.0));
    // The action's fetch carried its trace to the backend. (The browser's span of that fetch
    // waits for its resource timing entry, so it may still be open at the panic: it is not
    // reachable from the hook, and arrives only because the trapped instance keeps running.)
    assert!(
        trace.iter().any(|s| s.service != "frontend" && s.name == "GET /api/users"),
        "the backend's half of the trace: {trace:#?}"
    );

    // The module trapped, and the spans were on their way before it did: an export request
    // started between the click and the trap (none before: the batch delay is ten minutes).
    let timing = browser
        .client
        .execute(
            "const trap = window.__errors.find(e => e.message.includes('unreachable'));
             const exports = performance.getEntriesByType('resource')
               .filter(e => e.name.includes('/v1/traces')).map(e => e.startTime);
             return { clicked: window.__clickedAt, trap: trap ? trap.at : null, exports };",
            vec![],
        )
        .await?;
    let trap = timing["trap"].as_f64().ok_or_else(|| anyhow::anyhow!("no abort seen: {timing}"))?;
    let clicked = timing["clicked"].as_f64().unwrap_or(f64::NAN);
    let exports: Vec<f64> =
        timing["exports"].as_array().into_iter().flatten().filter_map(|t| t.as_f64()).collect();
    assert!(exports.iter().all(|t| *t > clicked), "an export before the panic: {timing}");
    assert!(exports.iter().any(|t| *t < trap), "no export started before the trap: {timing}");
    println!("panic: clicked at {clicked:.1} ms, export started at {exports:?}, trap at {trap:.1} ms");

    // wasm-bindgen (0.2.130, without exception handling) does not mark a trapped instance
    // dead, so the app can still run; the hook records once, so a second panic adds nothing.
    browser.click("#debug-panic").await?;
    // Absence can only be waited for: three seconds is far longer than a loopback fetch.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let exceptions = explorer
        .traces()
        .await?
        .iter()
        .flatten()
        .filter(|s| s.service == "frontend" && s.name == "exception")
        .count();
    assert_eq!(exceptions, 1, "the hook recorded a panic of the trapped module");
    browser.close().await
}

/// Issue #16 items 1 and 4 in Cruddur: a thrown error, a rejected promise and a 200 ms busy
/// loop, each its own trace.
#[tokio::test]
async fn uncaught_errors_rejections_and_a_long_frame_in_cruddur_reach_the_explorer() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.frontend).await?;
    browser.wait_for("#signin").await?;
    browser
        .client
        .execute(
            // An inline script is the page's own: its errors are not muted as "Script error."
            // (WebDriver's injected scripts would be).
            "const script = document.createElement('script');
             script.textContent = `
               setTimeout(() => { throw new TypeError('e2e: thrown from a timer'); });
               Promise.reject(new RangeError('e2e: rejected and never handled'));
               setTimeout(function busyLoopInCruddur() {
                 const end = performance.now() + 200; while (performance.now() < end) {}
               }, 50);`;
             document.head.appendChild(script);",
            vec![],
        )
        .await?;
    let explorer = ExplorerApi::new(&stack.explorer.url);
    let by_message = |message: &'static str| {
        move |t: &[Span]| t.iter().any(|s| s.attr("exception.message").as_deref() == Some(message))
    };
    let thrown =
        explorer.wait_for_trace(ARRIVAL, "the thrown error", by_message("e2e: thrown from a timer")).await?;
    assert_eq!(thrown[0].attr("exception.type").as_deref(), Some("TypeError"));
    assert_eq!(thrown[0].attr("otelweb.exception.source").as_deref(), Some("error"));
    assert!(thrown[0].attr("exception.stacktrace").is_some_and(|s| s.contains("e2e: thrown from a timer")));
    let rejected = explorer
        .wait_for_trace(ARRIVAL, "the rejection", by_message("e2e: rejected and never handled"))
        .await?;
    assert_eq!(rejected[0].attr("exception.type").as_deref(), Some("RangeError"));
    assert_eq!(rejected[0].attr("otelweb.exception.source").as_deref(), Some("unhandledrejection"));
    let frame = explorer
        .wait_for_trace(ARRIVAL, "the long frame", |t| {
            t.iter().any(|s| {
                s.name == "longAnimationFrame"
                    && s.attr("code.function.name").as_deref() == Some("busyLoopInCruddur")
            })
        })
        .await?;
    assert!(frame[0].duration_ms >= 199.0, "{}", frame[0].duration_ms);
    assert_eq!(frame[0].attr("otelweb.script.invoker").as_deref(), Some("TimerHandler:setTimeout"));
    browser.close().await
}
