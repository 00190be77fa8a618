//! The session's windows (automatic, user-set, linked) and quality figures (whole-volume
//! and per-slice, measured off the UI thread and keyed by what they were measured on).

use ndarray::Array2;

use super::Session;
use crate::eval::{Quality, RegionQuality};
use crate::io::Sequence;
use crate::ui::view::{carry_window, Plane};

/// A slice to measure against its ground truth off the UI thread.
pub struct SliceJob {
    pub sequence: Sequence,
    pub key: QualityKey,
    pub synthesized: Array2<f32>,
    pub truth: Array2<f32>,
}

/// The (plane, slice, content version) a slice figure was measured on.
pub type QualityKey = (Plane, usize, u64);

impl Session {
    /// The automatic window of what the panel of `seq` (or its ground-truth half) shows.
    pub fn auto_window(&self, seq: Sequence, truth_half: bool) -> (f32, f32) {
        let auto = if !truth_half && self.is_synthetic_shown(seq) {
            self.synthesized_volume(seq).map(|v| v.window)
        } else {
            self.study.volume(seq).map(|v| v.stats.window)
        };
        auto.unwrap_or((0.0, 1.0))
    }

    /// The window the panel of `seq` uses: the user's, else the automatic one.
    pub fn window_of(&self, seq: Sequence, truth_half: bool) -> (f32, f32) {
        self.windows
            .get(seq)
            .unwrap_or_else(|| self.auto_window(seq, truth_half))
    }

    /// Set the window of `seq` (`None`: automatic); `linked`, every sequence gets the same
    /// window relative to its own automatic one.
    pub fn set_window(&mut self, seq: Sequence, window: Option<(f32, f32)>, linked: bool) {
        if !linked {
            self.windows.set(seq, window);
            return;
        }
        let from = self.auto_window(seq, false);
        for s in self.set.sequences() {
            let to = self.auto_window(s, false);
            self.windows
                .set(s, window.map(|w| carry_window(w, from, to)));
        }
    }

    /// The whole volume's window, computed off the UI thread.
    pub fn set_synthesized_window(&mut self, generation: u64, seq: Sequence, w: (f32, f32)) {
        if generation == self.generation {
            if let Some(v) = self.synth[seq.slot()].as_mut() {
                v.window = w;
            }
        }
    }

    pub fn set_volume_quality(&mut self, generation: u64, seq: Sequence, q: RegionQuality) {
        if generation == self.generation {
            self.volume_qualities[seq.slot()] = Some(q);
        }
    }

    /// Whole-volume figures of the synthesized `seq` (challenge definition), once measured.
    pub fn volume_quality(&self, seq: Sequence) -> Option<RegionQuality> {
        self.volume_qualities[seq.slot()]
    }

    pub fn set_slice_quality(&mut self, seq: Sequence, key: QualityKey, q: Quality) {
        let slot = &mut self.slice_qualities[seq.slot()];
        if slot.as_ref().is_some_and(|(k, _)| *k == key) {
            *slot = Some((key, Some(q)));
        }
    }

    /// Figures of the synthesized slice of `seq` on screen (paper definition), once
    /// measured.
    pub fn slice_quality(&self, seq: Sequence) -> Option<Quality> {
        self.slice_qualities[seq.slot()]
            .filter(|(k, _)| *k == self.quality_key(seq))
            .and_then(|(_, q)| q)
    }

    fn quality_key(&self, seq: Sequence) -> QualityKey {
        (self.plane, self.slice(), self.version[seq.slot()])
    }

    /// The slices on screen whose figures are not measured yet (each returned once per
    /// slice and content): synthesized ones with a ground truth, whole (a coronal or
    /// sagittal slice only once the volume is complete).
    pub fn slices_to_measure(&mut self) -> Vec<SliceJob> {
        let mut jobs = Vec::new();
        for seq in self.set.sequences() {
            let key = self.quality_key(seq);
            let known = self.slice_qualities[seq.slot()].is_some_and(|(k, _)| k == key);
            let (Some(truth), true, false) =
                (self.study.volume(seq), self.is_synthetic_shown(seq), known)
            else {
                continue;
            };
            let Some(v) = self
                .synthesized_volume(seq)
                .filter(|v| v.is_complete() || self.plane == Plane::Axial)
            else {
                continue;
            };
            jobs.push(SliceJob {
                sequence: seq,
                key,
                synthesized: self.plane_slice(&v.data).to_owned(),
                truth: self.plane_slice(&truth.data).to_owned(),
            });
            self.slice_qualities[seq.slot()] = Some((key, None));
        }
        jobs
    }
}
