//! The model's intensity space, and the way back to a study's units.
//!
//! Every input volume is mapped to [0, 1] by its own brain percentile range
//! ([`BrainRange`]: the challenge normalisation), so studies from scanners whose raw units
//! differ 100x look alike to the model, and its output is directly comparable with a
//! challenge-normalised truth. (The reference divides by the volume mean instead; a mean is
//! pulled by the bright tail of T1c and FLAIR, which shifts the whole brain.)
//!
//! A synthesized sequence has no range of its own, so [`OutputScale`] predicts one from the
//! ranges of the sequences this study does have, with ratios learnt on the training set.

use ndarray::{Array2, ArrayView3, Axis, ShapeBuilder, Zip};

use super::SliceGeometry;
use crate::io::BrainRange;

/// A volume in model space: the brain mapped to [0, 1] by the volume's brain range, zero
/// outside the brain, then sampled into axial model slices (`[z][side*side]`). Also returns
/// the range (`None` when the brain is empty: the volume is all zeros then).
pub fn model_volume(
    geometry: &SliceGeometry,
    volume: ArrayView3<f32>,
    brain: ArrayView3<bool>,
) -> (Vec<f32>, Option<BrainRange>) {
    let range = BrainRange::of(volume, brain);
    let n = geometry.side * geometry.side;
    let depth = volume.shape()[2];
    let mut out = vec![0.0; n * depth];
    let mut scratch = Array2::zeros((0, 0));
    for (z, slice) in out.chunks_mut(n).enumerate() {
        model_slice(geometry, volume, brain, range, z, slice, &mut scratch);
    }
    (out, range)
}

/// Axial slice `z` of a volume in model space (as [`model_volume`]), given the volume's
/// brain range, into `out` (side*side); `scratch` is reused between calls.
pub fn model_slice(
    geometry: &SliceGeometry,
    volume: ArrayView3<f32>,
    brain: ArrayView3<bool>,
    range: Option<BrainRange>,
    z: usize,
    out: &mut [f32],
    scratch: &mut Array2<f32>,
) {
    let (v, b) = (volume.index_axis(Axis(2), z), brain.index_axis(Axis(2), z));
    if scratch.dim() != v.dim() {
        // Fortran order, as the study's slices: the Zip then walks memory linearly.
        *scratch = Array2::zeros(v.dim().f());
    }
    Zip::from(&mut *scratch)
        .and(&v)
        .and(&b)
        .for_each(|u, &x, &inside| {
            *u = match (inside, range) {
                (true, Some(r)) => r.to_unit(x),
                _ => 0.0,
            }
        });
    geometry.to_model(scratch.view(), out);
}

/// Predicts the brain range of a missing sequence from the ranges of the available ones.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputScale {
    /// ln(hi of target / hi of source), median over the training subjects, `[target][source]`
    /// in channel order. Within one scan session the sequences' scales move together far
    /// more than between sites, so a ratio transfers where an absolute value does not.
    pub log_hi_ratio: [[f32; 4]; 4],
    /// lo / hi of each sequence, median over the training subjects.
    pub lo_fraction: [f32; 4],
}

