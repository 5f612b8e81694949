//! Interaction to Next Paint: Event Timing entries grouped into interactions by
//! `interactionId` (an interaction's latency is its longest entry), the ten longest kept, and
//! the p98 one reported — the `(interactions / 50)`th longest.
//!
//! Attribution: entries presented in the same frame (render times within 8 ms) form a group
//! whose earliest processing start and latest processing end split the interaction into
//! input delay, processing and presentation delay; Long Animation Frames that overlap it name
//! the scripts behind it.

/// Interactions kept as candidates.
const MAX_INTERACTIONS: usize = 10;
/// Frames kept for attribution besides those of the candidates.
const MAX_PENDING_FRAMES: usize = 10;

/// One `event` (or `first-input`) entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventEntry {
    /// The event type (`pointerdown`, `click`, `keydown`…).
    pub(crate) name: String,
    pub(crate) start_time: f64,
    pub(crate) duration: f64,
    pub(crate) processing_start: f64,
    pub(crate) processing_end: f64,
    /// Zero for events that are not part of an interaction.
    pub(crate) interaction_id: u64,
    /// The selector of the entry's target, if it still had one.
    pub(crate) target: Option<String>,
    /// The frame group it was put in (set by [`Interactions::process`]).
    group: u64,
}

impl EventEntry {
    pub(crate) fn new(
        name: String,
        start_time: f64,
        duration: f64,
        (processing_start, processing_end): (f64, f64),
        interaction_id: u64,
        target: Option<String>,
    ) -> Self {
        Self {
            name,
            start_time,
            duration,
            processing_start,
            processing_end,
            interaction_id,
            target,
            group: 0,
        }
    }
}

/// One interaction: its entries of the longest duration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Interaction {
    pub(crate) id: u64,
    pub(crate) latency: f64,
    pub(crate) entries: Vec<EventEntry>,
    /// The first target any of its entries had, fixed once known.
    pub(crate) target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct FrameGroup {
    id: u64,
    start_time: f64,
    processing_start: f64,
    processing_end: f64,
    render_time: f64,
}

/// One script of a Long Animation Frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Script {
    pub(crate) start_time: f64,
    pub(crate) duration: f64,
    pub(crate) forced_style_and_layout_duration: f64,
    pub(crate) invoker: String,
    pub(crate) invoker_type: String,
    pub(crate) source_url: String,
    pub(crate) source_function_name: String,
}

/// One `long-animation-frame` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct LongFrame {
    pub(crate) start_time: f64,
    pub(crate) duration: f64,
    pub(crate) style_and_layout_start: f64,
    pub(crate) scripts: Vec<Script>,
}

/// The ten longest interactions, the frames they were presented in, and the long frames
/// that may overlap them.
#[derive(Debug, Default)]
pub(crate) struct Interactions {
    longest: Vec<Interaction>,
    groups: Vec<FrameGroup>,
    next_group: u64,
    latest_processing_end: f64,
    long_frames: Vec<LongFrame>,
    /// The interaction count when this measurement began (bfcache restores start again).
    count_at_start: f64,
}

/// How the INP interaction's time splits, and what ran during it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Attribution {
    pub(crate) target: Option<String>,
    /// The first entry's event type (`pointerdown`, `keydown`…).
    pub(crate) event_type: String,
    /// `pointer` or `keyboard`.
    pub(crate) interaction_type: &'static str,
    pub(crate) interaction_time: f64,
    pub(crate) next_paint_time: f64,
    pub(crate) input_delay: f64,
    pub(crate) processing_duration: f64,
    pub(crate) presentation_delay: f64,
    pub(crate) long_frames: usize,
    pub(crate) scripts: Option<ScriptSummary>,
}

/// What the overlapping Long Animation Frames say.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ScriptSummary {
    /// The script that ran longest within the interaction, and for how long.
    pub(crate) longest: Option<(Script, f64, &'static str)>,
    pub(crate) total_script_duration: f64,
    pub(crate) total_style_and_layout_duration: f64,
    pub(crate) total_paint_duration: f64,
    pub(crate) total_unattributed_duration: f64,
}

