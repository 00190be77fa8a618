//! The per-epoch validation figures: the trained network on the validation subjects'
//! model-space slices, paper definition and inside the brain.

use burn::tensor::Device;

use super::TrainConfig;
use crate::data::SubjectSlices;
use crate::metrics::{paper_slice, Quality};
use crate::model::Network;

/// Metrics on the validation subjects in model space, for the method's
/// [`TrainConfig::validation_scenarios`], on every 4th slice: the paper's per-slice
/// definition, and inside the brain (a cheap per-epoch signal; `mmgan eval` is the full
/// one).
pub(super) fn test_metrics(
    g: &Network,
    test: &[SubjectSlices],
    c: &TrainConfig,
    device: &Device,
) -> Option<(Quality, Quality)> {
    use crate::model::impute_stacked;
    use burn::tensor::{Tensor, TensorData};
    if test.is_empty() {
        return None;
    }
    let g = g.clone().to_device(device);
    let n = c.side * c.side;
    let (mut paper, mut brain) = (Vec::new(), Vec::new());
    for s in test {
        for scenario in &c.validation_scenarios() {
            let zs: Vec<usize> = (0..s.len()).step_by(4).collect();
            for chunk in zs.chunks(4) {
                let channels = c.input_channels();
                let mut x = Vec::with_capacity(chunk.len() * channels * n);
                let mut real = Vec::with_capacity(chunk.len() * 4 * n);
                for &z in chunk {
                    x.extend_from_slice(&s.batch(z, 1, c.context(), false));
                    real.extend_from_slice(s.slices(z, 1));
                }
                let xt = Tensor::<4>::from_data(
                    TensorData::new(x, [chunk.len(), channels, c.side, c.side]),
                    device,
                );
                let scenarios = vec![*scenario; chunk.len()];
                let y: Vec<f32> = g
                    .forward(impute_stacked(xt, &scenarios, c.imputation), *scenario)
                    .into_data()
                    .try_to_vec::<f32>()
                    .ok()?;
                for b in 0..chunk.len() {
                    let inputs = &real[b * 4 * n..(b + 1) * 4 * n];
                    let inside: Vec<bool> = (0..n)
                        .map(|i| (0..4).any(|ch| inputs[ch * n + i] > 0.0))
                        .collect();
                    for ch in scenario.missing_channels() {
                        let o = (b * 4 + ch) * n;
                        let (p, t) = (&y[o..o + n], &real[o..o + n]);
                        paper.push(paper_slice(p, t, c.side, c.side));
                        brain.extend(masked_slice(p, t, &inside, c.side));
                    }
                }
            }
        }
    }
    Some((Quality::mean(&paper)?, Quality::mean(&brain)?))
}

/// MSE, PSNR and SSIM of a model-space slice over the pixels in `inside` (the SSIM map
/// averaged there); `None` when the slice has no brain. Predictions are clipped to [0, 1]
/// as the challenge normalisation would.
fn masked_slice(pred: &[f32], truth: &[f32], inside: &[bool], side: usize) -> Option<Quality> {
    use crate::metrics::{psnr_from_mse, ssim_map_2d, SsimParams};
    let count = inside.iter().filter(|b| **b).count();
    if count == 0 {
        return None;
    }
    let p: Vec<f32> = pred.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let map = ssim_map_2d(&p, truth, side, side, SsimParams::unit_range());
    let (mut se, mut ss) = (0f64, 0f64);
    for i in (0..inside.len()).filter(|&i| inside[i]) {
        se += f64::from(p[i] - truth[i]).powi(2);
        ss += f64::from(map[i]);
    }
    let mse = se / count as f64;
    Some(Quality {
        mse,
        psnr: psnr_from_mse(mse),
        ssim: ss / count as f64,
    })
}
