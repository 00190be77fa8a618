//! The volume analysis the viewer, `mmgan check` and [`evaluate`](super::evaluate) share:
//! a synthesized volume or slice against the acquired one (challenge and paper figures,
//! the intensity distribution's deviation), the uncertainty's correlation with the error,
//! and the self-check that scores each acquired input from the others.

use std::sync::atomic::AtomicBool;

use ndarray::{Array3, Axis};

use crate::data::brain_mask;
use crate::engine::{EngineError, Synthesizer};
use crate::io::{row_major, Sequence, Study};
use crate::metrics::{challenge_volume, paper_slice, Quality, RegionQuality};
use crate::model::Scenario;

/// The 5th, 50th and 95th percentiles of a volume inside the brain after the challenge
/// normalisation (its own 0.5-99.5 percentile range mapped to [0, 1]): the shape of its
/// intensity distribution, whatever its units. `None` for an empty brain.
pub fn normalised_percentiles(
    v: ndarray::ArrayView3<f32>,
    brain: ndarray::ArrayView3<bool>,
) -> Option<[f32; 3]> {
    let range = crate::io::BrainRange::of(v, brain)?;
    // Zip walks memory order (iter() would stride across a Fortran-order study).
    let mut inside: Vec<f32> = Vec::new();
    ndarray::Zip::from(&v).and(&brain).for_each(|&x, &b| {
        if b {
            inside.push(range.to_unit(x));
        }
    });
    Some([5.0, 50.0, 95.0].map(|p| crate::io::percentile_in_place(&mut inside, p)))
}

/// How far a synthesized volume's intensity distribution lies from the acquired one's:
/// the largest relative difference of their [`normalised_percentiles`] (5, 50, 95),
/// relative to the acquired value with a floor of [`PERCENTILE_FLOOR`] (15 % of a
/// near-zero 5th percentile would demand an exact zero). Issue 9's bar is 0.15: the
/// viewer's automatic window then gives both the same look. `None` for an empty brain.
pub fn percentile_deviation(
    pred: ndarray::ArrayView3<f32>,
    truth: ndarray::ArrayView3<f32>,
    brain: ndarray::ArrayView3<bool>,
) -> Option<f32> {
    Some(deviation_of_percentiles(
        normalised_percentiles(pred, brain)?,
        normalised_percentiles(truth, brain)?,
    ))
}

/// [`percentile_deviation`] from the two volumes' [`normalised_percentiles`].
pub fn deviation_of_percentiles(pred: [f32; 3], truth: [f32; 3]) -> f32 {
    (0..3)
        .map(|k| (pred[k] - truth[k]).abs() / truth[k].max(PERCENTILE_FLOOR))
        .fold(0.0, f32::max)
}

/// See [`percentile_deviation`].
pub const PERCENTILE_FLOOR: f32 = 0.05;

/// The brain of a study: the union of its sequences' non-zero voxels (the challenge's mask,
/// skull-stripped studies having a zero background).
pub fn study_brain(study: &Study) -> Array3<bool> {
    brain_mask(
        Sequence::ALL
            .iter()
            .filter_map(|s| study.volume(*s))
            .map(|v| v.data.view()),
    )
}

/// A synthesized volume of `seq` against the acquired one, the challenge way (brain,
/// tumour and non-tumour with a label map); `None` when the study lacks `seq`. What
/// `mmgan eval`, `mmgan check` and the viewer report.
pub fn volume_quality(
    study: &Study,
    seq: Sequence,
    pred: ndarray::ArrayView3<f32>,
) -> Option<RegionQuality> {
    let truth = study.volume(seq)?;
    let brain = study_brain(study);
    Some(challenge_volume(
        pred,
        truth.data.view(),
        brain.view(),
        study.label.as_ref().map(|l| l.data.view()),
    ))
}

/// A synthesized axial slice against the acquired one, the paper's way (the viewer's
/// per-slice figures; [`volume_quality`] gives the whole volume's).
pub fn slice_quality(pred: ndarray::ArrayView2<f32>, truth: ndarray::ArrayView2<f32>) -> Quality {
    let (w, h) = truth.dim();
    paper_slice(&row_major(pred), &row_major(truth), w, h)
}

/// How well an uncertainty map predicts the real error, by Spearman's rank correlation
/// between `uncertainty` and the absolute error of `synthesized` against the acquired `seq`
/// (both challenge-normalised): over every brain voxel of the volume, and the mean over
/// axial slices of the per-slice figure (slices with at least [`MIN_SLICE_VOXELS`] brain
/// voxels), as the literature reports it. `None` when the study lacks `seq`.
pub fn uncertainty_correlation(
    study: &Study,
    seq: Sequence,
    synthesized: ndarray::ArrayView3<f32>,
    uncertainty: ndarray::ArrayView3<f32>,
) -> Option<UncertaintyCorrelation> {
    let truth = study.volume(seq)?;
    let brain = study_brain(study);
    let rt = crate::io::BrainRange::of(truth.data.view(), brain.view())?;
    let rp = crate::io::BrainRange::of(synthesized, brain.view())?;
    let (mut error, mut spread) = (Vec::new(), Vec::new());
    let mut per_slice = Vec::new();
    for z in 0..brain.dim().2 {
        let (e0, s0) = (error.len(), spread.len());
        ndarray::Zip::from(brain.index_axis(Axis(2), z))
            .and(truth.data.index_axis(Axis(2), z))
            .and(synthesized.index_axis(Axis(2), z))
            .and(uncertainty.index_axis(Axis(2), z))
            .for_each(|&inside, &t, &p, &u| {
                if inside {
                    error.push((rp.to_unit(p) - rt.to_unit(t)).abs());
                    spread.push(u);
                }
            });
        if error.len() - e0 >= MIN_SLICE_VOXELS {
            per_slice.push(crate::engine::spearman(&spread[s0..], &error[e0..]));
        }
    }
    Some(UncertaintyCorrelation {
        volume: crate::engine::spearman(&spread, &error),
        slice_mean: per_slice.iter().sum::<f64>() / per_slice.len().max(1) as f64,
    })
}