impl OutputScale {
    /// Learn the ratios from the ranges of training subjects (all four sequences each).
    pub fn fit(subjects: &[[BrainRange; 4]]) -> OutputScale {
        let median = |mut v: Vec<f32>| -> f32 {
            if v.is_empty() {
                return 0.0;
            }
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        let ln_hi = |r: &BrainRange| r.hi.max(1e-6).ln();
        OutputScale {
            log_hi_ratio: std::array::from_fn(|t| {
                std::array::from_fn(|s| {
                    median(
                        subjects
                            .iter()
                            .map(|r| ln_hi(&r[t]) - ln_hi(&r[s]))
                            .collect(),
                    )
                })
            }),
            lo_fraction: std::array::from_fn(|t| {
                median(
                    subjects
                        .iter()
                        .map(|r| r[t].lo / r[t].hi.max(1e-6))
                        .collect(),
                )
            }),
        }
    }

    /// The predicted range of channel `t`: the geometric mean of what each available
    /// channel's range and its learnt ratio say.
    pub fn predict(&self, t: usize, available: &[(usize, BrainRange)]) -> BrainRange {
        let logs: Vec<f32> = available
            .iter()
            .filter(|(_, r)| r.hi > 0.0)
            .map(|(s, r)| r.hi.ln() + self.log_hi_ratio[t][*s])
            .collect();
        let hi = if logs.is_empty() {
            1.0
        } else {
            (logs.iter().sum::<f32>() / logs.len() as f32).exp()
        };
        BrainRange {
            lo: hi * self.lo_fraction[t],
            hi,
        }
    }
}

/// Maps the model's output for a sequence onto the intensity distribution acquired volumes
/// of that sequence have: one monotone piecewise-linear curve per sequence, in model space
/// (brain range mapped to [0, 1]), fitted after training by matching quantiles inside the
/// brain on training subjects.
///
/// Why: an L1-trained generator predicts what is likely, so the rare bright voxels (vessels,
/// enhancement, the tail of T1c and FLAIR) come out dimmer than acquired ones. The
/// challenge normalisation then scales the synthesized volume by a too-low 99.5th
/// percentile and the whole brain sits too bright. The curve is fixed per sequence, so a
/// single slice is mapped exactly as the whole volume is (the viewer's first slice).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputCalibration {
    /// Knots (model output, calibrated output) with increasing first values, per sequence
    /// in channel order; an empty curve leaves the output as it is.
    pub curves: [Vec<[f32; 2]>; 4],
}

/// One subject's quantile lists of a sequence: (model output, acquired truth).
pub type QuantilePair = (Vec<f32>, Vec<f32>);

/// Quantiles (0, 1, ..., 100 %) of `values` (reordered).
pub fn quantiles(values: &mut [f32]) -> Vec<f32> {
    values.sort_by(f32::total_cmp);
    let n = values.len();
    (0..=100)
        .map(|p| {
            if n == 0 {
                0.0
            } else {
                values[((n - 1) as f64 * p as f64 / 100.0).round() as usize]
            }
        })
        .collect()
}

impl OutputCalibration {
    /// Fit from, per sequence, pairs of quantile lists (model output, acquired truth) of
    /// several subjects: their means become the knots, made monotone.
    pub fn fit(pairs: &[Vec<QuantilePair>; 4]) -> OutputCalibration {
        OutputCalibration {
            curves: std::array::from_fn(|c| {
                let subjects = &pairs[c];
                if subjects.is_empty() {
                    return Vec::new();
                }
                let k = subjects[0].0.len();
                let mean = |f: &dyn Fn(&QuantilePair) -> f32| -> f32 {
                    subjects.iter().map(f).sum::<f32>() / subjects.len() as f32
                };
                let mut knots: Vec<[f32; 2]> = Vec::with_capacity(k);
                for i in 0..k {
                    let x = mean(&|s| s.0[i]);
                    let y = mean(&|s| s.1[i]);
                    match knots.last() {
                        // Increasing inputs and non-decreasing outputs: a monotone map.
                        Some(last) if x <= last[0] + 1e-6 => {}
                        Some(last) => knots.push([x, y.max(last[1])]),
                        None => knots.push([x, y]),
                    }
                }
                knots
            }),
        }
    }

    /// The calibrated value of model output `v` of channel `c`; beyond the knots, the end
    /// segments continue with slope 1.
    pub fn apply(&self, c: usize, v: f32) -> f32 {
        let k = &self.curves[c];
        match k.len() {
            0 => v,
            1 => v - k[0][0] + k[0][1],
            _ => {
                if v <= k[0][0] {
                    return v - k[0][0] + k[0][1];
                }
                let last = k[k.len() - 1];
                if v >= last[0] {
                    return v - last[0] + last[1];
                }
                let i = k.partition_point(|p| p[0] <= v).clamp(1, k.len() - 1);
                let (a, b) = (k[i - 1], k[i]);
                a[1] + (v - a[0]) / (b[0] - a[0]) * (b[1] - a[1])
            }
        }
    }
}

