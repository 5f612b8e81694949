//! A short CSS-like selector naming an element, built as `web-vitals` builds it: from the node
//! up, each step `#id` or `tag.class.class` (classes sorted), joined by `>`, stopping at the
//! first id, at the document, or before the selector would pass 100 characters.

/// One node on the way up.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Step {
    /// The element's id (empty if none).
    pub(crate) id: String,
    /// The tag, lower case (`TEXT` for a text node).
    pub(crate) name: String,
    pub(crate) classes: Vec<String>,
}

/// The longest selector, in UTF-16 code units as JavaScript counts.
const MAX_LEN: usize = 100;

fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The selector for `steps`, from the node itself upwards (ending at the document).
pub(crate) fn selector(steps: impl IntoIterator<Item = Step>) -> String {
    let mut selector = String::new();
    for step in steps {
        let part = if step.id.is_empty() {
            let mut classes = step.classes;
            classes.sort();
            classes.dedup();
            std::iter::once(step.name).chain(classes).collect::<Vec<_>>().join(".")
        } else {
            format!("#{}", step.id)
        };
        if js_len(&selector) + js_len(&part) > MAX_LEN - 1 {
            return if selector.is_empty() { part } else { selector };
        }
        selector = if selector.is_empty() { part } else { format!("{part}>{selector}") };
        if !step.id.is_empty() {
            break;
        }
    }
    selector
}

/// The selector of a DOM node (`null` or anything that is not a node gives `""`). Read through
/// `Reflect`, so a node of any kind (an SVG element, a text node) or a hostile getter cannot
/// throw into the page.
#[cfg(target_arch = "wasm32")]
pub(crate) fn of_node(node: &wasm_bindgen::JsValue) -> String {
    use js_sys::Reflect;
    use wasm_bindgen::{JsCast, JsValue};

    const ELEMENT_NODE: f64 = 1.0;
    const DOCUMENT_NODE: f64 = 9.0;
    let text = |value: &JsValue, key: &str| {
        Reflect::get(value, &key.into()).ok().and_then(|v| v.as_string()).unwrap_or_default()
    };
    let mut steps = Vec::new();
    let mut current = node.clone();
    // Bounded: no real document is deeper, and a cycle cannot hang the page.
    while current.is_object() && steps.len() < 256 {
        let node_type = Reflect::get(&current, &"nodeType".into()).ok().and_then(|v| v.as_f64());
        let Some(node_type) = node_type else { break };
        if node_type == DOCUMENT_NODE {
            break;
        }
        let name = text(&current, "nodeName");
        let step = if node_type == ELEMENT_NODE {
            let classes = Reflect::get(&current, &"getAttribute".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .and_then(|f| f.call1(&current, &"class".into()).ok())
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            Step {
                id: text(&current, "id"),
                name: name.to_lowercase(),
                classes: classes.split_ascii_whitespace().map(str::to_owned).collect(),
            }
        } else {
            Step { name: name.to_uppercase().trim_start_matches('#').to_owned(), ..Default::default() }
        };
        let stop = !step.id.is_empty();
        steps.push(step);
        if stop {
            break;
        }
        current = Reflect::get(&current, &"parentNode".into()).unwrap_or(JsValue::NULL);
    }
    selector(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, name: &str, classes: &[&str]) -> Step {
        Step { id: id.into(), name: name.into(), classes: classes.iter().map(|c| (*c).to_owned()).collect() }
    }

    #[test]
    fn steps_join_from_the_nearest_id_with_sorted_classes() {
        let steps = [step("", "img", &["hero", "big"]), step("", "div", &[]), step("main", "main", &["x"])];
        assert_eq!(selector(steps), "#main>div>img.big.hero");
    }

    #[test]
    fn the_selector_stops_before_100_characters() {
        let long = "c".repeat(60);
        let steps = [step("", "p", &[]), step("", "div", &[&long]), step("", "section", &[&long])];
        assert_eq!(selector(steps), format!("div.{long}>p"));
        let huge = "h".repeat(150);
        assert_eq!(selector([step("", "p", &[&huge])]), format!("p.{huge}"), "a single step is kept whole");
    }

    #[test]
    fn text_nodes_and_the_document_end() {
        assert_eq!(selector([step("", "TEXT", &[]), step("", "h1", &[])]), "h1>TEXT");
        assert_eq!(selector(Vec::new()), "");
    }
}