/// Brain voxels a slice needs to count in [`UncertaintyCorrelation::slice_mean`].
pub const MIN_SLICE_VOXELS: usize = 500;

/// See [`uncertainty_correlation`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UncertaintyCorrelation {
    pub volume: f64,
    pub slice_mean: f64,
}

/// A study's figure is "far below" validation when its SSIM is under this share of the
/// validation SSIM, or its PSNR more than `PSNR_MARGIN_DB` below.
const SSIM_SHARE: f64 = 0.75;
const PSNR_MARGIN_DB: f64 = 3.0;

/// One acquired sequence synthesized from the others in a [`self_check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckRow {
    pub sequence: Sequence,
    pub quality: RegionQuality,
    /// The weights' validation figures for this sequence, if they carry them.
    pub validation: Option<Quality>,
    /// Far below validation: synthesis is unreliable for this study.
    pub unreliable: bool,
}

/// Leave-one-out on the sequences a study has: each acquired sequence synthesized from the
/// other acquired ones (those in `hidden` excepted: the user marked them missing, so they
/// are no input), scored against itself and judged against the weights' validation
/// figures. How well the model knows this patient (`mmgan check`, the viewer's panel).
pub fn self_check(
    synth: &Synthesizer,
    study: &Study,
    hidden: &[Sequence],
    cancel: &AtomicBool,
) -> Result<Vec<CheckRow>, EngineError> {
    let validation = synth.meta().validation;
    let set = synth.meta().sequences();
    Ok(leave_one_out(synth, study, hidden, cancel)?
        .into_iter()
        .map(|(sequence, quality)| {
            let reference = validation.and_then(|v| Some(v[set.channel(sequence)?]));
            CheckRow {
                sequence,
                quality,
                validation: reference,
                unreliable: reference.is_some_and(|r| {
                    quality.brain.ssim < SSIM_SHARE * r.ssim
                        || quality.brain.psnr < r.psnr - PSNR_MARGIN_DB
                }),
            }
        })
        .collect())
}

fn leave_one_out(
    synth: &Synthesizer,
    study: &Study,
    hidden: &[Sequence],
    cancel: &AtomicBool,
) -> Result<Vec<(Sequence, RegionQuality)>, EngineError> {
    let set = synth.meta().sequences();
    let inputs: Vec<Sequence> = set
        .sequences()
        .into_iter()
        .filter(|s| study.has(*s) && !hidden.contains(s))
        .collect();
    let mut out = Vec::new();
    for &seq in &inputs {
        if inputs.len() < 2 {
            break;
        }
        let missing: Vec<Sequence> = set
            .sequences()
            .into_iter()
            .filter(|s| *s == seq || !inputs.contains(s))
            .collect();
        let scenario =
            Scenario::with_missing(set, &missing).map_err(|e| EngineError::Scenario {
                missing: seq.name().into(),
                reason: e.to_string(),
            })?;
        let prepared = synth.prepare(study, scenario)?;
        let volumes = synth.synthesize_volume(&prepared, &mut |_, _| {}, cancel)?;
        if let Some(v) = volumes.iter().find(|v| v.sequence == seq) {
            if let Some(q) = volume_quality(study, seq, v.data.view()) {
                out.push((seq, q));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn percentile_deviation_measures_shape_not_units() {
        // A brain of 1000 voxels holding 1..=1000, the 24 voxels around it background.
        let brain = Array3::from_shape_fn((4, 4, 64), |(x, y, z)| x * 256 + y * 64 + z < 1000);
        let ramp = Array3::from_shape_fn((4, 4, 64), |(x, y, z)| {
            let i = x * 256 + y * 64 + z;
            if i < 1000 {
                (i + 1) as f32
            } else {
                0.0
            }
        });
        // The same distribution in other units: no deviation.
        let scaled = ramp.mapv(|v| 40.0 * v);
        let same = percentile_deviation(scaled.view(), ramp.view(), brain.view()).unwrap();
        assert!(same < 1e-3, "{same}");
        // Values squared, then rescaled by the challenge's clip: the median sinks from
        // about 0.5 to 0.25 (deviation 0.5), the 5th percentile from about 0.045 to 0.002
        // (0.043 over the floor of 0.05: 0.86), the largest.
        let squared = ramp.mapv(|v| v * v);
        let d = percentile_deviation(squared.view(), ramp.view(), brain.view()).unwrap();
        assert!((0.8..0.9).contains(&d), "{d}");
        let empty = Array3::from_elem((4, 4, 64), false);
        assert!(percentile_deviation(ramp.view(), ramp.view(), empty.view()).is_none());
    }
}
