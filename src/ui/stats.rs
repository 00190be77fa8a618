//! How the viewer performs as a user sees it: UI time per frame (overall and while
//! synthesizing) and the time from ticking "missing" to the first synthesized slice on
//! screen. Printed by `--frames` runs (CI reads the line).

use std::time::Instant;

/// How long a `--frames` run stops redrawing for a first slice that has not come (a
/// failed synthesis must not stall the run).
pub const FIRST_SLICE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Default)]
pub struct FrameStats {
    frames: u64,
    /// Time spent in `ui()` per frame (ms), and whether synthesis was running meanwhile.
    times: Vec<(f32, bool)>,
    /// When the current synthesis was requested (until its first slice is on screen).
    requested: Option<Instant>,
    first_slice_ms: Vec<f32>,
    /// Whether the plane changed at the end of the last frame (the next one redraws).
    switching: bool,
    /// Whether the plane changed during this frame (moves to `switching` at its end).
    switch_asked: bool,
    plane_switch_ms: Vec<f32>,
}

impl FrameStats {
    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn frame(&mut self, started: Instant, synthesizing: bool) {
        let ms = started.elapsed().as_secs_f32() * 1e3;
        self.frames += 1;
        self.times.push((ms, synthesizing));
        if std::mem::take(&mut self.switching) {
            self.plane_switch_ms.push(ms);
        }
        // A switch asked for during this frame is drawn, and timed, in the next.
        self.switching = std::mem::take(&mut self.switch_asked);
    }

    /// The plane changed: the next frame draws every panel anew.
    pub fn plane_switched(&mut self) {
        self.switch_asked = true;
    }

    pub fn requested(&mut self) {
        self.requested = Some(Instant::now());
    }

    /// While the first slice of a synthesis is awaited (for at most [`FIRST_SLICE_WAIT`]
    /// after the request): how long until that wait is over.
    pub fn awaiting_first_slice(&self) -> Option<std::time::Duration> {
        let t = self.requested?;
        FIRST_SLICE_WAIT.checked_sub(t.elapsed())
    }

    /// The slice on screen arrived.
    pub fn focus_shown(&mut self) {
        if let Some(t) = self.requested.take() {
            self.first_slice_ms.push(t.elapsed().as_secs_f32() * 1e3);
        }
    }

    /// Median and worst UI time per frame, overall and while synthesis was running, and
    /// which frame was the worst (the first ones build fonts and pipelines).
    pub fn report(&self, renderer: &str) -> String {
        let stats = |busy: Option<bool>| {
            let mut v: Vec<(f32, usize)> = self
                .times
                .iter()
                .enumerate()
                .filter(|(_, (_, b))| busy.is_none_or(|x| x == *b))
                .map(|(i, (t, _))| (*t, i + 1))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            match v.len() {
                0 => "no frames".to_string(),
                n => format!(
                    "{n} frames, median {:.2} ms, max {:.2} ms (frame {})",
                    v[n / 2].0,
                    v[n - 1].0,
                    v[n - 1].1
                ),
            }
        };
        let list = |v: &[f32]| match v {
            [] => "-".to_string(),
            v => v
                .iter()
                .map(|t| format!("{t:.0} ms"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!(
            "UI time per frame: all {}; while synthesizing {} (slices drawn by {renderer}); first synthesized slice on screen after {}; plane switches drawn in {}",
            stats(None),
            stats(Some(true)),
            list(&self.first_slice_ms),
            list(&self.plane_switch_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_gives_medians_and_the_first_slice_latency() {
        let mut s = FrameStats::default();
        assert!(s.report("x").contains("all no frames"));
        let start = Instant::now();
        for busy in [false, true, true] {
            s.frame(start, busy);
        }
        s.focus_shown();
        assert!(s.report("x").contains("after -;"), "{}", s.report("x"));
        s.plane_switched();
        s.frame(start, false);
        assert!(
            s.report("x").ends_with("drawn in -"),
            "the frame that asked is not timed"
        );
        s.frame(start, false);
        assert!(!s.report("x").ends_with("drawn in -"), "{}", s.report("x"));
        assert!(s.awaiting_first_slice().is_none());
        s.requested();
        assert!(s
            .awaiting_first_slice()
            .is_some_and(|d| d <= FIRST_SLICE_WAIT));
        s.focus_shown();
        assert!(
            s.awaiting_first_slice().is_none(),
            "shown: no longer awaited"
        );
        s.focus_shown();
        let r = s.report("wgpu");
        assert!(
            r.contains("all 5 frames") && r.contains("synthesizing 2 frames"),
            "{r}"
        );
        assert!(r.contains("(slices drawn by wgpu)"), "{r}");
        assert_eq!(s.first_slice_ms.len(), 1, "one latency per request");
        assert_eq!(s.frames(), 5);
    }
}
