//! The user's click is the root: a real click on "Crud" is a `click` span, Cruddur's
//! `post activity` action its child (the app passes no context), then the traced fetch, the
//! backend's SERVER span and the INSERT — one trace; following a link to a profile is a
//! `navigation` span under its click, with from/to, the route template and the new view's work.

use e2e::browser::Browser;
use e2e::explorer_api::{ExplorerApi, Span};
use e2e::stack::{Stack, StackOptions};

use crate::ARRIVAL;

fn named<'a>(trace: &'a [Span], service: &str, name: &str) -> &'a Span {
    trace
        .iter()
        .find(|s| s.service == service && s.name == name)
        .unwrap_or_else(|| panic!("no {service} span {name:?} in {:#?}", names(trace)))
}

fn names(trace: &[Span]) -> Vec<String> {
    trace.iter().map(|s| format!("{} {} <- {:?}", s.service, s.name, s.parent_id)).collect()
}

fn child_of(child: &Span, parent: &Span) {
    assert_eq!(
        child.parent_id.as_deref(),
        Some(parent.span_id.as_str()),
        "{} ({}) should be a child of {}",
        child.name,
        child.service,
        parent.name
    );
}

/// Whether `span` descends from `ancestor` in `trace`.
fn descends(trace: &[Span], span: &Span, ancestor: &Span) -> bool {
    let mut at = span;
    for _ in 0..trace.len() {
        match at.parent_id.as_deref() {
            Some(p) if p == ancestor.span_id => return true,
            Some(p) => match trace.iter().find(|s| s.span_id == p) {
                Some(parent) => at = parent,
                None => return false,
            },
            None => return false,
        }
    }
    false
}

#[tokio::test]
async fn a_click_on_crud_is_one_trace_down_to_the_insert_and_route_changes_are_navigations()
-> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.frontend).await?;
    browser.select("#signin", "andrewbrown").await?;
    browser.wait_for_text(".feed", "Cloud is very fun!").await?;

    let message = "One trace from the click";
    browser.fill("#compose-message", message).await?;
    browser.click("#compose-post").await?;
    browser.wait_for_text(".feed", message).await?;

    let explorer = ExplorerApi::new(&stack.explorer.url);
    let post = explorer
        .wait_for_trace(ARRIVAL, "the click on Crud, down to the INSERT", |t| {
            t.iter().any(|s| s.name == "click") && t.iter().any(|s| s.name == "INSERT activities")
        })
        .await?;
    let click = named(&post, "frontend", "click");
    let action = named(&post, "frontend", "post activity");
    let fetch = named(&post, "frontend", "POST /api/activities");
    let server = post.iter().find(|s| s.service == "backend" && s.kind == 2).expect("a SERVER span");
    let insert = named(&post, "backend", "INSERT activities");
    assert_eq!(click.parent_id, None, "the click is the root: {:#?}", names(&post));
    assert_eq!(click.attr("app.widget.id").as_deref(), Some("#compose-post"));
    assert_eq!(click.attr("otelweb.widget.tag").as_deref(), Some("button"));
    assert!(click.events.iter().any(|e| e["name"] == "submit"), "the form's submit is the click's");
    child_of(action, click);
    child_of(fetch, action);
    child_of(server, fetch);
    assert!(descends(&post, insert, server), "the INSERT is under the SERVER span");
    assert!(post.iter().all(|s| s.trace_id == click.trace_id));
    // The feed reloaded after the post: the click's work too, in its trace.
    assert!(post.iter().any(|s| s.name == "load home"), "{:#?}", names(&post));
    assert!(click.end_ns >= fetch.end_ns, "the click lasts until its fetches settled");

    // The explorer's waterfall of that trace, for the README.
    browser.client.goto(&format!("{}/traces/{}", stack.explorer.url, click.trace_id)).await?;
    browser.wait_for_text("h1", "Trace").await?;
    browser.screenshot("explorer-click-journey").await?;
    browser.client.back().await?;
    browser.wait_for_text(".feed", message).await?;

    // A route change: follow the author's link to the profile.
    browser.click(".activity a.handle").await?;
    browser.wait_for_text(".page.profile h2", "@andrewbrown").await?;
    let profile = explorer
        .wait_for_trace(ARRIVAL, "the navigation to the profile", |t| {
            t.iter().any(|s| s.name == "/:handle") && t.iter().any(|s| s.name == "load profile")
        })
        .await?;
    // Named by its route template, not by the handle in the URL.
    let navigation = named(&profile, "frontend", "/:handle");
    let click = named(&profile, "frontend", "click");
    child_of(navigation, click);
    assert_eq!(navigation.attr("url.template").as_deref(), Some("/:handle"), "{:#?}", navigation.attributes);
    assert_eq!(click.attr("otelweb.widget.tag").as_deref(), Some("a"));
    assert!(navigation.attr("otelweb.navigation.from").is_some_and(|from| from.ends_with('/')));
    assert!(navigation.attr("url.full").is_some_and(|to| to.ends_with("/@andrewbrown")));
    assert_eq!(navigation.attr("url.path").as_deref(), Some("/@andrewbrown"));
    assert_eq!(navigation.attr("otelweb.navigation.type").as_deref(), Some("push"));
    // Leptos' router renders the new view (and starts its resource) before it pushes the URL, so
    // the view's work starts while only the click is open: the click's child, the navigation's
    // sibling — one trace either way (see otel_web::instrument::soft_navigations).
    let load = named(&profile, "frontend", "load profile");
    assert!(
        load.parent_id.as_deref() == Some(click.span_id.as_str())
            || load.parent_id.as_deref() == Some(navigation.span_id.as_str()),
        "{:#?}",
        names(&profile)
    );
    let server =
        profile.iter().find(|s| s.service == "backend" && s.kind == 2).expect("the profile's SERVER span");
    assert!(descends(&profile, server, load), "the view's request continues its fetch");
    assert!(profile.iter().all(|s| s.trace_id == click.trace_id));
    Ok(())
}
