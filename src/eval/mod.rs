//! Evaluation: for each scenario and each missing sequence, MM-GAN against two baselines
//! (mean of the available sequences; copy of the most similar available one), measured
//! the paper's way and the challenge way, written as Markdown, CSV and JSON.

use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;

use ndarray::Array3;

use crate::data::brain_mask;
use crate::engine::{EngineError, Synthesizer};
use crate::io::{Sequence, Study};
use crate::metrics::{challenge_volume, paper_volume, Quality, RegionQuality};
use crate::model::Scenario;

/// Which image is compared with the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Method {
    MmGan,
    MeanOfAvailable,
    CopyMostSimilar,
}

impl Method {
    pub const ALL: [Method; 3] = [
        Method::MmGan,
        Method::MeanOfAvailable,
        Method::CopyMostSimilar,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::MmGan => "MM-GAN",
            Method::MeanOfAvailable => "mean of available",
            Method::CopyMostSimilar => "copy most similar",
        }
    }
}

/// The available sequence closest in contrast to `target` (MR physics: T1 <-> T1c,
/// T2 <-> FLAIR), for the copy baseline.
pub fn most_similar(target: Sequence, scenario: Scenario) -> Sequence {
    use Sequence::*;
    let order: [Sequence; 3] = match target {
        T1 => [T1c, Flair, T2],
        T1c => [T1, Flair, T2],
        T2 => [Flair, T1c, T1],
        Flair => [T2, T1c, T1],
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
    pub subjects: Vec<String>,
    pub rows: Vec<Row>,
}

/// (scenario index, missing sequence, method): what one row of the table aggregates.
type RowKey = (usize, Sequence, Method);

/// Evaluate `scenarios` on `studies` (each must have all four sequences).
pub fn evaluate(
    synth: &Synthesizer,
    studies: &[Study],
    scenarios: &[Scenario],
    progress: &mut dyn FnMut(&str),
) -> Result<Table, EngineError> {
    let cancel = AtomicBool::new(false);
    // (scenario index, sequence, method) -> per-subject results
    let mut acc: Vec<(RowKey, Vec<(Quality, RegionQuality)>)> = Vec::new();
    for study in studies {
        let all: Vec<_> = Sequence::ALL
            .iter()
            .filter_map(|s| study.volume(*s))
            .collect();
        let brain = brain_mask(all.iter().map(|v| v.data.view()));
        let label = study.label.as_ref().map(|l| l.data.view());
        for &scenario in scenarios {
            progress(&format!("{}: {}", study.subject, scenario));
            let prepared = synth.prepare(study, scenario)?;
            let synthesized = synth.synthesize_volume(&prepared, &mut |_, _| {}, &cancel)?;
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
            for s in &synthesized {
                let truth = study
                    .volume(s.sequence)
                    .ok_or_else(|| EngineError::Scenario {
                        missing: s.sequence.name().into(),
                        reason: "evaluation needs the ground truth of every missing sequence"
                            .into(),
                    })?;
                let copy = &inputs
                    .iter()
                    .find(|(q, _)| *q == most_similar(s.sequence, scenario))
                    .expect("available")
                    .1;
                let candidates = [
                    (Method::MmGan, &s.data),
                    (Method::MeanOfAvailable, &mean_of_available),
                    (Method::CopyMostSimilar, copy),
                ];
                // The three comparisons are independent and each a few seconds of SSIM:
                // one thread each.
                let measured: Vec<(Method, Quality, RegionQuality)> = std::thread::scope(|scope| {
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
                                (method, paper, region)
                            })
                        })
                        .collect();
                    jobs.into_iter()
                        .map(|j| j.join().expect("metric threads do not panic"))
                        .collect()
                });
                for (method, paper, region) in measured {
                    let key = (scenario.index(), s.sequence, method);
                    match acc.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, v)) => v.push((paper, region)),
                        None => acc.push((key, vec![(paper, region)])),
                    }
                }
            }
        }
    }
    let all = Scenario::all();
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
        subjects: studies.iter().map(|s| s.subject.clone()).collect(),
        rows,
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
    let mut inside: Vec<f32> = v
        .iter()
        .zip(brain.iter())
        .filter(|(_, b)| **b)
        .map(|(x, _)| range.to_unit(*x))
        .collect();
    Some([5.0, 50.0, 95.0].map(|p| crate::io::percentile_in_place(&mut inside, p)))
}

