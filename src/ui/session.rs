//! One open study and everything the viewer knows about it: the plane and the cursor (the
//! voxel every plane's slice passes through), the sequences marked missing, the synthesized volumes as they fill in, window/level, crosshair and the
//! quality figures. No egui here: the panels read a `Session`, the app feeds it the
//! worker's [`Response`]s through [`Session::apply`] and sends the [`Request`]s it returns.
//!
//! Each synthesized volume exists once, here: the worker sends slices and keeps nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ndarray::{Array2, Array3, ArrayView2, Axis};

use super::settings::Windows;
use super::view::Plane;
use crate::engine::{Request, Response};
use crate::eval::{Quality, RegionQuality};
use crate::io::{display_window, Sequence, Study};
use crate::model::Scenario;

/// Numbers unique in this process: request generations and content versions never repeat
/// across studies, so a late answer or a cached drawing of an earlier study cannot match.
pub fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A synthesized sequence as it arrives: slices fill in until the whole volume is done.
pub struct SynthVolume {
    /// Shared with the threads that analyse and export it.
    pub data: Arc<Array3<f32>>,
    /// Which axial slices have arrived.
    have: Vec<bool>,
    complete: bool,
    /// The automatic window: of the first slice, then of the whole volume once analysed.
    pub window: (f32, f32),
}

