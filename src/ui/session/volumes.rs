//! The synthesized layers of a session as the worker delivers them: each missing
//! sequence's volume (and its uncertainty) filling in slice by slice, what has arrived,
//! and what is finished enough to export.

use std::sync::Arc;

use ndarray::{Array3, ArrayView2, Axis};

use super::{next_id, Session};
use crate::engine::{Response, Stage};
use crate::io::{display_window, Sequence};
use crate::ui::view::Plane;

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
    fn new(dims: [usize; 3], window: (f32, f32)) -> SynthVolume {
        let [nx, ny, nz] = dims;
        SynthVolume {
            data: Arc::new(Array3::zeros(ndarray::ShapeBuilder::f((nx, ny, nz)))),
            have: vec![false; nz],
            complete: false,
            window,
        }
    }

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

/// Finished synthesized volumes, shared with the thread that exports them.
pub type Finished = Vec<(Sequence, Arc<Array3<f32>>)>;

impl Session {
    /// Take in one of the worker's answers; answers to an older request are ignored.
    pub fn apply(&mut self, response: Response) -> Outcome {
        let mut outcome = Outcome::default();
        match response {
            Response::Started {
                generation, total, ..
            } if generation == self.generation => {
                self.progress = Some((Stage::Synthesis, 0, total))
            }
            Response::Slice {
                generation,
                z,
                slices,
            } if generation == self.generation => {
                for (seq, slice) in slices {
                    self.put_slice(Stage::Synthesis, seq, z, slice.view());
                }
                outcome.focus_shown = z == self.axial();
            }
            Response::Uncertainty {
                generation,
                z,
                slices,
            } if generation == self.generation => {
                for (seq, slice) in slices {
                    self.put_slice(Stage::Uncertainty, seq, z, slice.view());
                }
            }
            Response::Progress {
                generation,
                stage,
                done,
                total,
            } if generation == self.generation => self.progress = Some((stage, done, total)),
            Response::Done { generation, stage } if generation == self.generation => {
                let dims = self.study.grid.dims;
                for seq in self.missing() {
                    // Slices without brain never come: they stay zero.
                    let (volumes, versions) = self.layer(stage);
                    volumes[seq.slot()]
                        .get_or_insert_with(|| SynthVolume::new(dims, (0.0, 1.0)))
                        .complete = true;
                    versions[seq.slot()] = next_id();
                    if stage == Stage::Synthesis {
                        outcome.completed.push(seq);
                    }
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

    /// The volumes a stage fills, and their versions.
    fn layer(
        &mut self,
        stage: Stage,
    ) -> (
        &mut [Option<SynthVolume>; Sequence::COUNT],
        &mut [u64; Sequence::COUNT],
    ) {
        match stage {
            Stage::Synthesis => (&mut self.synth, &mut self.version),
            Stage::Uncertainty => (&mut self.uncertainty, &mut self.uncertainty_version),
        }
    }

    fn put_slice(&mut self, stage: Stage, seq: Sequence, z: usize, slice: ArrayView2<f32>) {
        let dims = self.study.grid.dims;
        if z >= dims[2] || slice.dim() != (dims[0], dims[1]) || !self.missing().contains(&seq) {
            log::warn!("a synthesized slice that does not fit the study was dropped");
            return;
        }
        // Every arriving axial slice adds a row to coronal and sagittal slices.
        let shown = z == self.axial() || self.plane != Plane::Axial;
        let (volumes, versions) = self.layer(stage);
        let entry = volumes[seq.slot()]
            .get_or_insert_with(|| SynthVolume::new(dims, window_of_slice(slice)));
        Arc::make_mut(&mut entry.data)
            .index_axis_mut(Axis(2), z)
            .assign(&slice);
        entry.have[z] = true;
        if shown {
            versions[seq.slot()] = next_id();
        }
    }

    /// The uncertainty of the synthesized `seq`, as far as it arrived.
    pub fn uncertainty_volume(&self, seq: Sequence) -> Option<&SynthVolume> {
        self.uncertainty[seq.slot()].as_ref()
    }

    pub fn uncertainty_version(&self, seq: Sequence) -> u64 {
        self.uncertainty_version[seq.slot()]
    }

    /// The synthesized volume of `seq`, as far as it arrived.
    pub fn synthesized_volume(&self, seq: Sequence) -> Option<&SynthVolume> {
        self.synth[seq.slot()].as_ref()
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
        (!self.study.has(seq) || self.marked[seq.slot()])
            && self.synthesized_volume(seq).is_some_and(arrived)
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
        let sources = self
            .set
            .sequences()
            .into_iter()
            .filter(|s| !done.iter().any(|d| d.0 == *s) && self.study.has(*s))
            .collect();
        (done, sources)
    }
}

fn window_of_slice(s: ArrayView2<f32>) -> (f32, f32) {
    let owned = s.to_owned().insert_axis(Axis(2));
    display_window(owned.view())
}
