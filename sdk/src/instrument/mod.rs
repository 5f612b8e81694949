//! Instrumentations: what otel-web watches on the page besides the fetches it traces — the
//! document load, web vitals, sessions, errors, interactions and so on.
//!
//! Each one is a module behind its own cargo feature, so an app that does not enable it ships
//! none of its bytes, and implements one small trait, [`Instrumentation`]. [`crate::init`]
//! starts every instrumentation compiled in, unless the configuration switches it off, so a
//! page can turn one off (or tune it) without a rebuild:
//!
//! ```html
//! <script type="application/json" id="otel-web-config">
//!   { "instrumentations": { "documentLoad": false, "sessions": { "inactivityTimeoutMs": 600000 } } }
//! </script>
//! ```
//!
//! or in Rust:
//!
//! ```
//! use otel_web::instrument::Options;
//!
//! let config = otel_web::Config::default()
//!     .with_instrumentation("documentLoad", false)
//!     .with_instrumentation_options("sessions", Options::default().with("inactivityTimeoutMs", 600_000.0));
//! # let _ = config;
//! ```
//!
//! Naming an instrumentation this build does not have is a [`ConfigError`] that names the
//! cargo feature it needs. Instrumentations never break the page: where the browser lacks an
//! API they need, they stay silent.

#[cfg(any(feature = "interactions", feature = "soft-navigations"))]
pub mod ambient;
#[cfg(any(feature = "errors", feature = "long-frames"))]
mod budget;
#[cfg(feature = "document-load")]
pub mod document_load;
#[cfg(feature = "errors")]
pub mod errors;
#[cfg(feature = "interactions")]
pub mod interactions;
#[cfg(feature = "long-frames")]
pub mod long_frames;
#[cfg(any(feature = "document-load", feature = "web-vitals"))]
pub(crate) mod page_load;
#[cfg(feature = "sessions")]
pub mod sessions;
#[cfg(feature = "soft-navigations")]
pub mod soft_navigations;
#[cfg(feature = "web-vitals")]
pub mod web_vitals;

use crate::error::ConfigError;
use crate::trace::TracerProvider;

/// Something otel-web watches on the page, installed by [`crate::init`].
///
/// Contract: `check` validates the options (called by [`crate::Config::validate`], before
/// anything starts); `start` is called at most once per `init`, after the provider is the
/// global one, and must not panic or throw — a missing browser API means doing nothing.
pub trait Instrumentation: Sync {
    /// Its key in the configuration's `instrumentations` (`documentLoad`, `webVitals`, …).
    fn name(&self) -> &'static str;
    /// Checks the options; the error names the field (`instrumentations.<name>.<option>`).
    fn check(&self, _options: &Options) -> Result<(), ConfigError> {
        Ok(())
    }
    /// Starts watching the page.
    fn start(&self, provider: &TracerProvider, options: &Options);
}

/// Every instrumentation there is, and the cargo feature that compiles it in: a configuration
/// that names one this build lacks is told which feature to enable.
const KNOWN: &[(&str, &str)] = &[
    ("documentLoad", "document-load"),
    ("webVitals", "web-vitals"),
    ("sessions", "sessions"),
    ("errors", "errors"),
    ("interactions", "interactions"),
    ("longAnimationFrames", "long-frames"),
    ("softNavigations", "soft-navigations"),
];

/// The instrumentations compiled into this build.
pub(crate) fn registered() -> &'static [&'static dyn Instrumentation] {
    &[
        // First, so that the spans of every later instrumentation carry `session.id`.
        #[cfg(feature = "sessions")]
        &sessions::Sessions,
        #[cfg(feature = "document-load")]
        &document_load::DocumentLoad,
        #[cfg(feature = "errors")]
        &errors::Errors,
        #[cfg(feature = "long-frames")]
        &long_frames::LongFrames,
        #[cfg(feature = "web-vitals")]
        &web_vitals::WebVitals,
        #[cfg(feature = "interactions")]
        &interactions::Interactions,
        #[cfg(feature = "soft-navigations")]
        &soft_navigations::SoftNavigations,
    ]
}

/// One option's value, as JSON on the page would give it.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
}

/// An instrumentation's options: `{"inactivityTimeoutMs": 600000}` on the page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    values: Vec<(String, OptionValue)>,
}

impl Options {
    /// Sets `key` (a later value replaces an earlier one).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<OptionValue>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.values.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.values.push((key, value)),
        }
        self
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&OptionValue> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Every key set, for instrumentations that refuse keys they do not know.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|(k, _)| k.as_str())
    }

    /// `key` as a boolean, `default` when unset; the error names `field`.
    pub fn bool(&self, field: &'static str, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(OptionValue::Bool(b)) => Ok(*b),
            Some(other) => Err(ConfigError::field(field, format!("must be true or false, got {other:?}"))),
        }
    }

    /// `key` as a finite number from `min` to `max`, `default` when unset.
    pub fn number(
        &self,
        field: &'static str,
        key: &str,
        default: f64,
        (min, max): (f64, f64),
    ) -> Result<f64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(OptionValue::Number(n)) if n.is_finite() && (min..=max).contains(n) => Ok(*n),
            Some(other) => Err(ConfigError::field(
                field,
                format!(
                    "must be a number from {} to {}, got {other:?}",
                    crate::platform::number::format_f64(min),
                    crate::platform::number::format_f64(max)
                ),
            )),
        }
    }
}

