//! Image-quality metrics of synthesized against acquired sequences: MSE, PSNR and SSIM,
//! computed the paper's way (per slice) and the challenge way (per volume, in the brain).
//!
//! Plain Rust on `f32` slices and `ndarray` volumes: no tensors, usable by the evaluator,
//! the engine and the viewer alike.

mod ssim;

pub use ssim::{gaussian_blur, ssim_2d, ssim_map_2d, SsimParams};

use ndarray::{ArrayView3, Axis};

use crate::io::{row_major, BrainRange};

/// MSE, PSNR (dB) and SSIM of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Quality {
    pub mse: f64,
    pub psnr: f64,
    pub ssim: f64,
}

impl Quality {
    /// Mean of several comparisons (each metric averaged; `None` when empty).
    pub fn mean(items: &[Quality]) -> Option<Quality> {
        if items.is_empty() {
            return None;
        }
        let n = items.len() as f64;
        Some(Quality {
            mse: items.iter().map(|q| q.mse).sum::<f64>() / n,
            psnr: items.iter().map(|q| q.psnr).sum::<f64>() / n,
            ssim: items.iter().map(|q| q.ssim).sum::<f64>() / n,
        })
    }
}

/// PSNR with peak 1 from an MSE; 40 dB for a perfect match, as the paper's code reports.
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 1e-10 {
        40.0
    } else {
        -10.0 * mse.log10()
    }
}

/// The paper's per-slice metrics: prediction and truth each divided by its own maximum
/// (+1e-4), then MSE, PSNR (peak 1) and SSIM (Gaussian 11x11, sigma 1.5, data range 1).
/// `w` is the fast axis of the row-major `h` x `w` slices.
pub fn paper_slice(pred: &[f32], truth: &[f32], w: usize, h: usize) -> Quality {
    if pred.iter().chain(truth).all(|v| *v == 0.0) {
        // Two empty slices: what the formulas give (MSE 0, SSIM 1), without the filtering.
        return Quality {
            mse: 0.0,
            psnr: psnr_from_mse(0.0),
            ssim: 1.0,
        };
    }
    let scale = |v: &[f32]| {
        let m = v.iter().fold(0f32, |a, &b| a.max(b)) + 1e-4;
        v.iter().map(|x| x / m).collect::<Vec<f32>>()
    };
    let (p, t) = (scale(pred), scale(truth));
    let mse = p
        .iter()
        .zip(&t)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / p.len().max(1) as f64;
    Quality {
        mse,
        psnr: psnr_from_mse(mse),
        ssim: ssim_2d(&p, &t, w, h, SsimParams::unit_range()),
    }
}

/// The paper's metrics over a volume: [`paper_slice`] on every axial slice (empty ones
/// included), averaged.
pub fn paper_volume(pred: ArrayView3<f32>, truth: ArrayView3<f32>) -> Quality {
    let [w, h, _] = dims(&pred);
    let per_slice: Vec<Quality> = pred
        .axis_iter(Axis(2))
        .zip(truth.axis_iter(Axis(2)))
        .map(|(p, t)| paper_slice(&row_major(p), &row_major(t), w, h))
        .collect();
    Quality::mean(&per_slice).unwrap_or_default()
}

/// Metrics the challenge way, for the whole brain and, with a label map, for the tumour
/// and the rest of the brain.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RegionQuality {
    pub brain: Quality,
    pub tumour: Option<Quality>,
    pub non_tumour: Option<Quality>,
}

/// The challenge (BraSyn) way: each volume clipped to its 0.5-99.5 percentiles inside the
/// brain and scaled to [0, 1]; MSE and PSNR over the region's voxels; SSIM maps computed
/// per axial slice (Gaussian 11x11, sigma 1.5, data range 1, reflected borders) and
/// averaged over the region's voxels.
pub fn challenge_volume(
    pred: ArrayView3<f32>,
    truth: ArrayView3<f32>,
    brain: ArrayView3<bool>,
    label: Option<ArrayView3<u8>>,
) -> RegionQuality {
    let [w, h, d] = dims(&pred);
    let p = clip_to_unit(pred, brain);
    let t = clip_to_unit(truth, brain);
    let mut ssim = Vec::with_capacity(w * h * d);
    for z in 0..d {
        let ps = row_major(p.index_axis(Axis(2), z));
        let ts = row_major(t.index_axis(Axis(2), z));
        ssim.extend(ssim_map_2d(&ps, &ts, w, h, SsimParams::unit_range()));
    }
    // `ssim` is in (z, y, x) order; walk the volumes the same way.
    let region = |keep: &dyn Fn(usize, usize, usize) -> bool| -> Option<Quality> {
        let (mut n, mut se, mut s) = (0usize, 0f64, 0f64);
        for z in 0..d {
            for y in 0..h {
                for x in 0..w {
                    if keep(x, y, z) {
                        n += 1;
                        se += f64::from(p[[x, y, z]] - t[[x, y, z]]).powi(2);
                        s += f64::from(ssim[(z * h + y) * w + x]);
                    }
                }
            }
        }
        (n > 0).then(|| {
            let mse = se / n as f64;
            Quality {
                mse,
                psnr: psnr_from_mse(mse),
                ssim: s / n as f64,
            }
        })
    };
    let brain_q = region(&|x, y, z| brain[[x, y, z]]).unwrap_or_default();
    let (tumour, non_tumour) = match label {
        Some(l) => (
            region(&|x, y, z| brain[[x, y, z]] && l[[x, y, z]] > 0),
            region(&|x, y, z| brain[[x, y, z]] && l[[x, y, z]] == 0),
        ),
        None => (None, None),
    };
    RegionQuality {
        brain: brain_q,
        tumour,
        non_tumour,
    }
}

/// Clip to the 0.5 and 99.5 percentiles of the brain voxels and scale to [0, 1].
fn clip_to_unit(v: ArrayView3<f32>, brain: ArrayView3<bool>) -> ndarray::Array3<f32> {
    match BrainRange::of(v, brain) {
        Some(r) => v.mapv(|x| r.to_unit(x)),
        None => v.mapv(|_| 0.0),
    }
}

fn dims<T>(v: &ArrayView3<T>) -> [usize; 3] {
    let s = v.shape();
    [s[0], s[1], s[2]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn identical_images_are_perfect() {
        let a: Vec<f32> = (0..32 * 32).map(|i| ((i * 37) % 101) as f32).collect();
        let q = paper_slice(&a, &a, 32, 32);
        assert_eq!(q.mse, 0.0);
        assert_eq!(q.psnr, 40.0);
        assert!((q.ssim - 1.0).abs() < 1e-6);
    }

    #[test]
    fn challenge_regions_split_by_label() {
        let truth = Array3::from_shape_fn((24, 24, 3), |(x, y, z)| (x + 2 * y + z) as f32);
        let mut pred = truth.clone();
        // Corrupt only the tumour region.
        let label = Array3::from_shape_fn((24, 24, 3), |(x, y, _)| u8::from(x < 8 && y < 8));
        for ((x, y, z), v) in pred.indexed_iter_mut() {
            if label[[x, y, z]] > 0 {
                *v = 0.0;
            }
        }
        let brain = truth.mapv(|_| true);
        let q = challenge_volume(pred.view(), truth.view(), brain.view(), Some(label.view()));
        let tumour = q.tumour.unwrap();
        let rest = q.non_tumour.unwrap();
        assert!(tumour.mse > rest.mse);
        assert!(tumour.psnr < q.brain.psnr && q.brain.psnr < rest.psnr);
        assert!(tumour.ssim < rest.ssim);
    }
}
