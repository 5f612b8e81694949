//! Head sampling, with the samplers named by `OTEL_TRACES_SAMPLER`.

use opentelemetry::trace::{SpanContext, TraceId};

use crate::error::ConfigError;
use crate::platform::number;

/// Decides at span start whether a span is recorded and exported.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Sample every span (`always_on`).
    AlwaysOn,
    /// Sample nothing (`always_off`).
    AlwaysOff,
    /// Sample this fraction of traces, decided by the trace id so every service agrees
    /// (`traceidratio`).
    TraceIdRatio(f64),
    /// Follow the parent's decision when there is one, else ask the inner sampler
    /// (`parentbased_*`).
    ParentBased(Box<Sampler>),
}

impl Default for Sampler {
    /// `parentbased_always_on`, the OpenTelemetry default.
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

/// What a [`Sampler`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingDecision {
    /// Not recorded and not exported; the context still propagates.
    Drop,
    /// Recorded (attributes are kept) but not exported.
    RecordOnly,
    /// Recorded and exported.
    RecordAndSample,
}

impl Sampler {
    /// Decides for a new span in `trace_id` whose parent (if any) is `parent`.
    pub fn should_sample(&self, parent: Option<&SpanContext>, trace_id: TraceId) -> SamplingDecision {
        match self {
            Sampler::AlwaysOn => SamplingDecision::RecordAndSample,
            Sampler::AlwaysOff => SamplingDecision::Drop,
            Sampler::TraceIdRatio(ratio) => {
                if trace_id_below(trace_id, *ratio) {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                }
            }
            Sampler::ParentBased(root) => match parent.filter(|p| p.is_valid()) {
                Some(parent) if parent.is_sampled() => SamplingDecision::RecordAndSample,
                Some(_) => SamplingDecision::Drop,
                None => root.should_sample(None, trace_id),
            },
        }
    }

    /// The sampler named as `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` name them.
    pub fn from_name(name: &str, arg: Option<&str>) -> Result<Self, ConfigError> {
        let ratio = || -> Result<f64, ConfigError> {
            let Some(arg) = arg else { return Ok(1.0) };
            number::parse_f64(arg.trim()).filter(|r| (0.0..=1.0).contains(r)).ok_or_else(|| {
                ConfigError::field("samplerArg", format!("must be a number from 0 to 1, got {arg:?}"))
            })
        };
        Ok(match name.trim() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatio(ratio()?),
            "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            "parentbased_traceidratio" => Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(ratio()?))),
            other => {
                return Err(ConfigError::field(
                    "sampler",
                    format!(
                        "must be one of always_on, always_off, traceidratio, parentbased_always_on, \
                         parentbased_always_off, parentbased_traceidratio; got {other:?}"
                    ),
                ));
            }
        })
    }
}

/// The W3C/OpenTelemetry ratio test: the trace id's lower 63 random bits against the ratio, so
/// that a service sampling at 10% and one at 20% agree on the 10%.
fn trace_id_below(trace_id: TraceId, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio.is_nan() || ratio <= 0.0 {
        return false;
    }
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..16]);
    let random = u64::from_be_bytes(low) >> 1;
    random < (ratio * (1u64 << 63) as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::IdGenerator;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceState};

    fn parent(sampled: bool) -> SpanContext {
        let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        SpanContext::new(TraceId::from(1u128), SpanId::from(1u64), flags, true, TraceState::NONE)
    }

    #[test]
    fn constant_samplers() {
        let id = TraceId::from(42u128);
        assert_eq!(Sampler::AlwaysOn.should_sample(None, id), SamplingDecision::RecordAndSample);
        assert_eq!(Sampler::AlwaysOff.should_sample(None, id), SamplingDecision::Drop);
    }

    #[test]
    fn parent_based_follows_the_parent_and_asks_the_root_sampler_otherwise() {
        let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        let id = TraceId::from(42u128);
        assert_eq!(sampler.should_sample(Some(&parent(true)), id), SamplingDecision::RecordAndSample);
        assert_eq!(sampler.should_sample(Some(&parent(false)), id), SamplingDecision::Drop);
        assert_eq!(sampler.should_sample(None, id), SamplingDecision::Drop);
        let sampler = Sampler::default();
        assert_eq!(sampler.should_sample(Some(&SpanContext::NONE), id), SamplingDecision::RecordAndSample);
    }

    #[test]
    fn ratio_samples_about_the_ratio_and_is_deterministic() {
        let sampler = Sampler::TraceIdRatio(0.25);
        let ids: Vec<TraceId> = (0..20_000).map(|_| IdGenerator::Random.new_trace_id()).collect();
        let sampled = ids
            .iter()
            .filter(|id| sampler.should_sample(None, **id) == SamplingDecision::RecordAndSample)
            .count();
        let share = sampled as f64 / ids.len() as f64;
        assert!((0.23..0.27).contains(&share), "sampled share {share}");
        assert!(ids.iter().all(|id| sampler.should_sample(None, *id) == sampler.should_sample(None, *id)));
        assert_eq!(Sampler::TraceIdRatio(0.0).should_sample(None, ids[0]), SamplingDecision::Drop);
    }

    #[test]
    fn samplers_are_named_as_otel_traces_sampler_names_them() {
        assert_eq!(Sampler::from_name("always_on", None), Ok(Sampler::AlwaysOn));
        assert_eq!(
            Sampler::from_name("parentbased_traceidratio", Some("0.5")),
            Ok(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.5))))
        );
        let err = Sampler::from_name("sometimes", None).expect_err("unknown name");
        assert!(err.to_string().contains("`sampler`"), "{err}");
        let err = Sampler::from_name("traceidratio", Some("2")).expect_err("ratio above 1");
        assert!(err.to_string().contains("`samplerArg`"), "{err}");
    }
}