impl SynthVolume {
    pub fn has_slice(&self, z: usize) -> bool {
        self.complete || self.have.get(z).copied().unwrap_or(false)
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

/// What the app must do after [`Session::apply`].
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// The slice on screen arrived (the latency a user sees).
    pub focus_shown: bool,
    /// Volumes now complete, to analyse.
    pub completed: Vec<Sequence>,
    /// The synthesis failed, with why.
    pub failed: Option<String>,
}

/// A slice to measure against its ground truth off the UI thread.
pub struct SliceJob {
    pub sequence: Sequence,
    pub key: QualityKey,
    pub synthesized: Array2<f32>,
    pub truth: Array2<f32>,
}

/// Finished synthesized volumes, shared with the thread that exports them.
pub type Finished = Vec<(Sequence, Arc<Array3<f32>>)>;

/// The (plane, slice, content version) a slice figure was measured on.
pub type QualityKey = (Plane, usize, u64);

pub struct Session {
    pub study: Arc<Study>,
    plane: Plane,
    /// The voxel [x, y, z] the shown slices pass through (the crosshair's when placed).
    cursor: [usize; 3],
    /// Whether the user placed the crosshair.
    crosshair: bool,
    /// Marked missing by the user (absent sequences are always missing).
    marked: [bool; 4],
    synth: [Option<SynthVolume>; 4],
    /// Changes whenever what a panel shows changes, so its drawing is rebuilt.
    version: [u64; 4],
    generation: u64,
    progress: Option<(usize, usize)>,
    pub windows: Windows,
    /// Slice figures per panel, keyed by (plane, slice, version); `None` while measuring.
    slice_qualities: [Option<(QualityKey, Option<Quality>)>; 4],
    volume_qualities: [Option<RegionQuality>; 4],
}

impl Session {
    /// A study opened in `plane` through its centre, with `missing` marked (those it has).
    pub fn new(study: Study, plane: Plane, missing: &[Sequence], windows: Windows) -> Session {
        let mut marked = [false; 4];
        for s in missing {
            marked[s.index()] = study.has(*s);
        }
        Session {
            plane,
            cursor: study.grid.dims.map(|n| n / 2),
            crosshair: false,
            study: Arc::new(study),
            marked,
            synth: Default::default(),
            version: [(); 4].map(|()| next_id()),
            generation: 0,
            progress: None,
            windows,
            slice_qualities: Default::default(),
            volume_qualities: Default::default(),
        }
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

    pub fn progress(&self) -> Option<(usize, usize)> {
        self.progress
    }

    pub fn version(&self, seq: Sequence) -> u64 {
        self.version[seq.index()]
    }

    /// Whether the user marked `seq` missing (an absent sequence is missing regardless).
    pub fn is_marked(&self, seq: Sequence) -> bool {
        self.marked[seq.index()]
    }

    /// The sequences the model must synthesize: absent ones and those marked missing.
    pub fn missing(&self) -> Vec<Sequence> {
        Sequence::ALL
            .into_iter()
            .filter(|s| !self.study.has(*s) || self.marked[s.index()])
            .collect()
    }

    /// Forget what was synthesized and ask for the current missing set under a new
    /// generation: `Cancel` when nothing is missing, `Err` when the model cannot do it
    /// (the caller cancels the old request and shows why).
    pub fn synthesis_request(&mut self) -> Result<Request, String> {
        self.synth = Default::default();
        self.progress = None;
        self.volume_qualities = Default::default();
        self.version = [(); 4].map(|()| next_id());
        self.generation = next_id();
        let missing = self.missing();
        if missing.is_empty() {
            return Ok(Request::Cancel);
        }
        let scenario = Scenario::with_missing(&missing).map_err(|e| e.to_string())?;
        Ok(Request::Synthesize {
            generation: self.generation,
            study: self.study.clone(),
            scenario,
            focus: self.axial(),
        })
    }

    /// Mark or unmark `seq` missing; the new request to send, if anything changed.
    pub fn set_marked(&mut self, seq: Sequence, missing: bool) -> Option<Result<Request, String>> {
        if !self.study.has(seq) || self.marked[seq.index()] == missing {
            return None;
        }
        self.marked[seq.index()] = missing;
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

    /// Take in one of the worker's answers; answers to an older request are ignored.
    pub fn apply(&mut self, response: Response) -> Outcome {
        let mut outcome = Outcome::default();
        match response {
            Response::Started {
                generation, total, ..
            } if generation == self.generation => self.progress = Some((0, total)),
            Response::Slice {
                generation,
                z,
                slices,
            } if generation == self.generation => {
                for (seq, slice) in slices {
                    self.put_slice(seq, z, slice.view());
                }
                outcome.focus_shown = z == self.axial();
            }
            Response::Progress {
                generation,
                done,
                total,
            } if generation == self.generation => self.progress = Some((done, total)),
            Response::Done { generation } if generation == self.generation => {
                for seq in self.missing() {
                    let [nx, ny, nz] = self.study.grid.dims;
                    // Slices without brain never come: they stay zero.
                    let v = self.synth[seq.index()].get_or_insert_with(|| SynthVolume {
                        data: Arc::new(Array3::zeros(ndarray::ShapeBuilder::f((nx, ny, nz)))),
                        have: vec![false; nz],
                        complete: false,
                        window: (0.0, 1.0),
                    });
                    v.complete = true;
                    self.version[seq.index()] = next_id();
                    outcome.completed.push(seq);
                }
                self.progress = None;
            }
            Response::Cancelled { generation } if generation == self.generation => {
                self.progress = None;
            }
            Response::Failed {
                generation,
                message,
            } if generation == self.generation => {
                self.progress = None;
                outcome.failed = Some(message);
            }
            _ => {}
        }
        outcome
    }

    fn put_slice(&mut self, seq: Sequence, z: usize, slice: ArrayView2<f32>) {
        let [nx, ny, nz] = self.study.grid.dims;
        if z >= nz || slice.dim() != (nx, ny) || !self.missing().contains(&seq) {
            log::warn!("a synthesized slice that does not fit the study was dropped");
            return;
        }
        let entry = self.synth[seq.index()].get_or_insert_with(|| SynthVolume {
            data: Arc::new(Array3::zeros(ndarray::ShapeBuilder::f((nx, ny, nz)))),
            have: vec![false; nz],
            complete: false,
            window: window_of_slice(slice),
        });
        Arc::make_mut(&mut entry.data)
            .index_axis_mut(Axis(2), z)
            .assign(&slice);
        entry.have[z] = true;
        // Every arriving axial slice adds a row to coronal and sagittal slices.
        if z == self.axial() || self.plane != Plane::Axial {
            self.version[seq.index()] = next_id();
        }
    }

    /// The synthesized volume of `seq`, as far as it arrived.
    pub fn synthesized_volume(&self, seq: Sequence) -> Option<&SynthVolume> {
        self.synth[seq.index()].as_ref()
    }

    /// Whether the whole volume of `seq` has been synthesized.
    pub fn synthesized(&self, seq: Sequence) -> bool {
        self.synthesized_volume(seq)
            .is_some_and(SynthVolume::is_complete)
    }

    /// Whether the panel of `seq` shows a synthesized slice at the current position (in
    /// coronal and sagittal, as soon as any row arrived).
    pub fn is_synthetic_shown(&self, seq: Sequence) -> bool {
        let arrived = |v: &SynthVolume| match self.plane {
            Plane::Axial => v.has_slice(self.axial()),
            _ => v.complete || v.have.iter().any(|h| *h),
        };
        (!self.study.has(seq) || self.marked[seq.index()])
            && self.synthesized_volume(seq).is_some_and(arrived)
    }

    /// The shown slice of a volume: [width, height] as on screen before flipping.
    pub fn plane_slice<'a>(&self, volume: &'a Array3<f32>) -> ArrayView2<'a, f32> {
        volume.index_axis(Axis(self.plane.axis()), self.slice())
    }

