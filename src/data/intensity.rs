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

use ndarray::{ArrayView3, Zip};

use super::SliceGeometry;
use crate::io::{BrainRange, Sequence};

/// A volume in model space: the brain mapped to [0, 1] by the volume's brain range, zero
/// outside the brain, then sampled into axial model slices ([z][side*side]). Also returns
/// the range (`None` when the brain is empty: the volume is all zeros then).
pub fn model_volume(
    geometry: &SliceGeometry,
    volume: ArrayView3<f32>,
    brain: ArrayView3<bool>,
) -> (Vec<f32>, Option<BrainRange>) {
    let range = BrainRange::of(volume, brain);
    let mut unit = ndarray::Array3::<f32>::zeros(volume.raw_dim());
    if let Some(r) = range {
        Zip::from(&mut unit)
            .and(&volume)
            .and(&brain)
            .for_each(|u, &x, &b| *u = if b { r.to_unit(x) } else { 0.0 });
    }
    (geometry.volume_to_model(unit.view()), range)
}

/// Predicts the brain range of a missing sequence from the ranges of the available ones.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputScale {
    /// ln(hi of target / hi of source), median over the training subjects, [target][source]
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

    /// The predicted range of `target`: the geometric mean of what each available
    /// sequence's range and its learnt ratio say.
    pub fn predict(&self, target: Sequence, available: &[(Sequence, BrainRange)]) -> BrainRange {
        let t = target.index();
        let logs: Vec<f32> = available
            .iter()
            .filter(|(_, r)| r.hi > 0.0)
            .map(|(s, r)| r.hi.ln() + self.log_hi_ratio[t][s.index()])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Fit;
    use ndarray::Array3;

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
            Sequence::T2,
            &[(Sequence::T1, study[0]), (Sequence::Flair, study[3])],
        );
        assert!((p.hi - 74.0).abs() < 1e-2, "{p:?}");
        let p = scale.predict(Sequence::T1c, &[(Sequence::T2, study[2])]);
        assert!(
            (p.hi - 55.5).abs() < 1e-2 && (p.lo - 3.7).abs() < 1e-3,
            "{p:?}"
        );
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
}
