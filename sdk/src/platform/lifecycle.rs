//! Page lifecycle: `visibilitychange` and `pagehide`, the last moments a page can send data.
//!
//! Browsers may discard a hidden page without another event, so "hidden" is treated as the end
//! (as the Page Lifecycle API recommends), and "visible again" as a return to normal batching.

/// Event listeners on `document` and `window`; removed when dropped.
#[derive(Debug)]
pub(crate) struct PageLifecycle {
    #[cfg(target_arch = "wasm32")]
    listeners: Vec<imp::Listener>,
}

impl PageLifecycle {
    /// Calls `on_hidden` when the page is hidden or being unloaded and `on_visible` when it
    /// is shown again. `None` outside a browser window (workers, native tests).
    pub(crate) fn watch(on_hidden: impl Fn() + 'static, on_visible: impl Fn() + 'static) -> Option<Self> {
        #[cfg(target_arch = "wasm32")]
        {
            imp::watch(on_hidden, on_visible)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = (on_hidden, on_visible);
            None
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::rc::Rc;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    use super::PageLifecycle;

    /// An event listener: its target, event name and callback.
    pub(crate) type Listener = (web_sys::EventTarget, &'static str, Closure<dyn FnMut()>);

    pub(super) fn watch(
        on_hidden: impl Fn() + 'static,
        on_visible: impl Fn() + 'static,
    ) -> Option<PageLifecycle> {
        let window = js_sys::global().dyn_into::<web_sys::Window>().ok()?;
        let document = window.document()?;
        let on_hidden = Rc::new(on_hidden);
        let hidden_for_visibility = Rc::clone(&on_hidden);
        let doc = document.clone();
        let visibility = Closure::<dyn FnMut()>::new(move || {
            if doc.visibility_state() == web_sys::VisibilityState::Hidden {
                hidden_for_visibility();
            } else {
                on_visible();
            }
        });
        let pagehide = Closure::<dyn FnMut()>::new(move || on_hidden());
        let mut listeners = Vec::new();
        let document: web_sys::EventTarget = document.into();
        let window: web_sys::EventTarget = window.into();
        for (target, event, closure) in
            [(document, "visibilitychange", visibility), (window, "pagehide", pagehide)]
        {
            if target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref()).is_ok() {
                listeners.push((target, event, closure));
            }
        }
        Some(PageLifecycle { listeners })
    }

    impl Drop for PageLifecycle {
        fn drop(&mut self) {
            for (target, event, closure) in &self.listeners {
                let _ = target.remove_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
            }
        }
    }
}
