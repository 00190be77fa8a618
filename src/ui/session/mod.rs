//! One open study and everything the viewer knows about it: the plane and the cursor (the
//! voxel every plane's slice passes through), the sequences marked missing, the requests
//! for the worker, window/level and the quality figures (`figures`), and the synthesized
//! volumes as they fill in (`volumes`). No egui here: the panels read a `Session`, the app
//! feeds it the worker's [`Response`](crate::engine::Response)s through [`Session::apply`] and sends the
//! [`Request`]s it returns.
//!
//! Each synthesized volume exists once, here: the worker sends slices and keeps nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ndarray::{Array3, ArrayView2, Axis};

use super::settings::Windows;
use super::view::Plane;
use crate::engine::{Request, Stage};
use crate::eval::{CheckRow, Quality, RegionQuality};
use crate::io::{Sequence, SequenceSet, Study};
use crate::model::Scenario;

/// Dropout passes behind the uncertainty overlay: its cost is this many syntheses, in the
/// background after the first (`mmgan synthesize --uncertainty` defaults to 8).
pub const UNCERTAINTY_PASSES: usize = 4;

/// Numbers unique in this process: request generations and content versions never repeat
/// across studies, so a late answer or a cached drawing of an earlier study cannot match.
pub fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The study's self-check (each acquired input synthesized from the others).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SelfCheck {
    #[default]
    NotAsked,
    Running,
    Done(Vec<CheckRow>),
    Failed(String),
}

/// What a self-check needs: the study, the inputs the user hid, and the generation it is
/// for (a new marking makes it stale).
pub struct CheckJob {
    pub study: Arc<Study>,
    pub hidden: Vec<Sequence>,
    pub generation: u64,
}

pub struct Session {
    pub study: Arc<Study>,
    /// The model's sequences: one panel each, in this order.
    set: SequenceSet,
    plane: Plane,
    /// The voxel [x, y, z] the shown slices pass through (the crosshair's when placed).
    cursor: [usize; 3],
    /// Whether the user placed the crosshair.
    crosshair: bool,
    /// Marked missing by the user (absent sequences are always missing).
    marked: [bool; Sequence::COUNT],
    synth: [Option<SynthVolume>; Sequence::COUNT],
    /// The per-voxel uncertainty of each synthesized volume, once asked for.
    uncertainty: [Option<SynthVolume>; Sequence::COUNT],
    uncertainty_asked: bool,
    /// Changes whenever what a panel shows changes, so its drawing is rebuilt.
    version: [u64; Sequence::COUNT],
    uncertainty_version: [u64; Sequence::COUNT],
    generation: u64,
    progress: Option<(Stage, usize, usize)>,
    pub windows: Windows,
    /// Slice figures per panel, keyed by (plane, slice, version); `None` while measuring.
    slice_qualities: [Option<(QualityKey, Option<Quality>)>; Sequence::COUNT],
    volume_qualities: [Option<RegionQuality>; Sequence::COUNT],
    self_check: SelfCheck,
}

impl Session {
    /// A study opened in `plane` through its centre, with panels for the model's
    /// sequences `set` and `missing` marked (those it has).
    pub fn new(
        study: impl Into<Arc<Study>>,
        set: SequenceSet,
        plane: Plane,
        missing: &[Sequence],
        windows: Windows,
    ) -> Session {
        let study: Arc<Study> = study.into();
        let mut marked = [false; Sequence::COUNT];
        for s in missing {
            marked[s.slot()] = study.has(*s);
        }
        Session {
            plane,
            cursor: study.grid.dims.map(|n| n / 2),
            crosshair: false,
            study,
            set,
            marked,
            synth: Default::default(),
            uncertainty: Default::default(),
            uncertainty_asked: false,
            version: [(); Sequence::COUNT].map(|()| next_id()),
            uncertainty_version: [0; Sequence::COUNT],
            generation: 0,
            progress: None,
            windows,
            slice_qualities: Default::default(),
            volume_qualities: Default::default(),
            self_check: SelfCheck::NotAsked,
        }
    }

    /// The model's sequences, in panel order.
    pub fn set(&self) -> SequenceSet {
        self.set
    }