    /// The finished volumes to export and the acquired sequences they came from.
    pub fn exportable(&self) -> (Finished, Vec<Sequence>) {
        let done: Finished = self
            .missing()
            .into_iter()
            .filter_map(|s| {
                let v = self.synthesized_volume(s).filter(|v| v.is_complete())?;
                Some((s, v.data.clone()))
            })
            .collect();
        let sources = Sequence::ALL
            .into_iter()
            .filter(|s| !done.iter().any(|d| d.0 == *s) && self.study.has(*s))
            .collect();
        (done, sources)
    }

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
        self.windows[seq.index()].unwrap_or_else(|| self.auto_window(seq, truth_half))
    }

    /// The whole volume's window, computed off the UI thread.
    pub fn set_synthesized_window(&mut self, generation: u64, seq: Sequence, w: (f32, f32)) {
        if generation == self.generation {
            if let Some(v) = self.synth[seq.index()].as_mut() {
                v.window = w;
            }
        }
    }

    pub fn set_volume_quality(&mut self, generation: u64, seq: Sequence, q: RegionQuality) {
        if generation == self.generation {
            self.volume_qualities[seq.index()] = Some(q);
        }
    }

    /// Whole-volume figures of the synthesized `seq` (challenge definition), once measured.
    pub fn volume_quality(&self, seq: Sequence) -> Option<RegionQuality> {
        self.volume_qualities[seq.index()]
    }

    pub fn set_slice_quality(&mut self, seq: Sequence, key: QualityKey, q: Quality) {
        let slot = &mut self.slice_qualities[seq.index()];
        if slot.as_ref().is_some_and(|(k, _)| *k == key) {
            *slot = Some((key, Some(q)));
        }
    }

    /// Figures of the synthesized slice of `seq` on screen (paper definition), once
    /// measured.
    pub fn slice_quality(&self, seq: Sequence) -> Option<Quality> {
        self.slice_qualities[seq.index()]
            .filter(|(k, _)| *k == self.quality_key(seq))
            .and_then(|(_, q)| q)
    }

    fn quality_key(&self, seq: Sequence) -> QualityKey {
        (self.plane, self.slice(), self.version[seq.index()])
    }

