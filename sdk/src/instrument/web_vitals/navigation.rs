//! What the navigation entry says: TTFB and its parts, LCP's and FCP's sub-parts, and the
//! document's load state at a moment — all relative to `activationStart`, so a prerendered
//! page is measured from when the user actually saw it.

/// The navigation entry's fields the vitals need (ms on the page's clock).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct NavigationTiming {
    pub(crate) activation_start: f64,
    pub(crate) worker_start: f64,
    pub(crate) fetch_start: f64,
    pub(crate) domain_lookup_start: f64,
    pub(crate) connect_start: f64,
    pub(crate) connect_end: f64,
    pub(crate) response_start: f64,
    pub(crate) dom_interactive: f64,
    pub(crate) dom_content_loaded_event_start: f64,
    pub(crate) dom_complete: f64,
}

impl NavigationTiming {
    /// TTFB: the first byte, from activation, never negative.
    pub(crate) fn ttfb(&self) -> f64 {
        (self.response_start - self.activation_start).max(0.0)
    }

    /// TTFB's parts: waiting (before the fetch), cache (service worker, HTTP cache), DNS,
    /// connection, and the request itself up to `ttfb`.
    pub(crate) fn ttfb_parts(&self, ttfb: f64) -> TtfbParts {
        let a = self.activation_start;
        let fetch = if self.worker_start != 0.0 { self.worker_start } else { self.fetch_start };
        let wait_end = (fetch - a).max(0.0);
        let dns_start = (self.domain_lookup_start - a).max(0.0);
        let connect_start = (self.connect_start - a).max(0.0);
        let connect_end = (self.connect_end - a).max(0.0);
        TtfbParts {
            waiting: wait_end,
            cache: dns_start - wait_end,
            dns: connect_start - dns_start,
            connection: connect_end - connect_start,
            request: ttfb - connect_end,
        }
    }

    /// The document's state at `time`: `loading`, `dom-interactive`, `dom-content-loaded` or
    /// `complete` (`still_loading` is `document.readyState == "loading"` now).
    pub(crate) fn load_state(&self, time: f64, still_loading: bool) -> &'static str {
        if still_loading || time < self.dom_interactive {
            "loading"
        } else if self.dom_content_loaded_event_start == 0.0 || time < self.dom_content_loaded_event_start {
            "dom-interactive"
        } else if self.dom_complete == 0.0 || time < self.dom_complete {
            "dom-content-loaded"
        } else {
            "complete"
        }
    }

    /// LCP's sub-parts for an LCP of `value` whose resource (if any) was requested at
    /// `request_start` (its `requestStart`, or `startTime` without Timing-Allow-Origin) and ended
    /// at `response_end`. They add up to `value`.
    pub(crate) fn lcp_parts(&self, value: f64, resource: Option<(f64, f64)>) -> LcpParts {
        let a = self.activation_start;
        let ttfb = self.ttfb();
        let request_start = ttfb.max(resource.map(|(start, _)| start - a).unwrap_or(0.0));
        let response_end = value.min(request_start.max(resource.map(|(_, end)| end - a).unwrap_or(0.0)));
        LcpParts {
            time_to_first_byte: ttfb,
            resource_load_delay: request_start - ttfb,
            resource_load_duration: response_end - request_start,
            element_render_delay: value - response_end,
        }
    }
}

/// TTFB split into what it waited on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TtfbParts {
    pub(crate) waiting: f64,
    pub(crate) cache: f64,
    pub(crate) dns: f64,
    pub(crate) connection: f64,
    pub(crate) request: f64,
}

/// LCP split into the document's first byte, the wait before its resource was requested, the
/// resource's load, and the render after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LcpParts {
    pub(crate) time_to_first_byte: f64,
    pub(crate) resource_load_delay: f64,
    pub(crate) resource_load_duration: f64,
    pub(crate) element_render_delay: f64,
}

impl LcpParts {
    /// Without a navigation entry, it is all render delay.
    pub(crate) fn all_render(value: f64) -> Self {
        Self {
            time_to_first_byte: 0.0,
            resource_load_delay: 0.0,
            resource_load_duration: 0.0,
            element_render_delay: value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav() -> NavigationTiming {
        NavigationTiming {
            fetch_start: 2.0,
            domain_lookup_start: 5.0,
            connect_start: 9.0,
            connect_end: 20.0,
            response_start: 120.0,
            dom_interactive: 300.0,
            dom_content_loaded_event_start: 310.0,
            dom_complete: 900.0,
            ..Default::default()
        }
    }

    #[test]
    fn ttfb_parts_add_up_to_ttfb() {
        let n = nav();
        let p = n.ttfb_parts(n.ttfb());
        assert_eq!((p.waiting, p.cache, p.dns, p.connection, p.request), (2.0, 3.0, 4.0, 11.0, 100.0));
        assert_eq!(p.waiting + p.cache + p.dns + p.connection + p.request, n.ttfb());
    }

    #[test]
    fn a_prerendered_page_is_measured_from_activation_and_clamped_at_zero() {
        let n = NavigationTiming { activation_start: 500.0, ..nav() };
        assert_eq!(n.ttfb(), 0.0, "the first byte came before the user saw the page");
        let p = n.lcp_parts(700.0, Some((400.0, 650.0)));
        assert_eq!(p.time_to_first_byte, 0.0);
        assert_eq!(p.resource_load_delay, 0.0);
        assert_eq!(p.resource_load_duration, 150.0);
        assert_eq!(p.element_render_delay, 550.0);
    }

    #[test]
    fn lcp_parts_add_up_and_a_resource_still_loading_is_capped_at_lcp() {
        let n = nav();
        let p = n.lcp_parts(1000.0, Some((400.0, 700.0)));
        assert_eq!(
            (p.time_to_first_byte, p.resource_load_delay, p.resource_load_duration, p.element_render_delay),
            (120.0, 280.0, 300.0, 300.0)
        );
        let video = n.lcp_parts(1000.0, Some((400.0, 5000.0)));
        assert_eq!(video.resource_load_duration, 600.0);
        assert_eq!(video.element_render_delay, 0.0);
        let text = n.lcp_parts(1000.0, None);
        assert_eq!(
            (text.resource_load_delay, text.resource_load_duration, text.element_render_delay),
            (0.0, 0.0, 880.0)
        );
    }

    #[test]
    fn load_states_follow_the_navigation_milestones() {
        let n = nav();
        assert_eq!(n.load_state(100.0, false), "loading");
        assert_eq!(n.load_state(305.0, false), "dom-interactive");
        assert_eq!(n.load_state(500.0, false), "dom-content-loaded");
        assert_eq!(n.load_state(900.0, false), "complete");
        assert_eq!(n.load_state(900.0, true), "loading");
        let early = NavigationTiming { dom_content_loaded_event_start: 0.0, ..n };
        assert_eq!(early.load_state(5000.0, false), "dom-interactive");
    }
}
