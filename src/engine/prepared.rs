//! A study made ready for one scenario: the slice geometry, the input ranges and the
//! predicted output ranges, the brain mask, and the inputs converted to model space
//! slice by slice as they are asked for.

use ndarray::{Array3, Axis};

use super::EngineError;
use crate::data::{context_slices, model_slice, SliceGeometry};
use crate::io::{BrainRange, Sequence, Study};
use crate::model::Scenario;

/// A study made ready for a scenario: geometry, normalisation and brain mask, computed
/// once and reused for every slice the viewer asks for. Inputs are converted to model
/// space slice by slice: [`Synthesizer::prepare_for`](super::Synthesizer::prepare_for)
/// converts the slice on screen only (the viewer's first slice waits for nothing else),
/// [`Prepared::complete`] the rest.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub scenario: Scenario,
    pub geometry: SliceGeometry,
    /// Brain range of each available sequence (inputs) and the predicted range of each
    /// missing one (outputs), channel order, study units.
    pub(super) ranges: [Option<BrainRange>; 4],
    /// Model-space inputs per available channel: [channel][z][side*side] (empty if missing).
    pub(super) inputs: Vec<Vec<f32>>,
    /// Which axial slices of `inputs` are converted.
    pub(super) ready: Vec<bool>,
    pub(super) brain: Array3<bool>,
    pub(super) depth: usize,
    /// Neighbouring slices a side the model reads with each slice: converting or
    /// synthesizing a slice takes its neighbours too.
    pub(super) context: usize,
}

impl Prepared {
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// An error naming the first of `zs` past the last slice, or not converted yet.
    pub(crate) fn check_slices(&self, zs: &[usize]) -> Result<(), EngineError> {
        if let Some(&z) = zs.iter().find(|&&z| z >= self.depth) {
            return Err(EngineError::SliceOutOfRange {
                z,
                depth: self.depth,
            });
        }
        match self.with_neighbours(zs).find(|&z| !self.ready[z]) {
            Some(z) => Err(EngineError::SliceNotPrepared { z }),
            None => Ok(()),
        }
    }

    /// The slices of the study `zs` and their neighbours read (those past the study
    /// ignored).
    fn with_neighbours<'a>(&self, zs: &'a [usize]) -> impl Iterator<Item = usize> + 'a {
        let (context, depth) = (self.context, self.depth);
        zs.iter()
            .filter(move |&&z| z < depth)
            .flat_map(move |&z| context_slices(z, context, depth).flatten())
    }

    /// Convert every input slice not converted yet (`study`: the one it was prepared from).
    pub fn complete(&mut self, study: &Study) {
        let all: Vec<usize> = (0..self.depth).collect();
        self.ensure(study, &all);
    }

    /// Convert those of the input slices `zs`, and of the neighbours the model reads with
    /// them, that are not converted yet (the ones past the study are ignored).
    pub fn ensure(&mut self, study: &Study, zs: &[usize]) {
        let mut zs: Vec<usize> = self
            .with_neighbours(zs)
            .filter(|&z| !self.ready[z])
            .collect();
        zs.sort_unstable();
        zs.dedup();
        if !zs.is_empty() {
            self.convert(study, &zs);
        }
    }

    /// Convert the input slices `zs` (in range) to model space, one thread per input.
    fn convert(&mut self, study: &Study, zs: &[usize]) {
        let n = self.geometry.side * self.geometry.side;
        let (geometry, brain, ranges) = (&self.geometry, self.brain.view(), &self.ranges);
        std::thread::scope(|scope| {
            for (c, input) in self.inputs.iter_mut().enumerate() {
                let (seq, range) = (self.scenario.set().get(c), ranges[c]);
                let Some(volume) = study.volume(seq).filter(|_| !input.is_empty()) else {
                    continue;
                };
                scope.spawn(move || {
                    let mut scratch = ndarray::Array2::zeros((0, 0));
                    for &z in zs {
                        let out = &mut input[z * n..(z + 1) * n];
                        model_slice(
                            geometry,
                            volume.data.view(),
                            brain,
                            range,
                            z,
                            out,
                            &mut scratch,
                        );
                    }
                });
            }
        });
        for &z in zs {
            self.ready[z] = true;
        }
    }

    /// The range a synthesized (missing) sequence is given, or an input's own range.
    pub fn range(&self, seq: Sequence) -> Option<BrainRange> {
        self.scenario
            .set()
            .channel(seq)
            .and_then(|c| self.ranges[c])
    }

    /// The axial slices with brain in them (the others are zero without running the model).
    pub fn brain_slices(&self) -> Vec<usize> {
        (0..self.depth)
            .filter(|&z| self.brain.index_axis(Axis(2), z).iter().any(|b| *b))
            .collect()
    }
}