fn positive_mean(v: &Array3<f32>) -> f32 {
    let m = v.iter().map(|x| f64::from(x.max(0.0))).sum::<f64>() / v.len().max(1) as f64;
    if m > 0.0 {
        m as f32
    } else {
        1.0
    }
}

fn opt(q: Option<Quality>, f: fn(&Quality) -> f64, digits: usize) -> String {
    q.map(|q| format!("{:.*}", digits, f(&q)))
        .unwrap_or_else(|| "-".into())
}

impl Table {
    /// Mean over the rows of one method (all scenarios, all missing sequences).
    pub fn method_mean(&self, method: Method) -> Option<(Quality, Quality)> {
        let rows: Vec<&Row> = self.rows.iter().filter(|r| r.method == method).collect();
        Some((
            Quality::mean(&rows.iter().map(|r| r.paper).collect::<Vec<_>>())?,
            Quality::mean(&rows.iter().map(|r| r.brain).collect::<Vec<_>>())?,
        ))
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Subjects: {}\n", self.subjects.join(", "));
        let _ = writeln!(s, "Paper: per axial slice, each image divided by its max, all slices averaged. Challenge: per volume inside the brain, 0.5-99.5 percentile clip to [0,1]; SSIM 11x11 Gaussian (sigma 1.5), data range 1.\n");
        let _ = writeln!(s, "| scenario (available -> missing) | seq | method | paper PSNR | paper SSIM | brain PSNR | brain SSIM | tumour PSNR | tumour SSIM | non-tumour SSIM |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} | {:.4} | {:.2} | {:.4} | {} | {} | {} |",
                r.scenario,
                r.sequence,
                r.method.name(),
                r.paper.psnr,
                r.paper.ssim,
                r.brain.psnr,
                r.brain.ssim,
                opt(r.tumour, |q| q.psnr, 2),
                opt(r.tumour, |q| q.ssim, 4),
                opt(r.non_tumour, |q| q.ssim, 4),
            );
        }
        let _ = writeln!(
            s,
            "\n| method | mean paper PSNR | mean paper SSIM | mean brain PSNR | mean brain SSIM |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        for m in Method::ALL {
            if let Some((p, b)) = self.method_mean(m) {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} | {:.4} | {:.2} | {:.4} |",
                    m.name(),
                    p.psnr,
                    p.ssim,
                    b.psnr,
                    b.ssim
                );
            }
        }
        s
    }

    pub fn to_csv(&self) -> String {
        let mut s = String::from("scenario,available,sequence,method,subjects,paper_mse,paper_psnr,paper_ssim,brain_mse,brain_psnr,brain_ssim,tumour_psnr,tumour_ssim,non_tumour_psnr,non_tumour_ssim\n");
        for r in &self.rows {
            let o = |q: Option<Quality>, f: fn(&Quality) -> f64| {
                q.map(|q| format!("{:.6}", f(&q))).unwrap_or_default()
            };
            let _ = writeln!(
                s,
                "\"{}\",{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},{}",
                r.scenario,
                r.available,
                r.sequence,
                r.method.name(),
                r.subjects,
                r.paper.mse,
                r.paper.psnr,
                r.paper.ssim,
                r.brain.mse,
                r.brain.psnr,
                r.brain.ssim,
                o(r.tumour, |q| q.psnr),
                o(r.tumour, |q| q.ssim),
                o(r.non_tumour, |q| q.psnr),
                o(r.non_tumour, |q| q.ssim),
            );
        }
        s
    }
}