    /// The folder the study came from, its key in the settings.
    pub fn key(&self) -> Option<String> {
        self.study
            .files
            .folder
            .as_ref()
            .map(|p| p.display().to_string())
    }

    /// Where exports go by default: beside the study, except for the bundled demo (in the
    /// cache) and loose files: ./mmgan-exports.
    pub fn default_export_folder(&self) -> PathBuf {
        let folder = self.study.files.folder.as_ref();
        let demo = folder.is_some() && folder == crate::shipped::demo_study().ok().as_ref();
        match folder {
            Some(f) if !demo => f.join("synthetic"),
            _ => PathBuf::from("mmgan-exports"),
        }
    }

    pub fn plane(&self) -> Plane {
        self.plane
    }

    pub fn set_plane(&mut self, plane: Plane) {
        self.plane = plane;
    }

    /// The index of the shown slice in the current plane.
    pub fn slice(&self) -> usize {
        self.cursor[self.plane.axis()]
    }

    /// How many slices the current plane has.
    pub fn depth(&self) -> usize {
        self.study.grid.dims[self.plane.axis()]
    }

    /// The axial slice through the cursor: what the worker synthesizes first.
    fn axial(&self) -> usize {
        self.cursor[2]
    }

    /// The crosshair's voxel [x, y, z], once placed.
    pub fn crosshair(&self) -> Option<[usize; 3]> {
        self.crosshair.then_some(self.cursor)
    }

