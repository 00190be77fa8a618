//! Evaluation: for each scenario and each missing sequence, one or more synthesis methods
//! (MM-GAN, MM-Synthesis) against two baselines (mean of the available sequences; copy of
//! the most similar available one), measured the paper's way and the challenge way,
//! written as Markdown (per-method rows, and the methods side by side), CSV and JSON
//! (`table`). Also the volume analysis the viewer and `mmgan check` share (`analysis`).

mod analysis;
mod table;

pub use analysis::{
    deviation_of_percentiles, normalised_percentiles, percentile_deviation, self_check,
    slice_quality, study_brain, uncertainty_correlation, volume_quality, CheckRow,
    UncertaintyCorrelation, MIN_SLICE_VOXELS, PERCENTILE_FLOOR,
};

use std::sync::atomic::AtomicBool;

use ndarray::Array3;

use crate::engine::{EngineError, Synthesizer};
use crate::io::{Sequence, Study};
use crate::metrics::{challenge_volume, paper_volume};
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
    check_one_per_method(synths)?;
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
            let (inputs, mean_of_available) = baselines(study, scenario);
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
                let measured = measure(&candidates, &truth.data, &brain, label);
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
    let rows = rows_of(acc, set);
    Ok(Table {
        set,
        subjects: studies.iter().map(|s| s.subject.clone()).collect(),
        rows,
        cases,
    })
}

/// Two weights folders of one method would make two rows of the same name.
fn check_one_per_method(synths: &[&Synthesizer]) -> Result<(), EngineError> {
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
    Ok(())
}

/// The available sequences of `scenario`, each divided by its mean inside the brain (the
/// baselines' common scale), and their mean: the mean-of-available baseline.
fn baselines(study: &Study, scenario: Scenario) -> (Vec<(Sequence, Array3<f32>)>, Array3<f32>) {
    let inputs: Vec<(Sequence, Array3<f32>)> = scenario
        .available()
        .into_iter()
        .map(|s| {
            let v = &study.volume(s).expect("prepared checked it").data;
            let mean = positive_mean(v);
            (s, v.mapv(|x| x.max(0.0) / mean))
        })
        .collect();
    let mut mean = Array3::<f32>::zeros(inputs[0].1.raw_dim());
    for (_, v) in &inputs {
        mean += v;
    }
    let mean = mean / inputs.len() as f32;
    (inputs, mean)
}

/// What one candidate volume measures against the acquired one.
type Measured = (Method, Quality, RegionQuality, Option<f32>);

/// Each candidate against `truth`: the paper's figures, the challenge's (brain, tumour,
/// non-tumour) and the intensity deviation. The comparisons are independent and each a
/// few seconds of SSIM: one thread each.
fn measure(
    candidates: &[(Method, &Array3<f32>)],
    truth: &Array3<f32>,
    brain: &Array3<bool>,
    label: Option<ndarray::ArrayView3<u8>>,
) -> Vec<Measured> {
    // The acquired volume's percentiles once, not once per candidate.
    let acquired = normalised_percentiles(truth.view(), brain.view());
    std::thread::scope(|scope| {
        let jobs: Vec<_> = candidates
            .iter()
            .map(|&(method, pred)| {
                scope.spawn(move || {
                    let paper = paper_volume(pred.view(), truth.view());
                    let region = challenge_volume(pred.view(), truth.view(), brain.view(), label);
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
    })
}

/// One table row per (scenario, sequence, method): the means over its subjects.
fn rows_of(
    acc: Vec<(RowKey, Vec<(Quality, RegionQuality)>)>,
    set: crate::io::SequenceSet,
) -> Vec<Row> {
    let all = Scenario::all(set);
    acc.into_iter()
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
        .collect()
}

fn positive_mean(v: &Array3<f32>) -> f32 {
    let m = v.fold(0f64, |a, x| a + f64::from(x.max(0.0))) / v.len().max(1) as f64;
    if m > 0.0 {
        m as f32
    } else {
        1.0
    }
}
