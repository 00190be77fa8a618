//! Fitting the output calibration of a weights folder (see [`OutputCalibration`]): each
//! sequence synthesized alone (from the other three) on training subjects, the quantiles of
//! the model's output in the brain matched to those of the acquired volume; and, from the
//! same syntheses, the error expected at each output intensity ([`ExpectedError`]).

use std::sync::atomic::AtomicBool;

use super::synthesizer::{EngineError, Synthesizer};
use crate::data::{
    brain_mask, quantiles, ErrorSample, ExpectedError, OutputCalibration, QuantilePair,
};
use crate::io::{BrainRange, Sequence, Study};
use crate::model::Scenario;

impl Synthesizer {
    /// Fit the calibration on `studies` (each with all four sequences; use training
    /// subjects: fitting on the validation subjects would flatter their figures), for the
    /// sequences in `only` (all when empty; the others keep the output as it is), and the
    /// expected error of the calibrated output. The synthesizer's own calibration is set
    /// aside while fitting and replaced by the result.
    pub fn fit_calibration(
        &mut self,
        studies: &[Study],
        only: &[Sequence],
        progress: &mut dyn FnMut(&str),
    ) -> Result<(OutputCalibration, ExpectedError), EngineError> {
        /// Every this many brain voxels is kept for the error table: plenty per bin.
        const SAMPLE_EVERY: usize = 16;
        self.set_calibration(None);
        let cancel = AtomicBool::new(false);
        let mut pairs: [Vec<QuantilePair>; 4] = Default::default();
        let mut samples: [Vec<ErrorSample>; 4] = Default::default();
        let set = self.meta().sequences();
        for study in studies {
            let brain = brain_mask(
                set.sequences()
                    .iter()
                    .filter_map(|s| study.volume(*s))
                    .map(|v| v.data.view()),
            );
            for (c, seq) in set.sequences().into_iter().enumerate() {
                let Some(truth) = study.volume(seq) else {
                    continue;
                };
                progress(&format!("{}: {seq}", study.subject));
                let scenario =
                    Scenario::with_missing(set, &[seq]).map_err(|e| EngineError::Scenario {
                        missing: seq.name().into(),
                        reason: e.to_string(),
                    })?;
                let prepared = self.prepare(study, scenario)?;
                let out = self.synthesize_volume(&prepared, &mut |_, _| {}, &cancel)?;
                let (Some(predicted), Some(acquired)) = (
                    prepared.range(seq),
                    BrainRange::of(truth.data.view(), brain.view()),
                ) else {
                    continue;
                };
                let span = (predicted.hi - predicted.lo).max(f32::MIN_POSITIVE);
                let (mut model, mut target) = (Vec::new(), Vec::new());
                ndarray::Zip::from(&brain)
                    .and(&out[0].data)
                    .and(&truth.data)
                    .for_each(|&inside, &v, &t| {
                        if inside {
                            // Back to model space: the inverse of the predicted range.
                            model.push((v - predicted.lo) / span);
                            target.push(acquired.to_unit(t));
                        }
                    });
                samples[c].extend(
                    model
                        .iter()
                        .zip(&target)
                        .step_by(SAMPLE_EVERY)
                        .map(|(&m, &t)| [m, t]),
                );
                pairs[c].push((quantiles(&mut model), quantiles(&mut target)));
            }
        }
        let mut calibration = OutputCalibration::fit(&pairs);
        if !only.is_empty() {
            for (c, _) in set
                .sequences()
                .iter()
                .enumerate()
                .filter(|(_, s)| !only.contains(s))
            {
                calibration.curves[c].clear();
            }
        }
        let expected = ExpectedError::fit(&calibration, &samples);
        self.set_calibration(Some(calibration.clone()));
        Ok((calibration, expected))
    }
}
