//! [`Resource`]: what produced the spans (service, SDK, browser, session), sent once per export.
//!
//! Static facts about the browser go here; facts that change during the page's life (the URL,
//! the signed-in user) go on spans instead, through
//! [`TracerProvider::set_span_attribute`](crate::trace::TracerProvider::set_span_attribute).

use opentelemetry::{KeyValue, Value};

use crate::semconv;

/// The resource's attributes, deduplicated (the last value for a key wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resource {
    attributes: Vec<KeyValue>,
}

impl Resource {
    /// Starts a resource with the SDK's own `telemetry.sdk.*` attributes.
    pub fn builder() -> ResourceBuilder {
        ResourceBuilder::default()
    }

    /// All attributes.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
    }
}

/// Builds a [`Resource`].
#[derive(Debug, Default)]
pub struct ResourceBuilder {
    attributes: Vec<KeyValue>,
}

impl ResourceBuilder {
    /// `service.name` (the OpenTelemetry default is `unknown_service`).
    pub fn with_service_name(self, name: impl Into<Value>) -> Self {
        self.with_attribute(KeyValue::new(semconv::SERVICE_NAME, name))
    }

    /// `service.version`.
    pub fn with_service_version(self, version: impl Into<Value>) -> Self {
        self.with_attribute(KeyValue::new(semconv::SERVICE_VERSION, version))
    }

    /// `deployment.environment.name`.
    pub fn with_deployment_environment(self, environment: impl Into<Value>) -> Self {
        self.with_attribute(KeyValue::new(semconv::DEPLOYMENT_ENVIRONMENT_NAME, environment))
    }

    /// Any attribute; a later value for the same key replaces an earlier one.
    pub fn with_attribute(mut self, attribute: KeyValue) -> Self {
        self.attributes.retain(|kv| kv.key != attribute.key);
        self.attributes.push(attribute);
        self
    }

    /// Several attributes at once.
    pub fn with_attributes(self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        attributes.into_iter().fold(self, Self::with_attribute)
    }

    /// Adds what the browser says about itself: `user_agent.original`, `browser.language`, and
    /// (without the `sessions` feature, which puts the origin's session on spans instead) a
    /// `session.id` kept in `sessionStorage`, so it lasts as long as the tab. Does nothing
    /// outside a browser.
    pub fn with_browser_detection(self) -> Self {
        #[cfg(target_arch = "wasm32")]
        {
            self.with_attributes(detect::browser_attributes())
        }
        #[cfg(not(target_arch = "wasm32"))]
        self
    }

    /// Builds the resource, adding `telemetry.sdk.*` and, if missing,
    /// `service.name = unknown_service`.
    pub fn build(self) -> Resource {
        let mut attributes = vec![
            KeyValue::new(semconv::TELEMETRY_SDK_NAME, "otel-web"),
            KeyValue::new(semconv::TELEMETRY_SDK_LANGUAGE, "rust"),
            KeyValue::new(semconv::TELEMETRY_SDK_VERSION, env!("CARGO_PKG_VERSION")),
        ];
        if !self.attributes.iter().any(|kv| kv.key.as_str() == semconv::SERVICE_NAME) {
            attributes.push(KeyValue::new(semconv::SERVICE_NAME, "unknown_service"));
        }
        attributes.retain(|kv| !self.attributes.iter().any(|own| own.key == kv.key));
        attributes.extend(self.attributes);
        Resource { attributes }
    }
}

#[cfg(target_arch = "wasm32")]
mod detect {
    use opentelemetry::KeyValue;
    #[cfg(not(feature = "sessions"))]
    use wasm_bindgen::JsCast;

    use crate::semconv;

    /// The `sessionStorage` key holding this tab's `session.id`.
    #[cfg(not(feature = "sessions"))]
    pub(super) const SESSION_STORAGE_KEY: &str = "otel-web.session.id";

    pub(super) fn browser_attributes() -> Vec<KeyValue> {
        let mut attributes = Vec::new();
        let global = js_sys::global();
        let navigator = js_sys::Reflect::get(&global, &"navigator".into()).ok();
        let read = |name: &str| {
            navigator
                .as_ref()
                .and_then(|n| js_sys::Reflect::get(n, &name.into()).ok())
                .and_then(|v| v.as_string())
        };
        if let Some(agent) = read("userAgent") {
            attributes.push(KeyValue::new(semconv::USER_AGENT_ORIGINAL, agent));
        }
        if let Some(language) = read("language") {
            attributes.push(KeyValue::new(semconv::BROWSER_LANGUAGE, language));
        }
        // With the `sessions` feature, `session.id` is the origin's session and goes on spans.
        #[cfg(not(feature = "sessions"))]
        attributes.push(KeyValue::new(semconv::SESSION_ID, session_id()));
        attributes
    }

    #[cfg(not(feature = "sessions"))]
    fn session_id() -> String {
        let storage = js_sys::global()
            .dyn_into::<web_sys::Window>()
            .ok()
            .and_then(|w| w.session_storage().ok().flatten());
        if let Some(existing) = storage.as_ref().and_then(|s| s.get_item(SESSION_STORAGE_KEY).ok().flatten())
            && existing.len() == 32
            && existing.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return existing;
        }
        let id = format!("{:032x}", crate::platform::random::nonzero_u128());
        if let Some(storage) = storage {
            let _ = storage.set_item(SESSION_STORAGE_KEY, &id);
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_attributes_are_always_present_and_user_values_win() {
        let resource = Resource::builder()
            .with_service_name("frontend")
            .with_attribute(KeyValue::new("service.name", "cruddur-frontend"))
            .build();
        assert_eq!(resource.get("service.name"), Some(&Value::from("cruddur-frontend")));
        assert_eq!(resource.get("telemetry.sdk.name"), Some(&Value::from("otel-web")));
        assert_eq!(resource.attributes().iter().filter(|kv| kv.key.as_str() == "service.name").count(), 1);
        assert_eq!(Resource::builder().build().get("service.name"), Some(&Value::from("unknown_service")));
    }
}
