//! Implicit conditioning: imputation of missing inputs, real pass-through, and the
//! sequence-selective losses and discriminator targets.
//!
//! Masks are [batch, 4, 1, 1] tensors, 1.0 where a sequence is available; every function
//! broadcasts them over the slice.

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::Scenario;
use crate::metrics::SsimParams;

/// How missing input channels are filled before the generator sees them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Imputation {
    /// Zeros (the released training scripts).
    #[default]
    Zeros,
    /// N(0, 1) noise (the paper's description).
    Noise,
    /// Mean of the available channels.
    Average,
}

/// [batch, 4, 1, 1] availability mask, one scenario per batch item.
pub fn availability_mask(scenarios: &[Scenario], device: &Device) -> Tensor<4> {
    let values: Vec<f32> = scenarios.iter().flat_map(|s| s.mask()).collect();
    Tensor::from_data(TensorData::new(values, [scenarios.len(), 4, 1, 1]), device)
}

/// Replace the missing channels of `x` ([batch, 4, h, w]) by the imputation.
pub fn impute(x: Tensor<4>, mask: Tensor<4>, method: Imputation) -> Tensor<4> {
    let kept = x.clone() * mask.clone();
    let missing = mask.clone().neg().add_scalar(1.0);
    match method {
        Imputation::Zeros => kept,
        Imputation::Noise => {
            let noise = Tensor::random(x.shape(), Distribution::Normal(0.0, 1.0), &x.device());
            kept + noise * missing
        }
        Imputation::Average => {
            let count = mask.sum_dim(1).clamp_min(1.0); // [b, 1, 1, 1]
            let mean = kept.clone().sum_dim(1) / count; // [b, 1, h, w]
            kept + mean * missing
        }
    }
}

/// Real pass-through: the available channels of the generator's output are replaced by the
/// real inputs, before any loss and before the discriminator.
pub fn pass_through(fake: Tensor<4>, real: Tensor<4>, mask: Tensor<4>) -> Tensor<4> {
    let missing = mask.clone().neg().add_scalar(1.0);
    fake * missing + real * mask
}

/// Sequence-selective L1: mean absolute error over the missing channels only.
pub fn selective_l1(fake: Tensor<4>, real: Tensor<4>, mask: Tensor<4>) -> Tensor<1> {
    let [_, _, h, w] = fake.dims();
    let missing = mask.neg().add_scalar(1.0); // [b, 4, 1, 1]
    let n_missing = missing.clone().sum().clamp_min(1.0) * ((h * w) as f32);
    ((fake - real).abs() * missing).sum() / n_missing
}

/// Sequence-selective structural loss: 1 - SSIM over the missing channels, the SSIM map
/// (the metrics' 11x11 Gaussian window, data range 1) averaged over brain pixels only
/// (where any real channel is above 0), as the challenge scores it. Not in the paper: its
/// pixel loss is L1 alone; this targets the headline figure directly (`ssim_weight`).
///
/// Borders are zero-padded where the metric reflects; the brain lies far inside the
/// model's window, so the two agree wherever the mask is 1.
pub fn selective_ssim_loss(fake: Tensor<4>, real: Tensor<4>, mask: Tensor<4>) -> Tensor<1> {
    let brain = real.clone().sum_dim(1).greater_elem(0.0).float(); // [b, 1, h, w]
    let Some((fake, real, mask)) = missing_only(fake, real, mask) else {
        return brain.sum().mul_scalar(0.0);
    };
    let [b, c, h, w] = fake.dims();
    let p = SsimParams::unit_range();
    let device = fake.device();
    let taps: Vec<f32> = p.kernel().into_iter().map(|v| v as f32).collect();
    let (n, r) = (taps.len(), p.radius());
    let down = Tensor::<4>::from_data(TensorData::new(taps.clone(), [1, 1, n, 1]), &device);
    let across = Tensor::<4>::from_data(TensorData::new(taps, [1, 1, 1, n]), &device);
    // Local moments, each channel blurred as a batch of single-channel images by two 1-D
    // passes: the acquired image's two in one batch (no gradient flows there), the three
    // that depend on the synthesized image in another.
    let blur = |moments: Vec<Tensor<4>>| {
        let k = moments.len();
        let x = Tensor::cat(moments, 0).reshape([k * b * c, 1, h, w]);
        let conv = |x: Tensor<4>, kernel: Tensor<4>, pad: [usize; 2]| {
            burn::tensor::module::conv2d(x, kernel, None, ConvOptions::new([1, 1], pad, [1, 1], 1))
        };
        let m = conv(conv(x, down.clone(), [r, 0]), across.clone(), [0, r]);
        m.reshape([k, b, c, h, w])
    };
    let part = |m: &Tensor<5>, i: usize| m.clone().narrow(0, i, 1).reshape([b, c, h, w]);
    let acquired = blur(vec![real.clone(), real.clone() * real.clone()]);
    let synthesized = blur(vec![fake.clone(), fake.clone() * fake.clone(), fake * real]);
    let (ux, uy) = (part(&synthesized, 0), part(&acquired, 0));
    let vx = part(&synthesized, 1) - ux.clone() * ux.clone();
    let vy = part(&acquired, 1) - uy.clone() * uy.clone();
    let cov = part(&synthesized, 2) - ux.clone() * uy.clone();
    let c1 = (p.k1 * p.data_range).powi(2) as f32;
    let c2 = (p.k2 * p.data_range).powi(2) as f32;
    let num = (ux.clone() * uy.clone()).mul_scalar(2.0).add_scalar(c1)
        * cov.mul_scalar(2.0).add_scalar(c2);
    let den = (ux.clone() * ux + uy.clone() * uy).add_scalar(c1) * (vx + vy).add_scalar(c2);
    let ssim = num / den;
    let weight = brain * mask.neg().add_scalar(1.0); // [b, c, h, w]
    let total = weight.clone().sum().clamp_min(1.0);
    (ssim.neg().add_scalar(1.0) * weight).sum() / total
}