/// How far off a synthesized voxel typically is, by its own (calibrated, model-space)
/// intensity: the expected absolute error against the acquired volume, both on the unit
/// brain scale, in [`ERROR_BINS`] equal bins over [0, 1], per sequence in channel order.
/// The aleatoric part of a synthesis's uncertainty: its errors grow with the signal (a
/// bright synthesized voxel is off by more than a dark one) in a way dropout passes do
/// not see.
///
/// Fitted with the calibration on training subjects as a proportion of the intensity,
/// `k * u` with `k` the ratio of their mean error to their mean intensity: the shape of the
/// error across intensities measured on training subjects does not carry over to unseen
/// ones (for T1 it falls with intensity on the training subjects and rises on a
/// validation subject), the proportion does. A table keeps the sidecar open to a fitted
/// shape later.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExpectedError {
    pub by_intensity: [Vec<f32>; 4],
}

pub const ERROR_BINS: usize = 20;

/// A voxel of a synthesized sequence: its model output and the acquired value, both on the
/// unit brain scale.
pub type ErrorSample = [f32; 2];

fn error_bin(u: f32) -> usize {
    ((u.clamp(0.0, 1.0) * ERROR_BINS as f32) as usize).min(ERROR_BINS - 1)
}

impl ExpectedError {
    /// Fit from voxel samples of each sequence, their outputs mapped by `calibration`
    /// first (the error a user sees is that of the calibrated output). A sequence without
    /// samples gets no table.
    pub fn fit(calibration: &OutputCalibration, samples: &[Vec<ErrorSample>; 4]) -> ExpectedError {
        ExpectedError {
            by_intensity: std::array::from_fn(|c| {
                let (mut error, mut intensity) = (0f64, 0f64);
                for &[m, t] in &samples[c] {
                    let u = calibration.apply(c, m).clamp(0.0, 1.0);
                    error += f64::from((u - t).abs());
                    intensity += f64::from(u);
                }
                if samples[c].is_empty() || intensity <= 0.0 {
                    return Vec::new();
                }
                let k = (error / intensity).min(1.0);
                (0..ERROR_BINS)
                    .map(|b| (k * (b as f64 + 0.5) / ERROR_BINS as f64) as f32)
                    .collect()
            }),
        }
    }