impl Interactions {
    /// Takes one entry (in delivery order).
    pub(crate) fn process(&mut self, mut entry: EventEntry) {
        entry.group = self.group_by_render_time(&entry);
        if entry.interaction_id == 0 {
            return;
        }
        let known = self.longest.iter().position(|i| i.id == entry.interaction_id);
        let shortest = self.longest.last().map(|i| i.latency);
        let candidate = known.is_some()
            || self.longest.len() < MAX_INTERACTIONS
            || shortest.is_some_and(|s| entry.duration > s);
        if !candidate {
            return;
        }
        let index = match known {
            Some(i) => {
                let interaction = &mut self.longest[i];
                if entry.duration > interaction.latency {
                    interaction.latency = entry.duration;
                    interaction.entries = vec![entry];
                } else if entry.duration == interaction.latency
                    && interaction.entries.first().is_some_and(|e| e.start_time == entry.start_time)
                {
                    interaction.entries.push(entry);
                }
                i
            }
            None => {
                let id = entry.interaction_id;
                self.longest.push(Interaction {
                    id,
                    latency: entry.duration,
                    entries: vec![entry],
                    target: None,
                });
                self.longest.len() - 1
            }
        };
        // The target is fixed by the first entries that had one.
        let interaction = &mut self.longest[index];
        if interaction.target.is_none() {
            interaction.target = interaction.entries.iter().find_map(|e| e.target.clone());
        }
        // Longest first (a stable sort, as JavaScript's), at most ten.
        self.longest.sort_by(|a, b| b.latency.total_cmp(&a.latency));
        self.longest.truncate(MAX_INTERACTIONS);
    }

    fn group_by_render_time(&mut self, entry: &EventEntry) -> u64 {
        let render_time = entry.start_time + entry.duration;
        self.latest_processing_end = self.latest_processing_end.max(entry.processing_end);
        if let Some(group) = self.groups.iter_mut().rev().find(|g| (render_time - g.render_time).abs() <= 8.0)
        {
            group.start_time = group.start_time.min(entry.start_time);
            group.processing_start = group.processing_start.min(entry.processing_start);
            group.processing_end = group.processing_end.max(entry.processing_end);
            return group.id;
        }
        self.next_group += 1;
        self.groups.push(FrameGroup {
            id: self.next_group,
            start_time: entry.start_time,
            processing_start: entry.processing_start,
            processing_end: entry.processing_end,
            render_time,
        });
        self.next_group
    }

    /// Adds Long Animation Frame entries (in time order).
    pub(crate) fn add_long_frames(&mut self, frames: impl IntoIterator<Item = LongFrame>) {
        self.long_frames.extend(frames);
    }

    /// Forgets frames and long frames that can no longer explain a candidate, so memory stays
    /// bounded however long the page lives.
    pub(crate) fn clean_up(&mut self) {
        let kept_groups: Vec<u64> =
            self.longest.iter().filter_map(|i| i.entries.first().map(|e| e.group)).collect();
        let min_index = self.groups.len().saturating_sub(MAX_PENDING_FRAMES);
        let mut index = 0;
        self.groups.retain(|g| {
            let keep = index >= min_index || kept_groups.contains(&g.id);
            index += 1;
            keep
        });
        let spans: Vec<(f64, f64)> = self.groups.iter().map(|g| (g.start_time, g.processing_end)).collect();
        let min_frame = self.long_frames.len().saturating_sub(MAX_PENDING_FRAMES);
        let latest = self.latest_processing_end;
        let mut index = 0;
        self.long_frames.retain(|f| {
            let overlaps =
                spans.iter().any(|&(start, end)| f.start_time + f.duration >= start && f.start_time <= end);
            let keep = overlaps || (index >= min_frame && f.start_time > latest);
            index += 1;
            keep
        });
    }

    /// Starts a new measurement (bfcache restore) at interaction count `count`.
    pub(crate) fn reset(&mut self, count: f64) {
        self.longest.clear();
        self.count_at_start = count;
    }

    /// The p98 interaction's latency and index into the candidates, given the page's
    /// interaction count; `Some((8, None))` for a restored page whose interactions were all too
    /// short to observe.
    pub(crate) fn p98(&self, count: f64, restored: bool) -> Option<(f64, Option<usize>)> {
        let for_navigation = count - self.count_at_start;
        if self.longest.is_empty() {
            return (for_navigation != 0.0 && restored).then_some((8.0, None));
        }
        let index = ((for_navigation / 50.0).floor().max(0.0) as usize).min(self.longest.len() - 1);
        Some((self.longest[index].latency, Some(index)))
    }

    /// The candidate at `index`.
    pub(crate) fn candidate(&self, index: usize) -> Option<&Interaction> {
        self.longest.get(index)
    }