    /// The cursor's voxel [x, y, z] (the centre until the crosshair is placed).
    pub fn cursor(&self) -> [usize; 3] {
        self.cursor
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// What the worker is computing, and how far it is (slices done, of).
    pub fn progress(&self) -> Option<(Stage, usize, usize)> {
        self.progress
    }

    pub fn version(&self, seq: Sequence) -> u64 {
        self.version[seq.slot()]
    }

    /// Whether the user marked `seq` missing (an absent sequence is missing regardless).
    pub fn is_marked(&self, seq: Sequence) -> bool {
        self.marked[seq.slot()]
    }

    /// The sequences the model must synthesize: absent ones and those marked missing.
    pub fn missing(&self) -> Vec<Sequence> {
        self.set
            .sequences()
            .into_iter()
            .filter(|s| !self.study.has(*s) || self.marked[s.slot()])
            .collect()
    }

    /// Forget what was synthesized and ask for the current missing set under a new
    /// generation: `Cancel` when nothing is missing, `Err` when the model cannot do it
    /// (the caller cancels the old request and shows why).
    pub fn synthesis_request(&mut self) -> Result<Request, String> {
        self.synth = Default::default();
        self.uncertainty = Default::default();
        self.uncertainty_asked = false;
        self.self_check = SelfCheck::NotAsked;
        self.progress = None;
        self.volume_qualities = Default::default();
        self.version = [(); Sequence::COUNT].map(|()| next_id());
        self.generation = next_id();
        let missing = self.missing();
        if missing.is_empty() {
            return Ok(Request::Cancel);
        }
        let scenario = Scenario::with_missing(self.set, &missing).map_err(|e| e.to_string())?;
        // Running from the request on, not from the worker's `Started` after preparing
        // the study: the self-check waits for it (it would take the cores from the first
        // slice: 0.36-0.77 s on screen with both starting together, measured).
        self.progress = Some((Stage::Synthesis, 0, 0));
        Ok(Request::Synthesize {
            generation: self.generation,
            study: self.study.clone(),
            scenario,
            focus: self.axial(),
        })
    }

    /// Ask once per synthesis for its uncertainty (the overlay is on).
    pub fn uncertainty_request(&mut self) -> Option<Request> {
        if self.uncertainty_asked || self.missing().is_empty() || self.generation == 0 {
            return None;
        }
        self.uncertainty_asked = true;
        Some(Request::Uncertainty {
            generation: self.generation,
            passes: UNCERTAINTY_PASSES,
        })
    }

    /// The self-check to run, once per marking, after the synthesis (they would compete
    /// for the same cores).
    pub fn self_check_request(&mut self) -> Option<CheckJob> {
        if self.self_check != SelfCheck::NotAsked || self.progress.is_some() {
            return None;
        }
        self.self_check = SelfCheck::Running;
        Some(CheckJob {
            study: self.study.clone(),
            hidden: self
                .set
                .sequences()
                .into_iter()
                .filter(|s| self.marked[s.slot()])
                .collect(),
            generation: self.generation,
        })
    }

    pub fn set_self_check(&mut self, generation: u64, result: Result<Vec<CheckRow>, String>) {
        if generation == self.generation {
            self.self_check = match result {
                Ok(rows) => SelfCheck::Done(rows),
                Err(e) => SelfCheck::Failed(e),
            };
        }
    }

    pub fn self_check(&self) -> &SelfCheck {
        &self.self_check
    }

    /// Mark or unmark `seq` missing; the new request to send, if anything changed.
    pub fn set_marked(&mut self, seq: Sequence, missing: bool) -> Option<Result<Request, String>> {
        if !self.study.has(seq) || self.marked[seq.slot()] == missing {
            return None;
        }
        self.marked[seq.slot()] = missing;
        Some(self.synthesis_request())
    }

    /// Show slice `index` of the current plane (clamped); the worker's new focus if the
    /// axial slice through the cursor moved.
    pub fn set_slice(&mut self, index: usize) -> Option<Request> {
        let mut cursor = self.cursor;
        cursor[self.plane.axis()] = index;
        self.move_cursor(cursor)
    }

    /// Place the crosshair on `voxel` (clamped to the grid); the worker's new focus if the
    /// axial slice moved.
    pub fn set_crosshair(&mut self, voxel: [usize; 3]) -> Option<Request> {
        self.crosshair = true;
        self.move_cursor(voxel)
    }

    fn move_cursor(&mut self, to: [usize; 3]) -> Option<Request> {
        let dims = self.study.grid.dims;
        let to: [usize; 3] = std::array::from_fn(|i| to[i].min(dims[i].saturating_sub(1)));
        let z = self.axial();
        self.cursor = to;
        (to[2] != z).then_some(Request::Focus {
            generation: self.generation,
            z: to[2],
        })
    }

    /// The shown slice of a volume: [width, height] as on screen before flipping.
    pub fn plane_slice<'a, T>(&self, volume: &'a Array3<T>) -> ArrayView2<'a, T> {
        volume.index_axis(Axis(self.plane.axis()), self.slice())
    }

    /// The status bar's crosshair line: the voxel, its world position and every sequence's
    /// value there, each labelled.
    pub fn crosshair_status(&self) -> Option<String> {
        let ([x, y, z], study) = (self.crosshair()?, &self.study);
        let a = study.grid.affine;
        let world: Vec<f64> = (0..3)
            .map(|r| a[r][0] * x as f64 + a[r][1] * y as f64 + a[r][2] * z as f64 + a[r][3])
            .collect();
        let mut text = format!(
            "voxel ({x}, {y}, {z})  RAS ({:.1}, {:.1}, {:.1}) mm:",
            world[0], world[1], world[2]
        );
        for seq in self.set.sequences() {
            let truth = study.volume(seq).map(|v| v.data[[x, y, z]]);
            let synth = self
                .synthesized_volume(seq)
                .filter(|v| v.has_slice(z))
                .map(|v| v.data[[x, y, z]]);
            let value = match (self.marked[seq.slot()] || truth.is_none(), synth, truth) {
                (false, _, t) => format!("{:.1}", t.unwrap_or_default()),
                (true, Some(s), Some(t)) => format!("{s:.1} synthetic (acquired {t:.1})"),
                (true, Some(s), None) => format!("{s:.1} synthetic"),
                (true, None, _) => "pending".into(),
            };
            text.push_str(&format!("  {} {value}", seq.name()));
        }
        if let Some(l) = &study.label {
            text.push_str(&format!("  label {}", l.data[[x, y, z]]));
        }
        Some(text)
    }
}

mod figures;
#[cfg(test)]
mod tests;
mod volumes;

pub use figures::{QualityKey, SliceJob};
pub use volumes::{Finished, Outcome, SynthVolume};