    /// The expected absolute error of a voxel of channel `c` whose calibrated output is
    /// `u`; 0 without a table.
    pub fn at(&self, c: usize, u: f32) -> f32 {
        self.by_intensity[c]
            .get(error_bin(u))
            .copied()
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Fit;
    use crate::io::Sequence;
    use ndarray::Array3;

    /// The channel of a BraTS sequence.
    fn ch(s: Sequence) -> usize {
        crate::io::SequenceSet::BRATS.channel(s).unwrap()
    }

    fn r(lo: f32, hi: f32) -> BrainRange {
        BrainRange { lo, hi }
    }

    #[test]
    fn the_output_scale_follows_the_study_not_the_training_set() {
        // Two sites 100x apart; within each, T2 is 2x T1 and FLAIR 0.5x T1.
        let site = |k: f32| {
            [
                r(0.0, k),
                r(0.1 * k, 1.5 * k),
                r(0.0, 2.0 * k),
                r(0.0, 0.5 * k),
            ]
        };
        let scale = OutputScale::fit(&[site(10.0), site(1000.0), site(1000.0)]);
        let study = site(37.0);
        let p = scale.predict(
            ch(Sequence::T2),
            &[
                (ch(Sequence::T1), study[0]),
                (ch(Sequence::Flair), study[3]),
            ],
        );
        assert!((p.hi - 74.0).abs() < 1e-2, "{p:?}");
        let p = scale.predict(ch(Sequence::T1c), &[(ch(Sequence::T2), study[2])]);
        assert!(
            (p.hi - 55.5).abs() < 1e-2 && (p.lo - 3.7).abs() < 1e-3,
            "{p:?}"
        );
    }

    #[test]
    fn calibration_maps_output_quantiles_onto_acquired_ones() {
        // Outputs compressed into [0.2, 0.6] where the truth spans [0, 1].
        let out: Vec<f32> = (0..=100).map(|i| 0.2 + 0.4 * i as f32 / 100.0).collect();
        let truth: Vec<f32> = (0..=100).map(|i| i as f32 / 100.0).collect();
        let mut pairs: [Vec<QuantilePair>; 4] = Default::default();
        pairs[1] = vec![(out.clone(), truth.clone()), (out, truth)];
        let c = OutputCalibration::fit(&pairs);
        assert!((c.apply(ch(Sequence::T1c), 0.4) - 0.5).abs() < 1e-5);
        assert!((c.apply(ch(Sequence::T1c), 0.6) - 1.0).abs() < 1e-5);
        assert!(
            (c.apply(ch(Sequence::T1c), 0.7) - 1.1).abs() < 1e-5,
            "slope 1 beyond"
        );
        assert_eq!(c.apply(ch(Sequence::T1), 0.4), 0.4, "no curve: unchanged");
        // Monotone even when the data are not.
        let mut bumpy: [Vec<QuantilePair>; 4] = Default::default();
        bumpy[0] = vec![(vec![0.0, 0.5, 0.5, 1.0], vec![0.0, 0.6, 0.4, 1.0])];
        let c = OutputCalibration::fit(&bumpy);
        assert!(c.curves[0]
            .windows(2)
            .all(|w| w[1][0] > w[0][0] && w[1][1] >= w[0][1]));
        let mut v = vec![3.0, 1.0, 2.0];
        assert_eq!(quantiles(&mut v)[50], 2.0);
    }

    #[test]
    fn model_volumes_are_the_brain_in_unit_range() {
        let v = Array3::from_shape_fn((8, 8, 2), |(x, y, _)| (x * 8 + y) as f32 * 10.0 - 5.0);
        let brain = Array3::from_shape_fn((8, 8, 2), |(x, _, _)| x >= 2);
        // A geometry whose window is the whole grid: model column c is x = c.
        let g = SliceGeometry::new(Array3::from_elem((8, 8, 2), true).view(), 8, Fit::Pad);
        assert_eq!((g.x0, g.y0), (0, 0));
        let (m, range) = model_volume(&g, v.view(), brain.view());
        let range = range.unwrap();
        assert_eq!(m.len(), 2 * 64);
        assert!(m.iter().all(|x| (0.0..=1.0).contains(x)));
        // Outside the brain (x < 2, the fast axis of a model row) stays zero.
        assert!((0..8).all(|row| m[row * 8] == 0.0 && m[row * 8 + 1] == 0.0));
        assert!(m.contains(&1.0));
        assert!(range.lo > 100.0 && range.hi < 635.0);
    }

    #[test]
    fn expected_error_is_the_mean_error_in_proportion_to_intensity() {
        // Mean intensity 0.5, mean error 0.1: k = 0.2.
        let t1: Vec<ErrorSample> = (0..=100)
            .map(|i| {
                let u = i as f32 / 100.0;
                [u, u + if i % 2 == 0 { 0.05 } else { -0.15 }]
            })
            .collect();
        let samples = [t1, Vec::new(), Vec::new(), Vec::new()];
        let identity = OutputCalibration {
            curves: Default::default(),
        };
        let e = ExpectedError::fit(&identity, &samples);
        let k = 0.1 / 0.5;
        assert!((e.at(ch(Sequence::T1), 0.525) - k * 0.525).abs() < 2e-3);
        assert!((e.at(ch(Sequence::T1), 0.975) - k * 0.975).abs() < 2e-3);
        assert!(e.at(ch(Sequence::T1), 0.9) > e.at(ch(Sequence::T1), 0.1));
        // Out-of-range outputs are clamped; no samples, no table.
        assert_eq!(e.at(ch(Sequence::T1), 7.0), e.at(ch(Sequence::T1), 0.99));
        assert_eq!(e.at(ch(Sequence::Flair), 0.5), 0.0);
        assert!(e.by_intensity[1].is_empty());
    }
}
