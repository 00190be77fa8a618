//! Evaluation: for each scenario and each missing sequence, one or more synthesis methods
//! (MM-GAN, MM-Synthesis) against two baselines (mean of the available sequences; copy of
//! the most similar available one), measured the paper's way and the challenge way,
//! written as Markdown (per-method rows, and the methods side by side), CSV and JSON
//! (`table`). Also the volume analysis the viewer and `mmgan check` share.

mod table;

use std::sync::atomic::AtomicBool;

use ndarray::{Array3, Axis};

use crate::data::brain_mask;
use crate::engine::{EngineError, Synthesizer};
use crate::io::{row_major, Sequence, Study};
use crate::metrics::{challenge_volume, paper_slice, paper_volume};
pub use crate::metrics::{Quality, RegionQuality};
use crate::model::Scenario;

/// Which image is compared with the truth: a synthesis method's, or a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Method {
    Model(crate::model::Method),
    MeanOfAvailable,
    CopyMostSimilar,
}

impl Method {
    pub const BASELINES: [Method; 2] = [Method::MeanOfAvailable, Method::CopyMostSimilar];

    pub fn name(self) -> &'static str {
        match self {
            Method::Model(m) => m.title(),
            Method::MeanOfAvailable => "mean of available",
            Method::CopyMostSimilar => "copy most similar",
        }
    }
}

/// The available sequence closest in contrast to `target`, for the copy baseline. From MR
/// physics: T1 <-> T1c; T2 <-> FLAIR; DWI (b = 1000, a T2-weighted echo-planar image whose
/// CSF is dark and whose lesions are bright) looks most like FLAIR, then T2; an ADC map
/// (CSF bright) most like T2.
pub fn most_similar(target: Sequence, scenario: Scenario) -> Sequence {
    use Sequence::*;
    let order: [Sequence; 5] = match target {
        T1 => [T1c, Flair, T2, Dwi, Adc],
        T1c => [T1, Flair, T2, Dwi, Adc],
        T2 => [Flair, Dwi, Adc, T1c, T1],
        Flair => [T2, Dwi, T1c, T1, Adc],
        Dwi => [Flair, T2, T1, T1c, Adc],
        Adc => [T2, Flair, Dwi, T1, T1c],
    };
    order
        .into_iter()
        .find(|s| scenario.is_available(*s))
        .expect("a scenario has at least one available sequence")
}

/// One row: a method on one missing sequence of one scenario, averaged over subjects.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub scenario: String,
    pub scenario_index: usize,
    pub available: usize,
    pub sequence: Sequence,
    pub method: Method,
    pub subjects: usize,
    /// Per slice, each image divided by its max, all slices (the paper).
    pub paper: Quality,
    /// Per volume in the brain after a 0.5-99.5 percentile clip (the challenge).
    pub brain: Quality,
    pub tumour: Option<Quality>,
    pub non_tumour: Option<Quality>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Table {
    /// The sequences the scenarios are over (tables written before sets existed: BraTS's).
    #[serde(default)]
    pub set: crate::io::SequenceSet,
    pub subjects: Vec<String>,
    pub rows: Vec<Row>,
    /// Every single comparison (one subject, scenario, missing sequence, method), brain
    /// region: what the per-case summary counts.
    #[serde(default)]
    pub cases: Vec<Case>,
}

/// One subject's result for one missing sequence of one scenario and one method.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Case {
    pub subject: String,
    pub scenario_index: usize,
    pub sequence: Sequence,
    pub method: Method,
    pub brain: Quality,
    /// [`percentile_deviation`] against the acquired volume (tables written before it:
    /// none).
    #[serde(default)]
    pub intensity: Option<f32>,
}

/// (scenario index, missing sequence, method): what one row of the table aggregates.
type RowKey = (usize, Sequence, Method);

