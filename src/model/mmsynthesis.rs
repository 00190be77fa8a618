//! MM-Synthesis (Chartsias, Joyce, Giuffrida and Tsaftaris, "Multimodal MR Synthesis via
//! Modality-Invariant Latent Representation", IEEE TMI 2018): one encoder per sequence
//! into a shared latent space, the latents of the available sequences fused by a
//! pixel-wise max, and one decoder per sequence reading the fused latent. Any subset in,
//! every sequence out, like MM-GAN, but with no adversary.
//!
//! Losses, as the paper: every output (all four sequences, the inputs too) reconstructed
//! from the fused latent and from each input's own latent (L1), plus an embedding loss
//! that pulls the inputs' latents together (their variance across sequences), so that
//! the max over any subset lands in one space.
//!
//! Sizes, and one deliberate difference: the paper's encoders are U-Nets of 32 filters
//! with a 16-channel latent at full resolution. Here the default is 8 filters and the
//! latent lives at half resolution: each encoder starts with a 4x4 stride-2 convolution,
//! each decoder ends with a sub-pixel layer (a 3x3 convolution to 4 channels, shuffled
//! into the full-resolution pixel grid). At full resolution, 3x3 convolutions of a few
//! channels run at about 3 GMAC/s on this CPU (flex), and the paper's layout took 13 s a
//! training step at 224x224, batch 4; this one about 4x less compute (`mmgan bench model`
//! prints its figures beside MM-GAN's). Each 3x3 convolution is followed by instance norm
//! (as MM-GAN's UNet) and He initialisation is used: without them training sat on a
//! near-constant image.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

use super::flex_activation::activation;
use super::flex_conv::conv2d_same as same;
use super::flex_norm::{instance_norm, Activation};
use super::Scenario;

#[derive(Config, Debug, PartialEq)]
pub struct MmSynthesisConfig {
    /// Sequences in and out.
    #[config(default = 4)]
    pub channels: usize,
    /// Filters of an encoder's first level; x2 and x4 on its two coarser levels (paper 32).
    #[config(default = 8)]
    pub width: usize,
    /// Channels of the shared latent representation (paper 16).
    #[config(default = 16)]
    pub latent: usize,
    /// Weight of the embedding loss against the reconstruction loss.
    #[config(default = 1.0)]
    pub embedding_weight: f32,
}

/// Bounds that keep a hand-edited sidecar away from burn's assertions and absurd
/// allocations.
const MAX_WIDTH: usize = 128;
const MAX_LATENT: usize = 128;