    /// The slices on screen whose figures are not measured yet (each returned once per
    /// slice and content): synthesized ones with a ground truth, whole (a coronal or
    /// sagittal slice only once the volume is complete).
    pub fn slices_to_measure(&mut self) -> Vec<SliceJob> {
        let mut jobs = Vec::new();
        for seq in Sequence::ALL {
            let key = self.quality_key(seq);
            let known = self.slice_qualities[seq.index()].is_some_and(|(k, _)| k == key);
            let (Some(truth), true, false) =
                (self.study.volume(seq), self.is_synthetic_shown(seq), known)
            else {
                continue;
            };
            let Some(v) = self
                .synthesized_volume(seq)
                .filter(|v| v.complete || self.plane == Plane::Axial)
            else {
                continue;
            };
            jobs.push(SliceJob {
                sequence: seq,
                key,
                synthesized: self.plane_slice(&v.data).to_owned(),
                truth: self.plane_slice(&truth.data).to_owned(),
            });
            self.slice_qualities[seq.index()] = Some((key, None));
        }
        jobs
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
        for seq in Sequence::ALL {
            let truth = study.volume(seq).map(|v| v.data[[x, y, z]]);
            let synth = self
                .synthesized_volume(seq)
                .filter(|v| v.has_slice(z))
                .map(|v| v.data[[x, y, z]]);
            let value = match (self.marked[seq.index()] || truth.is_none(), synth, truth) {
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

fn window_of_slice(s: ArrayView2<f32>) -> (f32, f32) {
    let owned = s.to_owned().insert_axis(Axis(2));
    display_window(owned.view())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn demo() -> Study {
        Study::open(&crate::shipped::demo_study().unwrap()).unwrap()
    }

    /// A slice response for every missing sequence of `s`, all voxels `value`.
    fn slice(s: &Session, generation: u64, z: usize, value: f32) -> Response {
        let [nx, ny, _] = s.study.grid.dims;
        Response::Slice {
            generation,
            z,
            slices: s
                .missing()
                .into_iter()
                .map(|seq| (seq, Array2::from_elem((nx, ny), value)))
                .collect(),
        }
    }

    fn generation_of(r: &Request) -> u64 {
        match r {
            Request::Synthesize { generation, .. } => *generation,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ticking_asks_for_the_missing_set_and_unticking_cancels_and_clears() {
        let mut s = Session::new(demo(), Plane::Axial, &[], [None; 4]);
        assert!(s.missing().is_empty());
        let r = s.set_marked(Sequence::Flair, true).unwrap().unwrap();
        let Request::Synthesize {
            scenario, focus, ..
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!(scenario.missing(), vec![Sequence::Flair]);
        assert_eq!(*focus, s.slice());
        assert!(s.set_marked(Sequence::Flair, true).is_none(), "no change");

        let g = generation_of(&r);
        s.apply(slice(&s, g, s.slice(), 5.0));
        assert!(s.is_synthetic_shown(Sequence::Flair));

        // Unticked: the worker is told to stop and the marking and slices are gone.
        let r = s.set_marked(Sequence::Flair, false).unwrap().unwrap();
        assert!(matches!(r, Request::Cancel), "{r:?}");
        assert!(!s.is_synthetic_shown(Sequence::Flair));
        assert!(s.synthesized_volume(Sequence::Flair).is_none());
        assert!(s.missing().is_empty());
    }

    #[test]
    fn late_answers_of_an_old_request_are_ignored() {
        let mut s = Session::new(demo(), Plane::Axial, &[Sequence::T2], [None; 4]);
        let old = generation_of(&s.synthesis_request().unwrap());
        let new = generation_of(&s.set_marked(Sequence::Flair, true).unwrap().unwrap());
        assert_ne!(old, new);
        let z = s.slice();
        let stale = s.apply(slice(&s, old, z, 9.0));
        assert!(!stale.focus_shown);
        assert!(s.synthesized_volume(Sequence::T2).is_none());
        let stale = s.apply(Response::Done { generation: old });
        assert!(stale.completed.is_empty());
        let stale = s.apply(Response::Failed {
            generation: old,
            message: "old".into(),
        });
        assert!(stale.failed.is_none());

        let fresh = s.apply(slice(&s, new, z, 3.0));
        assert!(fresh.focus_shown);
        assert_eq!(
            s.synthesized_volume(Sequence::T2).unwrap().data[[10, 10, z]],
            3.0
        );
        // The old generation's window and figures do not land either.
        s.set_synthesized_window(old, Sequence::T2, (7.0, 8.0));
        assert_ne!(
            s.synthesized_volume(Sequence::T2).unwrap().window,
            (7.0, 8.0)
        );
    }

    #[test]
    fn done_completes_every_missing_volume_once_and_keeps_the_slices() {
        let mut s = Session::new(
            demo(),
            Plane::Axial,
            &[Sequence::T1, Sequence::T1c],
            [None; 4],
        );
        let g = generation_of(&s.synthesis_request().unwrap());
        assert_eq!(
            s.apply(Response::Started {
                generation: g,
                scenario: Scenario::with_missing(&s.missing()).unwrap(),
                total: 2,
            }),
            Outcome::default()
        );
        assert_eq!(s.progress(), Some((0, 2)));
        s.apply(slice(&s, g, 40, 2.0));
        assert!(!s.synthesized(Sequence::T1));
        assert!(s.exportable().0.is_empty(), "nothing to export half done");
        let done = s.apply(Response::Done { generation: g });
        assert_eq!(done.completed, vec![Sequence::T1, Sequence::T1c]);
        assert!(s.synthesized(Sequence::T1) && s.synthesized(Sequence::T1c));
        assert_eq!(s.progress(), None);
        let v = s.synthesized_volume(Sequence::T1c).unwrap();
        assert_eq!(v.data[[5, 5, 40]], 2.0);
        assert_eq!(v.data[[5, 5, 41]], 0.0, "slices that never came stay zero");
        let (volumes, sources) = s.exportable();
        assert_eq!(
            volumes.iter().map(|v| v.0).collect::<Vec<_>>(),
            vec![Sequence::T1, Sequence::T1c]
        );
        assert_eq!(sources, vec![Sequence::T2, Sequence::Flair]);
        // A slice of the wrong size (a confused worker) is dropped, not a panic.
        s.apply(Response::Slice {
            generation: g,
            z: 1,
            slices: vec![(Sequence::T1, Array2::zeros((3, 3)))],
        });
    }

    #[test]
    fn scrubbing_refocuses_the_worker_and_slice_figures_are_measured_once() {
        let mut s = Session::new(demo(), Plane::Axial, &[Sequence::Flair], [None; 4]);
        let g = generation_of(&s.synthesis_request().unwrap());
        let z = s.slice();
        assert!(s.set_slice(z).is_none());
        match s.set_slice(z + 3) {
            Some(Request::Focus { generation, z: to }) => {
                assert_eq!((generation, to), (g, z + 3))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.set_slice(100_000),
            Some(Request::Focus { z, .. }) if z == s.depth() - 1
        ));
        s.set_slice(z);
        assert!(s.slices_to_measure().is_empty(), "nothing synthesized yet");
        s.apply(slice(&s, g, z, 1.0));
        let jobs = s.slices_to_measure();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].sequence, Sequence::Flair);
        assert!(s.slices_to_measure().is_empty(), "asked once");
        let q = crate::eval::slice_quality(jobs[0].synthesized.view(), jobs[0].truth.view());
        s.set_slice_quality(Sequence::Flair, jobs[0].key, q);
        assert_eq!(s.slice_quality(Sequence::Flair), Some(q));
        s.set_slice(z + 1);
        assert_eq!(s.slice_quality(Sequence::Flair), None, "another slice");
    }

    #[test]
    fn coronal_and_sagittal_slices_follow_the_cursor_and_fill_row_by_row() {
        let mut s = Session::new(demo(), Plane::Axial, &[Sequence::Flair], [None; 4]);
        let g = generation_of(&s.synthesis_request().unwrap());
        let [nx, ny, nz] = s.study.grid.dims;
        s.set_plane(Plane::Coronal);
        assert_eq!((s.slice(), s.depth()), (ny / 2, ny));
        // Another coronal slice: the axial focus stays.
        assert!(s.set_slice(ny / 2 + 5).is_none());
        assert_eq!(s.cursor(), [nx / 2, ny / 2 + 5, nz / 2]);
        // A click in the coronal panel moves the axial slice: the worker is refocused.
        match s.set_crosshair([10, ny / 2 + 5, 30]) {
            Some(Request::Focus { z: 30, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(s.crosshair(), Some([10, ny / 2 + 5, 30]));
        assert!(!s.is_synthetic_shown(Sequence::Flair));
        let before = s.version(Sequence::Flair);
        s.apply(slice(&s, g, 70, 2.0));
        assert!(s.is_synthetic_shown(Sequence::Flair), "a row arrived");
        assert_ne!(
            s.version(Sequence::Flair),
            before,
            "the coronal slice changed"
        );
        let v = s.synthesized_volume(Sequence::Flair).unwrap();
        let shown = s.plane_slice(&v.data);
        assert_eq!(shown.dim(), (nx, nz));
        assert_eq!((shown[[3, 70]], shown[[3, 71]]), (2.0, 0.0));
        assert!(
            s.slices_to_measure().is_empty(),
            "a partial coronal slice is not scored"
        );
        s.apply(Response::Done { generation: g });
        assert_eq!(s.slices_to_measure().len(), 1);
        s.set_plane(Plane::Sagittal);
        assert_eq!((s.slice(), s.depth()), (10, nx));
        assert_eq!(s.plane_slice(&v_data(&s)).dim(), (ny, nz));
    }

    fn v_data(s: &Session) -> Array3<f32> {
        s.synthesized_volume(Sequence::Flair)
            .unwrap()
            .data
            .as_ref()
            .clone()
    }

    #[test]
    fn the_crosshair_line_labels_synthetic_values() {
        let mut s = Session::new(demo(), Plane::Axial, &[Sequence::T2], [None; 4]);
        let g = generation_of(&s.synthesis_request().unwrap());
        s.set_crosshair([120, 120, s.slice()]);
        let pending = s.crosshair_status().unwrap();
        assert!(pending.contains("T2 pending"), "{pending}");
        s.apply(slice(&s, g, s.slice(), 4.5));
        let line = s.crosshair_status().unwrap();
        assert!(line.contains("T2 4.5 synthetic (acquired"), "{line}");
        assert!(
            line.contains(&format!("voxel (120, 120, {})", s.slice())),
            "{line}"
        );
    }
}
