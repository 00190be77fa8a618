//! Implicit conditioning: imputation of missing inputs, real pass-through, and the
//! sequence-selective losses and discriminator targets.
//!
//! Masks are [batch, 4, 1, 1] tensors, 1.0 where a sequence is available; every function
//! broadcasts them over the slice.

use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::Scenario;

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
            &[Scenario::with_missing(&[Sequence::T2, Sequence::Flair]).unwrap()],
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
            &[Scenario::with_available(&[Sequence::T1]).unwrap()],
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