impl MmSynthesisConfig {
    /// Check the configuration for slices of `side` pixels; the error names the field as
    /// the sidecar spells it.
    pub fn check(&self, side: usize) -> Result<(), String> {
        if self.channels != 4 {
            return Err(format!(
                "mmsynthesis.channels is {}, must be 4",
                self.channels
            ));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(format!(
                "mmsynthesis.width is {}, must be 1 to {MAX_WIDTH}",
                self.width
            ));
        }
        if !(1..=MAX_LATENT).contains(&self.latent) {
            return Err(format!(
                "mmsynthesis.latent is {}, must be 1 to {MAX_LATENT}",
                self.latent
            ));
        }
        if !(self.embedding_weight.is_finite() && self.embedding_weight >= 0.0) {
            return Err(format!(
                "mmsynthesis.embedding_weight is {}, must be finite and at least 0",
                self.embedding_weight
            ));
        }
        if !(16..=1024).contains(&side) || side % 8 != 0 {
            return Err(format!(
                "side is {side}, must be 16 to 1024 and divisible by 8"
            ));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> MmSynthesis {
        let w = self.width;
        let encoders = (0..self.channels)
            .map(|_| Encoder {
                down: Conv2dConfig::new([1, w], [4, 4])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_initializer(kaiming(2f64.sqrt()))
                    .init(device),
                level1: Pair::new(w, w, device),
                level2: Pair::new(w, 2 * w, device),
                level3: Pair::new(2 * w, 4 * w, device),
                up2: Pair::new(4 * w + 2 * w, 2 * w, device),
                up1: Pair::new(2 * w + w, w, device),
                out: linear(w, self.latent, 1, device),
                pool: MaxPool2dConfig::new([2, 2]).init(),
            })
            .collect();
        let decoders = (0..self.channels)
            .map(|_| Decoder {
                body: Pair::new(self.latent, w, device),
                out: linear(w, 4, 3, device),
            })
            .collect();
        MmSynthesis {
            encoders,
            decoders,
            embedding_weight: self.embedding_weight,
        }
    }

    /// Multiply-accumulates of one forward pass on a `side` x `side` slice with
    /// `available` inputs (decoding the fused latent only, as inference does).
    pub fn macs_per_slice(&self, side: usize, available: usize) -> u64 {
        let (w, l) = (self.width as u64, self.latent as u64);
        let px = (side * side) as u64 / 4; // the latent's grid
        let c3 = |i: u64, o: u64| 9 * i * o;
        let top = 16 * w + c3(w, w) + c3(w, w) + c3(3 * w, w) + c3(w, w) + w * l;
        let mid = c3(w, 2 * w) + c3(2 * w, 2 * w) + c3(6 * w, 2 * w) + c3(2 * w, 2 * w);
        let low = c3(2 * w, 4 * w) + c3(4 * w, 4 * w);
        let encoder = px * top + px / 4 * mid + px / 16 * low;
        let decoder = px * (c3(l, w) + c3(w, w) + c3(w, 4));
        available as u64 * encoder + self.channels as u64 * decoder
    }
}

/// He initialisation for (Leaky)ReLU layers. Burn's default (PyTorch's, gain 1/sqrt(3))
/// shrinks the signal about 3x a layer: without normalisation, 12 layers deep, the output
/// was the biases alone and training collapsed to a constant image.
/// `gain`: sqrt(2) before a LeakyReLU, 1 for the linear output layers.
fn kaiming(gain: f64) -> Initializer {
    Initializer::KaimingNormal {
        gain,
        fan_out_only: false,
    }
}

/// A stride-1 convolution with "same" padding (run by [`same`]), followed by a
/// LeakyReLU.
fn conv(c_in: usize, c_out: usize, kernel: usize, device: &Device) -> Conv2d {
    conv_with(c_in, c_out, kernel, 2f64.sqrt(), device)
}

/// A linear output layer: [`conv`] with unit gain.
fn linear(c_in: usize, c_out: usize, kernel: usize, device: &Device) -> Conv2d {
    conv_with(c_in, c_out, kernel, 1.0, device)
}

fn conv_with(c_in: usize, c_out: usize, kernel: usize, gain: f64, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_initializer(kaiming(gain))
        .init(device)
}

/// Two 3x3 convolutions, each followed by instance norm and LeakyReLU 0.2. The norm
/// (as in MM-GAN's UNet) is what lets the network learn structure in the first hundreds
/// of steps: without it, an L1-trained net on mostly-black slices sat on a near-constant
/// output.
#[derive(Module, Debug)]
struct Pair {
    a: Conv2d,
    norm_a: InstanceNorm,
    b: Conv2d,
    norm_b: InstanceNorm,
}

impl Pair {
    fn new(c_in: usize, c_out: usize, device: &Device) -> Pair {
        let norm = || {
            InstanceNormConfig::new(c_out)
                .with_affine(false)
                .init(device)
        };
        Pair {
            a: conv(c_in, c_out, 3, device),
            norm_a: norm(),
            b: conv(c_out, c_out, 3, device),
            norm_b: norm(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = instance_norm(&self.norm_a, same(&self.a, x), Activation::LeakyRelu(0.2));
        instance_norm(&self.norm_b, same(&self.b, x), Activation::LeakyRelu(0.2))
    }
}

/// One sequence -> the shared latent space: a stride-2 convolution, then a three-level
/// U-Net at half resolution.
#[derive(Module, Debug)]
struct Encoder {
    down: Conv2d,
    level1: Pair,
    level2: Pair,
    level3: Pair,
    up2: Pair,
    up1: Pair,
    out: Conv2d,
    pool: MaxPool2d,
}

fn upsample(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w]),
    )
}

impl Encoder {
    /// `x`: [b, 1, side, side] -> [b, latent, side/2, side/2].
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let s1 = self
            .level1
            .forward(activation(self.down.forward(x), Activation::LeakyRelu(0.2)));
        let s2 = self.level2.forward(self.pool.forward(s1.clone()));
        let s3 = self.level3.forward(self.pool.forward(s2.clone()));
        let u2 = self.up2.forward(Tensor::cat(vec![upsample(s3), s2], 1));
        let u1 = self.up1.forward(Tensor::cat(vec![upsample(u2), s1], 1));
        same(&self.out, u1)
    }
}

/// The shared latent space -> one sequence, back at full resolution (sub-pixel).
#[derive(Module, Debug)]
struct Decoder {
    body: Pair,
    out: Conv2d,
}

impl Decoder {
    /// `z`: [b, latent, h, w] -> [b, 1, 2h, 2w].
    fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        let y = same(&self.out, self.body.forward(z)); // [b, 4, h, w]: the 2x2 phases
        let [b, _, h, w] = y.dims();
        y.reshape([b, 2, 2, h, w])
            .permute([0, 3, 1, 4, 2])
            .reshape([b, 1, 2 * h, 2 * w])
    }
}