/// The channels missing in at least one batch item, of `fake`, `real` and `mask`: all the
/// selective losses need (a 3 -> 1 batch has one of four), so they skip the rest's work.
/// `None` when every channel is available.
fn missing_only(
    fake: Tensor<4>,
    real: Tensor<4>,
    mask: Tensor<4>,
) -> Option<(Tensor<4>, Tensor<4>, Tensor<4>)> {
    let [b, c, _, _] = mask.dims();
    let available: Vec<f32> = mask
        .clone()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("a mask holds floats");
    let missing: Vec<i64> = (0..c)
        .filter(|&ch| (0..b).any(|i| available[i * c + ch] < 0.5))
        .map(|ch| ch as i64)
        .collect();
    if missing.is_empty() {
        return None;
    }
    if missing.len() == c {
        return Some((fake, real, mask));
    }
    let count = missing.len();
    let index = Tensor::<1, burn::tensor::Int>::from_data(
        TensorData::new(missing, [count]),
        &fake.device(),
    );
    Some((
        fake.select(1, index.clone()),
        real.select(1, index.clone()),
        mask.select(1, index),
    ))
}

/// Sequence-selective distribution term: per slice and missing channel, the 1-D
/// Wasserstein distance between the brain intensities synthesized and acquired (the
/// absolute differences of the two sorted lists summed over the brain, divided by the
/// slice's pixels like the selective L1, so a slice weighs by its brain's size and the
/// term never exceeds the L1). Not in the paper.
///
/// Why: L1 regresses to the conditional mean where the inputs leave an intensity unsure
/// (a lesion's FLAIR, enhancement), which shortens the bright tail; the challenge
/// normalisation then rescales the whole volume by that tail, so PSNR falls and the
/// percentiles drift although the structure is right. This term asks only that the
/// slice's histogram be right, wherever each intensity sits.
///
/// Outside the brain (no real channel above 0) both images count as 0, so the two
/// sorted lists hold the same number of zeros and the brain's values meet each other.
pub fn selective_distribution_loss(fake: Tensor<4>, real: Tensor<4>, mask: Tensor<4>) -> Tensor<1> {
    let brain = real.clone().sum_dim(1).greater_elem(0.0).float(); // [b, 1, h, w]
    let Some((fake, real, mask)) = missing_only(fake, real, mask) else {
        return brain.sum().mul_scalar(0.0);
    };
    let [b, c, h, w] = fake.dims();
    let sorted = |x: Tensor<4>| (x * brain.clone()).reshape([b, c, h * w]).sort(2);
    let distance = (sorted(fake) - sorted(real)).abs().sum_dim(2); // [b, c, 1]
    let missing = mask.neg().add_scalar(1.0).reshape([b, c, 1]);
    let count = missing.clone().sum().clamp_min(1.0) * ((h * w) as f32);
    (distance * missing).sum() / count
}