    /// The attribution of `interaction`: its frame's timings and the long frames overlapping it.
    pub(crate) fn attribute(&self, interaction: &Interaction) -> Option<Attribution> {
        let first = interaction.entries.first()?;
        let group = self.groups.iter().find(|g| g.id == first.group)?;
        let processing_start = group.processing_start.max(first.start_time);
        let next_paint_time = (first.start_time + first.duration).max(processing_start);
        let processing_end = group.processing_end.min(next_paint_time);
        let frames: Vec<&LongFrame> = self
            .long_frames
            .iter()
            .filter(|f| f.start_time + f.duration >= first.start_time)
            .take_while(|f| f.start_time <= processing_end)
            .collect();
        let mut attribution = Attribution {
            target: interaction.target.clone(),
            event_type: first.name.clone(),
            interaction_type: if first.name.starts_with("key") { "keyboard" } else { "pointer" },
            interaction_time: first.start_time,
            next_paint_time,
            input_delay: processing_start - first.start_time,
            processing_duration: processing_end - processing_start,
            presentation_delay: next_paint_time - processing_end,
            long_frames: frames.len(),
            scripts: None,
        };
        attribution.scripts = summarize_scripts(&attribution, &frames);
        Some(attribution)
    }
}

/// Script, style-and-layout and paint time within the interaction, from its long frames.
fn summarize_scripts(attribution: &Attribution, frames: &[&LongFrame]) -> Option<ScriptSummary> {
    let interaction_time = attribution.interaction_time;
    let next_paint = attribution.next_paint_time;
    if frames.is_empty() || interaction_time == 0.0 || next_paint == 0.0 {
        return None;
    }
    let processing_from = interaction_time + attribution.input_delay;
    let presentation_from = processing_from + attribution.processing_duration;
    let mut summary = ScriptSummary::default();
    let mut longest = 0.0;
    for frame in frames {
        summary.total_style_and_layout_duration +=
            frame.start_time + frame.duration - frame.style_and_layout_start;
        for script in &frame.scripts {
            let end = script.start_time + script.duration;
            if end < interaction_time {
                continue;
            }
            let within = end - interaction_time.max(script.start_time);
            let forced = if script.duration != 0.0 {
                within / script.duration * script.forced_style_and_layout_duration
            } else {
                0.0
            };
            summary.total_script_duration += within - forced;
            summary.total_style_and_layout_duration += forced;
            if within > longest {
                let subpart = if script.start_time < processing_from {
                    "input-delay"
                } else if script.start_time >= presentation_from {
                    "presentation-delay"
                } else {
                    "processing-duration"
                };
                summary.longest = Some((script.clone(), within, subpart));
                longest = within;
            }
        }
    }
    let last_end = frames.last().map(|f| f.start_time + f.duration).unwrap_or(0.0);
    if last_end >= presentation_from {
        summary.total_paint_duration = next_paint - last_end;
    }
    summary.total_unattributed_duration = next_paint
        - interaction_time
        - summary.total_script_duration
        - summary.total_style_and_layout_duration
        - summary.total_paint_duration;
    Some(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, start: f64, duration: f64, id: u64) -> EventEntry {
        EventEntry::new(
            name.into(),
            start,
            duration,
            (start + 2.0, start + 10.0),
            id,
            Some(format!("#{name}")),
        )
    }

    fn inp(interactions: &Interactions, count: f64) -> Option<f64> {
        interactions.p98(count, false).map(|(latency, _)| latency)
    }

    #[test]
    fn an_interactions_latency_is_its_longest_entry() {
        let mut i = Interactions::default();
        i.process(event("pointerdown", 100.0, 48.0, 7));
        i.process(event("pointerup", 150.0, 40.0, 7));
        i.process(event("click", 150.0, 96.0, 7));
        assert_eq!(inp(&i, 1.0), Some(96.0));
        let winner = i.candidate(0).expect("one");
        assert_eq!(winner.entries.len(), 1);
        assert_eq!(winner.entries[0].name, "click");
        assert_eq!(winner.target.as_deref(), Some("#pointerdown"), "the first target known stays");
    }

    #[test]
    fn entries_without_an_interaction_id_are_not_candidates() {
        let mut i = Interactions::default();
        i.process(event("mouseover", 100.0, 300.0, 0));
        assert_eq!(inp(&i, 0.0), None);
    }

    #[test]
    fn p98_is_the_worst_until_fifty_interactions_then_the_next() {
        let mut i = Interactions::default();
        for n in 0..12u64 {
            i.process(event("click", n as f64 * 1000.0, 40.0 + n as f64 * 8.0, n + 1));
        }
        // Only the ten longest are kept: 128, 120, …, 56.
        assert_eq!(inp(&i, 12.0), Some(128.0));
        assert_eq!(inp(&i, 49.0), Some(128.0));
        assert_eq!(inp(&i, 50.0), Some(120.0));
        assert_eq!(inp(&i, 149.0), Some(112.0));
        assert_eq!(inp(&i, 10_000.0), Some(56.0), "at most the tenth longest");
    }

    #[test]
    fn a_restored_page_with_only_short_interactions_reports_8_ms() {
        let mut i = Interactions::default();
        i.process(event("click", 0.0, 64.0, 3));
        i.reset(5.0);
        assert_eq!(i.p98(5.0, true), None, "no interaction since the restore");
        assert_eq!(i.p98(6.0, true), Some((8.0, None)));
        assert_eq!(i.p98(6.0, false), None);
    }

    #[test]
    fn the_frame_splits_the_interaction_into_three_parts() {
        let mut i = Interactions::default();
        // A long pointerover handler ran in the same frame, starting before the click.
        i.process(EventEntry::new("pointerover".into(), 90.0, 160.0, (95.0, 120.0), 0, None));
        i.process(EventEntry::new(
            "pointerdown".into(),
            100.0,
            152.0,
            (130.0, 200.0),
            9,
            Some("button#go".into()),
        ));
        let candidate = i.candidate(0).expect("candidate").clone();
        let a = i.attribute(&candidate).expect("attributed");
        assert_eq!(a.event_type, "pointerdown");
        assert_eq!(a.interaction_type, "pointer");
        assert_eq!(a.interaction_time, 100.0);
        assert_eq!(a.next_paint_time, 252.0);
        // The group's earliest processing start (95) is before the interaction: clamped.
        assert_eq!(a.input_delay, 0.0);
        assert_eq!(a.processing_duration, 100.0);
        assert_eq!(a.presentation_delay, 52.0);
        assert_eq!(a.input_delay + a.processing_duration + a.presentation_delay, candidate.latency);
        assert_eq!(a.target.as_deref(), Some("button#go"));
        assert_eq!(a.scripts, None, "no long frames");
    }

    #[test]
    fn long_frames_name_the_longest_script_and_its_subpart() {
        let mut i = Interactions::default();
        i.process(EventEntry::new("keydown".into(), 1000.0, 200.0, (1010.0, 1150.0), 4, None));
        i.add_long_frames([
            LongFrame { start_time: 500.0, duration: 60.0, style_and_layout_start: 550.0, scripts: vec![] },
            LongFrame {
                start_time: 995.0,
                duration: 190.0,
                style_and_layout_start: 1160.0,
                scripts: vec![
                    Script { start_time: 1000.0, duration: 8.0, ..Default::default() },
                    Script {
                        start_time: 1012.0,
                        duration: 130.0,
                        forced_style_and_layout_duration: 13.0,
                        invoker: "BUTTON#save.onkeydown".into(),
                        source_url: "https://app.example/app.js".into(),
                        source_function_name: "save".into(),
                        ..Default::default()
                    },
                ],
            },
        ]);
        let candidate = i.candidate(0).expect("candidate").clone();
        let a = i.attribute(&candidate).expect("attributed");
        assert_eq!(a.interaction_type, "keyboard");
        assert_eq!(a.long_frames, 1, "the frame that ended before the interaction is not it");
        let s = a.scripts.expect("summary");
        let (script, within, subpart) = s.longest.expect("longest");
        assert_eq!(script.source_function_name, "save");
        assert_eq!(within, 130.0);
        assert_eq!(subpart, "processing-duration");
        assert!((s.total_script_duration - (8.0 + 130.0 - 13.0)).abs() < 1e-9);
        assert!((s.total_style_and_layout_duration - (25.0 + 13.0)).abs() < 1e-9);
        assert!((s.total_paint_duration - 15.0).abs() < 1e-9);
    }

    #[test]
    fn memory_stays_bounded_over_many_frames() {
        let mut i = Interactions::default();
        for n in 0..10_000u64 {
            let t = n as f64 * 100.0;
            i.process(event("click", t, 40.0 + (n % 13) as f64, n + 1));
            i.add_long_frames([LongFrame { start_time: t, duration: 60.0, ..Default::default() }]);
            i.clean_up();
        }
        assert!(i.groups.len() <= MAX_PENDING_FRAMES + MAX_INTERACTIONS, "{}", i.groups.len());
        assert!(
            i.long_frames.len() <= 2 * (MAX_PENDING_FRAMES + MAX_INTERACTIONS),
            "{}",
            i.long_frames.len()
        );
        assert!(i.longest.len() <= MAX_INTERACTIONS);
        // The candidates keep their frames, so they can still be attributed.
        let candidate = i.candidate(0).expect("candidate").clone();
        assert!(i.attribute(&candidate).is_some());
    }
}