/// MM-Synthesis: per-sequence encoders and decoders around a shared latent space.
#[derive(Module, Debug)]
pub struct MmSynthesis {
    encoders: Vec<Encoder>,
    decoders: Vec<Decoder>,
    embedding_weight: f32,
}

/// The training losses of one batch (tensors: the caller back-propagates `total`).
pub struct MmSynthesisLosses {
    pub total: Tensor<1>,
    pub reconstruction: Tensor<1>,
    pub embedding: Tensor<1>,
}

impl MmSynthesis {
    /// The latents of the sequences `scenario` has available, in channel order.
    fn encode(&self, x: &Tensor<4>, scenario: Scenario) -> Vec<Tensor<4>> {
        scenario
            .available_channels()
            .into_iter()
            .map(|c| self.encoders[c].forward(x.clone().narrow(1, c, 1)))
            .collect()
    }

    /// Every sequence decoded from the latent `z`: [b, 4, side, side].
    fn decode(&self, z: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            self.decoders.iter().map(|d| d.forward(z.clone())).collect(),
            1,
        )
    }

    /// Pixel-wise max over the latents (the paper's fusion).
    fn fuse(latents: &[Tensor<4>]) -> Tensor<4> {
        latents
            .iter()
            .cloned()
            .reduce(|a, b| a.max_pair(b))
            .expect("a scenario has at least one available sequence")
    }

    /// `x`: [b, 4, side, side] (missing channels are not read); every sequence out,
    /// [b, 4, side, side], decoded from the fused latent of the available ones.
    pub fn forward(&self, x: Tensor<4>, scenario: Scenario) -> Tensor<4> {
        self.decode(Self::fuse(&self.encode(&x, scenario)))
    }

    /// The paper's losses on a batch of complete slices `real` ([b, 4, side, side]) with
    /// `scenario`'s sequences given as inputs.
    pub fn losses(&self, real: Tensor<4>, scenario: Scenario) -> MmSynthesisLosses {
        let latents = self.encode(&real, scenario);
        let fused = Self::fuse(&latents);
        let l1 = |z: Tensor<4>| (self.decode(z) - real.clone()).abs().mean();
        let mut reconstruction = l1(fused);
        if latents.len() > 1 {
            for z in &latents {
                reconstruction = reconstruction + l1(z.clone());
            }
            reconstruction = reconstruction.div_scalar((latents.len() + 1) as f32);
        }
        let embedding = if latents.len() > 1 {
            let k = latents.len() as f32;
            let mean = latents
                .iter()
                .cloned()
                .reduce(|a, b| a + b)
                .expect("two or more latents")
                .div_scalar(k);
            latents
                .iter()
                .map(|z| (z.clone() - mean.clone()).powi_scalar(2).mean())
                .reduce(|a, b| a + b)
                .expect("two or more latents")
                .div_scalar(k)
        } else {
            reconstruction.zeros_like()
        };
        MmSynthesisLosses {
            total: reconstruction.clone() + embedding.clone().mul_scalar(self.embedding_weight),
            reconstruction,
            embedding,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn any_subset_in_every_sequence_out_and_missing_inputs_are_not_read() {
        let device = Device::flex();
        let m = MmSynthesisConfig::new().with_width(2).init(&device);
        let x = Tensor::<4>::random([2, 4, 16, 16], Distribution::Default, &device);
        let scenario =
            Scenario::with_missing(crate::io::SequenceSet::BRATS, &[crate::io::Sequence::T2])
                .unwrap();
        let y = m.forward(x.clone(), scenario);
        assert_eq!(y.dims(), [2, 4, 16, 16]);
        // Whatever fills the missing channel, the output is the same.
        let other = x.clone().slice_assign(
            [0..2, 2..3, 0..16, 0..16],
            Tensor::ones([2, 1, 16, 16], &device),
        );
        let z = m.forward(other, scenario);
        let d: f32 = (y - z).abs().max().into_scalar();
        assert_eq!(d, 0.0);
    }

    #[test]
    fn the_embedding_loss_is_zero_with_one_input_and_positive_with_several() {
        let device = Device::flex();
        let m = MmSynthesisConfig::new().with_width(2).init(&device);
        let x = Tensor::<4>::random([1, 4, 16, 16], Distribution::Default, &device);
        let one =
            Scenario::with_available(crate::io::SequenceSet::BRATS, &[crate::io::Sequence::T1])
                .unwrap();
        let three =
            Scenario::with_missing(crate::io::SequenceSet::BRATS, &[crate::io::Sequence::Flair])
                .unwrap();
        let l = m.losses(x.clone(), one);
        assert_eq!(l.embedding.into_scalar::<f32>(), 0.0);
        assert!(l.reconstruction.into_scalar::<f32>() > 0.0);
        assert!(m.losses(x, three).embedding.into_scalar::<f32>() > 0.0);
    }
}