/// Discriminator target for a generated image: 0 on the patch maps of missing channels,
/// 1 on those of available ones (for real images, and the generator's adversarial term,
/// the target is 1 everywhere). `patch_dims`: [batch, 4, ph, pw].
pub fn discriminator_target_fake(mask: Tensor<4>, patch_dims: [usize; 4]) -> Tensor<4> {
    mask.expand(patch_dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Sequence;

    fn dev() -> Device {
        Device::flex()
    }

    fn t(values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(values, shape), &dev())
    }

    fn vals(x: Tensor<4>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    /// One 1x2 slice per channel: channel c holds [c+1, c+1].
    fn slice() -> Tensor<4> {
        t(vec![1., 1., 2., 2., 3., 3., 4., 4.], [1, 4, 1, 2])
    }

    fn mask_t2_flair_missing() -> Tensor<4> {
        availability_mask(
            &[Scenario::with_missing(
                crate::io::SequenceSet::BRATS,
                &[Sequence::T2, Sequence::Flair],
            )
            .unwrap()],
            &dev(),
        )
    }

    #[test]
    fn imputation_fills_only_missing_channels() {
        let m = mask_t2_flair_missing();
        assert_eq!(
            vals(impute(slice(), m.clone(), Imputation::Zeros)),
            vec![1., 1., 2., 2., 0., 0., 0., 0.]
        );
        assert_eq!(
            vals(impute(slice(), m.clone(), Imputation::Average)),
            vec![1., 1., 2., 2., 1.5, 1.5, 1.5, 1.5]
        );
        let noisy = vals(impute(slice(), m, Imputation::Noise));
        assert_eq!(&noisy[..4], &[1., 1., 2., 2.]);
        assert!(noisy[4..]
            .iter()
            .all(|v| v.is_finite() && *v != 3.0 && *v != 4.0));
    }

    #[test]
    fn noise_imputation_is_standard_normal() {
        let m = availability_mask(
            &[Scenario::with_available(crate::io::SequenceSet::BRATS, &[Sequence::T1]).unwrap()],
            &dev(),
        );
        let x = Tensor::<4>::zeros([1, 4, 64, 64], &dev());
        let v = vals(impute(x, m, Imputation::Noise));
        let noise = &v[64 * 64..];
        let n = noise.len() as f32;
        let mean = noise.iter().sum::<f32>() / n;
        let var = noise.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.1,
            "mean {mean} var {var}"
        );
    }

    #[test]
    fn pass_through_keeps_real_available_channels() {
        let fake = t(vec![9.0; 8], [1, 4, 1, 2]);
        let out = vals(pass_through(fake, slice(), mask_t2_flair_missing()));
        assert_eq!(out, vec![1., 1., 2., 2., 9., 9., 9., 9.]);
    }

    #[test]
    fn selective_l1_averages_missing_channels_only() {
        // Errors: T1 100 (available, ignored), T2 1 and FLAIR 3 (missing): mean 2.
        let real = slice();
        let fake = t(vec![101., 101., 2., 2., 4., 4., 7., 7.], [1, 4, 1, 2]);
        let l: f32 = selective_l1(fake, real, mask_t2_flair_missing()).into_scalar();
        assert!((l - 2.0).abs() < 1e-6, "{l}");
    }

    #[test]
    fn selective_ssim_loss_matches_the_metric_inside_the_brain() {
        // Two 24x24 slices of 4 channels: a textured brain in the middle, zero outside
        // (a 6-pixel border, wider than the window's radius, so padding cannot matter).
        let (side, border) = (24, 6);
        let value = |s: usize, c: usize, y: usize, x: usize| -> f32 {
            let inside =
                (border..side - border).contains(&y) && (border..side - border).contains(&x);
            let v = ((y * 7 + x * 3 + c * 5 + s * 11) % 13) as f32 / 13.0;
            if inside {
                0.1 + 0.8 * v
            } else {
                0.0
            }
        };
        let n = 2 * 4 * side * side;
        let real: Vec<f32> = (0..n)
            .map(|i| {
                value(
                    i / (4 * side * side),
                    i / (side * side) % 4,
                    i / side % side,
                    i % side,
                )
            })
            .collect();
        // The synthesized image: the truth, brightened and with a gradient added.
        let fake: Vec<f32> = real
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if *v > 0.0 {
                    0.7 * v + 0.2 + (i % side) as f32 * 0.01
                } else {
                    0.0
                }
            })
            .collect();
        let shape = [2, 4, side, side];
        // The metric's map averaged over the brain, over the (slice, channel) pairs.
        let p = SsimParams::unit_range();
        let expected = |pairs: &[(usize, usize)]| {
            let mut sum = 0.0;
            let mut count = 0;
            for &(s, c) in pairs {
                let at = (s * 4 + c) * side * side;
                let (f, r) = (&fake[at..at + side * side], &real[at..at + side * side]);
                let map = crate::metrics::ssim_map_2d(f, r, side, side, p);
                for (m, v) in map.iter().zip(r) {
                    if *v > 0.0 {
                        sum += f64::from(*m);
                        count += 1;
                    }
                }
            }
            1.0 - sum / f64::from(count)
        };
        let loss = |mask: Tensor<4>| -> f32 {
            selective_ssim_loss(t(fake.clone(), shape), t(real.clone(), shape), mask).into_scalar()
        };
        let missing = |seqs: &[Sequence]| {
            availability_mask(
                &[Scenario::with_missing(crate::io::SequenceSet::BRATS, seqs).unwrap()],
                &dev(),
            )
        };
        // T2 and FLAIR missing in both slices; then FLAIR in one, T1c in the other (each
        // slice's own missing channel counts, not the other's).
        for (mask, pairs) in [
            (
                Tensor::cat(vec![mask_t2_flair_missing(), mask_t2_flair_missing()], 0),
                vec![(0, 2), (0, 3), (1, 2), (1, 3)],
            ),
            (
                Tensor::cat(
                    vec![missing(&[Sequence::Flair]), missing(&[Sequence::T1c])],
                    0,
                ),
                vec![(0, 3), (1, 1)],
            ),
        ] {
            let (loss, expected) = (loss(mask), expected(&pairs));
            assert!(expected > 0.05, "the images should differ: {expected}");
            assert!(
                (f64::from(loss) - expected).abs() < 1e-4,
                "{loss} against {expected} for {pairs:?}"
            );
        }
        // Nothing missing: nothing to score.
        assert_eq!(loss(Tensor::ones([2, 4, 1, 1], &dev())), 0.0);
        // Identical images: no loss.
        let zero: f32 = selective_ssim_loss(
            t(real.clone(), shape),
            t(real, shape),
            Tensor::cat(vec![mask_t2_flair_missing(), mask_t2_flair_missing()], 0),
        )
        .into_scalar();
        assert!(zero.abs() < 1e-5, "{zero}");
    }

    #[test]
    fn distribution_loss_ignores_where_intensities_sit() {
        // One 2x3 slice, brain = the first five pixels (the sixth is 0 in every channel).
        // T2 (missing): the synthesized values are the acquired ones shuffled: no loss,
        // though its L1 is large. FLAIR (missing): the same shuffle, brightened by 0.3.
        // T1 (available): far off, ignored. Outside the brain the fake's 5 is ignored.
        let real = t(
            [
                [0.1, 0.2, 0.3, 0.4, 0.5, 0.0],
                [0.5, 0.5, 0.5, 0.5, 0.5, 0.0],
                [0.1, 0.2, 0.3, 0.4, 0.9, 0.0],
                [0.1, 0.2, 0.3, 0.4, 0.9, 0.0],
            ]
            .concat(),
            [1, 4, 2, 3],
        );
        let fake = t(
            [
                [9.0; 6],
                [0.5; 6],
                [0.9, 0.4, 0.3, 0.1, 0.2, 5.0],
                [1.2, 0.7, 0.6, 0.4, 0.5, 5.0],
            ]
            .concat(),
            [1, 4, 2, 3],
        );
        let mask = mask_t2_flair_missing();
        let l: f32 =
            selective_distribution_loss(fake.clone(), real.clone(), mask.clone()).into_scalar();
        // T2: 0; FLAIR: 0.3 at each of the 5 brain pixels, over the slice's 6; mean over
        // the two channels.
        assert!((l - 0.125).abs() < 1e-6, "{l}");
        let l1: f32 = selective_l1(fake, real, mask).into_scalar();
        assert!(l1 > 1.0, "{l1}");
    }

    #[test]
    fn distribution_loss_gradient_reaches_each_pixel_by_its_rank() {
        // One 1x3 slice, every pixel brain; FLAIR alone missing. Acquired FLAIR 0.1, 0.5,
        // 0.9; synthesized 0.6, 0.2, 0.7: sorted 0.2 < 0.6 < 0.7 against 0.1, 0.5, 0.9, so
        // the pixels holding 0.2 and 0.6 are too bright for their rank (+), the one holding
        // 0.7 too dark (-): d/dx = sign / (1 channel x 3 pixels).
        let device = Device::flex().autodiff();
        let tensor =
            |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 4, 1, 3]), &device);
        let real = tensor([[0.3; 3], [0.3; 3], [0.3; 3], [0.1, 0.5, 0.9]].concat());
        let fake = tensor([[0.3; 3], [0.3; 3], [0.3; 3], [0.6, 0.2, 0.7]].concat()).require_grad();
        let mask = availability_mask(
            &[Scenario::with_missing(crate::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap()],
            &device,
        );
        let loss = selective_distribution_loss(fake.clone(), real, mask);
        let grads = loss.backward();
        let g = vals(fake.grad(&grads).unwrap());
        let third = 1.0 / 3.0;
        let expected = [[0.0; 9].as_slice(), &[third, third, -third]].concat();
        for (got, want) in g.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-6, "{g:?} against {expected:?}");
        }
    }

    #[test]
    fn fake_targets_are_zero_on_missing_channels() {
        let target = vals(discriminator_target_fake(
            mask_t2_flair_missing(),
            [1, 4, 2, 2],
        ));
        assert_eq!(
            target,
            vec![1., 1., 1., 1., 1., 1., 1., 1., 0., 0., 0., 0., 0., 0., 0., 0.]
        );
    }
}