/// Evaluate `scenarios` on `studies` (each must have all four sequences) for each of
/// `synths` (one per method: a second of the same method is refused) and the baselines.
pub fn evaluate(
    synths: &[&Synthesizer],
    studies: &[Study],
    scenarios: &[Scenario],
    progress: &mut dyn FnMut(&str),
) -> Result<Table, EngineError> {
    let methods: Vec<crate::model::Method> = synths.iter().map(|s| s.meta().method).collect();
    if let Some(m) = methods
        .iter()
        .enumerate()
        .find_map(|(i, m)| methods[..i].contains(m).then_some(m))
    {
        return Err(EngineError::Scenario {
            missing: "the comparison".into(),
            reason: format!("two weights folders of {m}: give one per method"),
        });
    }
    let set = scenarios.first().map(|s| s.set()).unwrap_or_default();
    let cancel = AtomicBool::new(false);
    // (scenario index, sequence, method) -> per-subject results
    let mut acc: Vec<(RowKey, Vec<(Quality, RegionQuality)>)> = Vec::new();
    let mut cases = Vec::new();
    for study in studies {
        let brain = study_brain(study);
        let label = study.label.as_ref().map(|l| l.data.view());
        for &scenario in scenarios {
            progress(&format!("{}: {}", study.subject, scenario));
            let mut synthesized = Vec::with_capacity(synths.len());
            // A method that does not apply (pGAN with several inputs) has no rows there:
            // the table shows n/a.
            for synth in synths.iter().filter(|s| s.meta().method.supports(scenario)) {
                let prepared = synth.prepare(study, scenario)?;
                let volumes = synth.synthesize_volume(&prepared, &mut |_, _| {}, &cancel)?;
                synthesized.push((Method::Model(synth.meta().method), volumes));
            }
            let inputs: Vec<(Sequence, Array3<f32>)> = scenario
                .available()
                .into_iter()
                .map(|s| {
                    let v = &study.volume(s).expect("prepared checked it").data;
                    let mean = positive_mean(v);
                    (s, v.mapv(|x| x.max(0.0) / mean))
                })
                .collect();
            let mean_of_available = {
                let mut m = Array3::<f32>::zeros(
                    study.volume(inputs[0].0).expect("present").data.raw_dim(),
                );
                for (_, v) in &inputs {
                    m += v;
                }
                m / inputs.len() as f32
            };
            for (k, seq) in scenario.missing().into_iter().enumerate() {
                let truth = study.volume(seq).ok_or_else(|| EngineError::Scenario {
                    missing: seq.name().into(),
                    reason: "evaluation needs the ground truth of every missing sequence".into(),
                })?;
                let copy = &inputs
                    .iter()
                    .find(|(q, _)| *q == most_similar(seq, scenario))
                    .expect("available")
                    .1;
                let mut candidates: Vec<(Method, &Array3<f32>)> = synthesized
                    .iter()
                    .map(|(m, volumes)| (*m, &volumes[k].data))
                    .collect();
                candidates.push((Method::MeanOfAvailable, &mean_of_available));
                candidates.push((Method::CopyMostSimilar, copy));
                // The comparisons are independent and each a few seconds of SSIM: one
                // thread each.
                type Measured = (Method, Quality, RegionQuality, Option<f32>);
                // The acquired volume's percentiles once, not once per candidate.
                let acquired = normalised_percentiles(truth.data.view(), brain.view());
                let measured: Vec<Measured> = std::thread::scope(|scope| {
                    let jobs: Vec<_> = candidates
                        .iter()
                        .map(|&(method, pred)| {
                            let (truth, brain) = (&truth.data, &brain);
                            scope.spawn(move || {
                                let paper = paper_volume(pred.view(), truth.view());
                                let region = challenge_volume(
                                    pred.view(),
                                    truth.view(),
                                    brain.view(),
                                    label,
                                );
                                let intensity = normalised_percentiles(pred.view(), brain.view())
                                    .zip(acquired)
                                    .map(|(p, t)| deviation_of_percentiles(p, t));
                                (method, paper, region, intensity)
                            })
                        })
                        .collect();
                    jobs.into_iter()
                        .map(|j| j.join().expect("metric threads do not panic"))
                        .collect()
                });
                for (method, paper, region, intensity) in measured {
                    cases.push(Case {
                        subject: study.subject.clone(),
                        scenario_index: scenario.index(),
                        sequence: seq,
                        method,
                        brain: region.brain,
                        intensity,
                    });
                    let key = (scenario.index(), seq, method);
                    match acc.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, v)) => v.push((paper, region)),
                        None => acc.push((key, vec![(paper, region)])),
                    }
                }
            }
        }
    }
    let all = Scenario::all(set);
    let rows = acc
        .into_iter()
        .map(|((si, sequence, method), v)| {
            let mean_of = |f: &dyn Fn(&(Quality, RegionQuality)) -> Option<Quality>| {
                Quality::mean(&v.iter().filter_map(f).collect::<Vec<_>>())
            };
            Row {
                scenario: all[si].to_string(),
                scenario_index: si,
                available: all[si].available().len(),
                sequence,
                method,
                subjects: v.len(),
                paper: mean_of(&|r| Some(r.0)).unwrap_or_default(),
                brain: mean_of(&|r| Some(r.1.brain)).unwrap_or_default(),
                tumour: mean_of(&|r| r.1.tumour),
                non_tumour: mean_of(&|r| r.1.non_tumour),
            }
        })
        .collect();
    Ok(Table {
        set,
        subjects: studies.iter().map(|s| s.subject.clone()).collect(),
        rows,
        cases,
    })
}

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

fn positive_mean(v: &Array3<f32>) -> f32 {
    let m = v.fold(0f64, |a, x| a + f64::from(x.max(0.0))) / v.len().max(1) as f64;
    if m > 0.0 {
        m as f32
    } else {
        1.0
    }
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