impl From<bool> for OptionValue {
    fn from(value: bool) -> Self {
        OptionValue::Bool(value)
    }
}

impl From<f64> for OptionValue {
    fn from(value: f64) -> Self {
        OptionValue::Number(value)
    }
}

impl From<&str> for OptionValue {
    fn from(value: &str) -> Self {
        OptionValue::String(value.to_owned())
    }
}

impl From<String> for OptionValue {
    fn from(value: String) -> Self {
        OptionValue::String(value)
    }
}

/// Whether each instrumentation runs, and its options ([`crate::Config::instrumentations`]).
/// An instrumentation the configuration does not mention runs with default options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Switches {
    entries: Vec<(String, Switch)>,
}

/// One instrumentation's switch.
#[derive(Debug, Clone, PartialEq)]
pub struct Switch {
    /// Whether it runs.
    pub enabled: bool,
    /// Its options.
    pub options: Options,
}

impl Switches {
    /// Sets `name`'s switch (a later one replaces an earlier one).
    pub fn set(&mut self, name: impl Into<String>, switch: Switch) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, s)) => *s = switch,
            None => self.entries.push((name, switch)),
        }
    }

    /// `name`'s switch, if the configuration mentions it.
    pub fn get(&self, name: &str) -> Option<&Switch> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// Refuses names this build does not know, and options an instrumentation refuses.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        for (name, switch) in &self.entries {
            match registered().iter().find(|i| i.name() == name) {
                Some(instrumentation) if switch.enabled => instrumentation.check(&switch.options)?,
                Some(_) => {}
                // Switching off what is not there is fine; asking for it is not.
                None if !switch.enabled => {}
                None => {
                    return Err(match KNOWN.iter().find(|(known, _)| known == name) {
                        Some((_, feature)) => ConfigError::field(
                            "instrumentations",
                            format!(
                                "`{name}` needs otel-web's `{feature}` cargo feature, which this app was built without"
                            ),
                        ),
                        None => ConfigError::field(
                            "instrumentations",
                            format!(
                                "no instrumentation is called {name:?}; known: {}",
                                KNOWN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                            ),
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Starts every registered instrumentation that is not switched off.
    pub(crate) fn start_all(&self, provider: &TracerProvider) {
        let defaults = Options::default();
        for instrumentation in registered() {
            match self.get(instrumentation.name()) {
                Some(switch) if !switch.enabled => {}
                Some(switch) => instrumentation.start(provider, &switch.options),
                None => instrumentation.start(provider, &defaults),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_for_an_instrumentation_this_build_lacks_names_its_feature() {
        // An instrumentation this build lacks, if there is one (with every feature, none).
        let lacking = KNOWN.iter().find(|(name, _)| !registered().iter().any(|i| i.name() == *name));
        if let Some((name, feature)) = lacking {
            let mut switches = Switches::default();
            switches.set(*name, Switch { enabled: true, options: Options::default() });
            let err = switches.check().expect_err("not compiled in");
            assert!(err.to_string().contains(&format!("`{feature}` cargo feature")), "{err}");
            switches.set(*name, Switch { enabled: false, options: Options::default() });
            assert_eq!(switches.check(), Ok(()), "switching off what is not there is fine");
        }
        let mut switches = Switches::default();
        switches.set("teleport", Switch { enabled: true, options: Options::default() });
        let err = switches.check().expect_err("unknown");
        assert!(
            err.to_string().contains("\"teleport\"") && err.to_string().contains("documentLoad"),
            "{err}"
        );
    }

    #[test]
    fn options_are_typed_and_ranged() {
        let options =
            Options::default().with("on", true).with("ms", 1500.0).with("ms", 2000.0).with("name", "x");
        assert_eq!(options.bool("instrumentations.x.on", "on", false), Ok(true));
        assert_eq!(options.bool("instrumentations.x.off", "off", false), Ok(false));
        assert_eq!(options.number("instrumentations.x.ms", "ms", 0.0, (0.0, 1e4)), Ok(2000.0));
        assert!(options.number("instrumentations.x.ms", "ms", 0.0, (0.0, 100.0)).is_err());
        assert!(options.bool("instrumentations.x.name", "name", false).is_err());
        assert_eq!(options.keys().collect::<Vec<_>>(), ["on", "ms", "name"]);
    }
}
