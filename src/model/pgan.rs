//! pGAN (Dar, Yurt, Karacan, Erdem, Erdem and Çukur, "Image Synthesis in Multi-Contrast
//! MRI With Conditional Generative Adversarial Networks", IEEE TMI 2019): the unimodal
//! conditional GAN MM-GAN is compared with. One sequence in, one out: a separate
//! generator and conditional PatchGAN for each ordered (source, target) pair, 12 for
//! four sequences. It applies only where exactly one sequence is available; from that
//! one it synthesizes each missing sequence with its pair's generator.
//!
//! As the paper: a ResNet generator (7x7 convolution, two stride-2 3x3 convolutions,
//! residual blocks at quarter resolution, two stride-2 transposed convolutions, 7x7
//! convolution; instance norm and ReLU between), a PatchGAN judging (source, candidate)
//! pairs, least-squares adversarial loss plus L1 weighted 100.
//!
//! Deliberate differences, each forced by this project's constraints:
//! - **no perceptual loss**: the paper's needs VGG16 weights pretrained on ImageNet,
//!   which cannot be fetched here. This is the pixel + adversarial variant, and its
//!   title says so wherever it is shown ("pGAN (pixel+adv)");
//! - width 8 (paper 64) and 6 residual blocks (paper 9) by default: at the paper's size
//!   one training step of the three generators of a source took minutes on this CPU;
//! - one cross-section in (the paper's best variant feeds three neighbouring slices);
//! - zero padding instead of reflection, a ReLU output (the model space is non-negative;
//!   the paper's tanh is for images in [-1, 1]), and the critic is MM-GAN's PatchGAN with
//!   one channel per side (four stride-2 blocks, about 94-pixel patches, against the
//!   paper's 70).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::flex_activation::activation;
use super::flex_conv::{conv2d_same as same, conv_transpose2d_module};
use super::flex_norm::{instance_norm, Activation};
use super::{Discriminator, DiscriminatorConfig, Scenario};

#[derive(Config, Debug, PartialEq)]
pub struct PGanConfig {
    /// Sequences: one generator per ordered pair of them.
    #[config(default = 4)]
    pub channels: usize,
    /// Filters of the first layer (paper 64); x2 and x4 after the two downsamplings.
    #[config(default = 8)]
    pub width: usize,
    /// Residual blocks at quarter resolution (paper 9).
    #[config(default = 6)]
    pub blocks: usize,
    /// Weight of the L1 loss against the adversarial one (paper 100).
    #[config(default = 100.0)]
    pub l1_weight: f32,
    /// Filters of the critics' first block (training only; pix2pix 64).
    #[config(default = 16)]
    pub critic_width: usize,
}

const MAX_WIDTH: usize = 128;
const MAX_BLOCKS: usize = 32;

impl PGanConfig {
    /// Check the configuration for slices of `side` pixels; the error names the field as
    /// the sidecar spells it.
    pub fn check(&self, side: usize) -> Result<(), String> {
        if self.channels != 4 {
            return Err(format!("pgan.channels is {}, must be 4", self.channels));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(format!(
                "pgan.width is {}, must be 1 to {MAX_WIDTH}",
                self.width
            ));
        }
        if self.blocks > MAX_BLOCKS {
            return Err(format!(
                "pgan.blocks is {}, must be 0 to {MAX_BLOCKS}",
                self.blocks
            ));
        }
        if !(1..=MAX_WIDTH).contains(&self.critic_width) {
            return Err(format!(
                "pgan.critic_width is {}, must be 1 to {MAX_WIDTH}",
                self.critic_width
            ));
        }
        if !(self.l1_weight.is_finite() && self.l1_weight >= 0.0) {
            return Err(format!(
                "pgan.l1_weight is {}, must be finite and at least 0",
                self.l1_weight
            ));
        }
        // Two stride-2 layers in the generator, four in the critic.
        if !(16..=1024).contains(&side) || side % 16 != 0 {
            return Err(format!(
                "side is {side}, must be 16 to 1024 and divisible by 16"
            ));
        }
        Ok(())
    }

    /// Ordered (source, target) pairs of distinct channels.
    pub fn pairs(&self) -> usize {
        self.channels * (self.channels - 1)
    }

    pub fn init(&self, device: &Device) -> PGan {
        PGan {
            generators: (0..self.pairs())
                .map(|_| PairGenerator::new(self.width, self.blocks, device))
                .collect(),
            channels: self.channels,
        }
    }

    /// The critics, one per pair (training only).
    pub fn init_critics(&self, device: &Device) -> PGanCritics {
        let d = DiscriminatorConfig::new()
            .with_channels(1)
            .with_width(self.critic_width);
        PGanCritics {
            critics: (0..self.pairs()).map(|_| d.init(device)).collect(),
            channels: self.channels,
        }
    }

    /// Multiply-accumulates of one pair generator's forward pass on a `side` x `side`
    /// slice.
    pub fn macs_per_slice(&self, side: usize) -> u64 {
        let (w, px) = (self.width as u64, (side * side) as u64);
        let full = px * (49 * w + 49 * w); // stem and output, 7x7, one channel each side
        let half = px / 4 * (9 * w * 2 * w) * 2; // down 1 and up 2
        let quarter = px / 16 * (9 * 2 * w * 4 * w * 2 + self.blocks as u64 * 2 * 9 * 16 * w * w);
        full + half + quarter
    }
}

/// Index of the (source, target) pair's networks, channels in order.
pub fn pair_index(source: usize, target: usize, channels: usize) -> usize {
    debug_assert!(source != target && source < channels && target < channels);
    source * (channels - 1) + if target > source { target - 1 } else { target }
}

fn init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

fn norm(c: usize, device: &Device) -> InstanceNorm {
    InstanceNormConfig::new(c).with_affine(false).init(device)
}

fn conv(c_in: usize, c_out: usize, kernel: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_initializer(init())
        .init(device)
}

fn down(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_initializer(init())
        .init(device)
}

fn up(c_in: usize, c_out: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .with_padding_out([1, 1])
        .with_initializer(init())
        .init(device)
}

/// conv - norm - ReLU - conv - norm, added to its input.
#[derive(Module, Debug)]
struct ResBlock {
    a: Conv2d,
    norm_a: InstanceNorm,
    b: Conv2d,
    norm_b: InstanceNorm,
}

impl ResBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = instance_norm(&self.norm_a, same(&self.a, x.clone()), Activation::Relu);
        x + instance_norm(&self.norm_b, same(&self.b, h), Activation::Identity)
    }
}

/// One source sequence -> one target sequence.
#[derive(Module, Debug)]
struct PairGenerator {
    stem: Conv2d,
    norm_stem: InstanceNorm,
    down1: Conv2d,
    norm_down1: InstanceNorm,
    down2: Conv2d,
    norm_down2: InstanceNorm,
    blocks: Vec<ResBlock>,
    up1: ConvTranspose2d,
    norm_up1: InstanceNorm,
    up2: ConvTranspose2d,
    norm_up2: InstanceNorm,
    out: Conv2d,
}

impl PairGenerator {
    fn new(w: usize, blocks: usize, device: &Device) -> PairGenerator {
        PairGenerator {
            stem: conv(1, w, 7, device),
            norm_stem: norm(w, device),
            down1: down(w, 2 * w, device),
            norm_down1: norm(2 * w, device),
            down2: down(2 * w, 4 * w, device),
            norm_down2: norm(4 * w, device),
            blocks: (0..blocks)
                .map(|_| ResBlock {
                    a: conv(4 * w, 4 * w, 3, device),
                    norm_a: norm(4 * w, device),
                    b: conv(4 * w, 4 * w, 3, device),
                    norm_b: norm(4 * w, device),
                })
                .collect(),
            up1: up(4 * w, 2 * w, device),
            norm_up1: norm(2 * w, device),
            up2: up(2 * w, w, device),
            norm_up2: norm(w, device),
            out: conv(w, 1, 7, device),
        }
    }

    /// `x`: [b, 1, side, side] -> [b, 1, side, side].
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = instance_norm(&self.norm_stem, same(&self.stem, x), Activation::Relu);
        let h = instance_norm(&self.norm_down1, self.down1.forward(h), Activation::Relu);
        let mut h = instance_norm(&self.norm_down2, self.down2.forward(h), Activation::Relu);
        for b in &self.blocks {
            h = b.forward(h);
        }
        let h = conv_transpose2d_module(&self.up1, h);
        let h = instance_norm(&self.norm_up1, h, Activation::Relu);
        let h = conv_transpose2d_module(&self.up2, h);
        let h = instance_norm(&self.norm_up2, h, Activation::Relu);
        activation(same(&self.out, h), Activation::Relu)
    }
}

/// pGAN's generators, one per ordered (source, target) pair.
#[derive(Module, Debug)]
pub struct PGan {
    generators: Vec<PairGenerator>,
    channels: usize,
}

impl PGan {
    /// Whether pGAN applies to `scenario`: exactly one sequence available.
    pub fn supports(scenario: Scenario) -> bool {
        scenario.available().len() == 1
    }

    /// Target channel `target` synthesized from `source`: [b, 1, side, side] in and out.
    pub fn synthesize(&self, source: usize, target: usize, x: Tensor<4>) -> Tensor<4> {
        self.generators[pair_index(source, target, self.channels)].forward(x)
    }

    /// `x`: [b, 4, side, side] (missing channels are not read); available channels pass
    /// through, each missing one comes from its pair generator. The engine runs pGAN only
    /// where [`PGan::supports`] the scenario; with several available sequences the first
    /// is the source.
    pub fn forward(&self, x: Tensor<4>, scenario: Scenario) -> Tensor<4> {
        let source = scenario.available_channels()[0];
        let input = x.clone().narrow(1, source, 1);
        let channels = (0..self.channels)
            .map(|c| {
                if scenario.has_channel(c) {
                    x.clone().narrow(1, c, 1)
                } else {
                    self.synthesize(source, c, input.clone())
                }
            })
            .collect();
        Tensor::cat(channels, 1)
    }
}

/// pGAN's critics, one conditional PatchGAN per pair, seeing (candidate, source).
#[derive(Module, Debug)]
pub struct PGanCritics {
    critics: Vec<Discriminator>,
    channels: usize,
}

impl PGanCritics {
    /// Patch scores of `candidate` as the `target` made from `source` (both
    /// [b, 1, side, side]): [b, 1, side/16, side/16].
    pub fn judge(
        &self,
        source_channel: usize,
        target_channel: usize,
        candidate: Tensor<4>,
        source: Tensor<4>,
    ) -> Tensor<4> {
        self.critics[pair_index(source_channel, target_channel, self.channels)]
            .forward(candidate, source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Sequence;
    use burn::tensor::Distribution;

    #[test]
    fn pairs_index_the_twelve_networks_once_each() {
        let mut seen = [false; 12];
        for s in 0..4 {
            for t in (0..4).filter(|t| *t != s) {
                let i = pair_index(s, t, 4);
                assert!(!seen[i]);
                seen[i] = true;
            }
        }
        assert!(seen.iter().all(|b| *b));
    }

    #[test]
    fn one_source_in_every_sequence_out_and_only_the_source_is_read() {
        let device = Device::flex();
        let c = PGanConfig::new().with_width(2).with_blocks(1);
        let m = c.init(&device);
        let x = Tensor::<4>::random([2, 4, 16, 16], Distribution::Default, &device);
        let scenario =
            Scenario::with_available(crate::io::SequenceSet::BRATS, &[Sequence::T2]).unwrap();
        assert!(PGan::supports(scenario));
        let y = m.forward(x.clone(), scenario);
        assert_eq!(y.dims(), [2, 4, 16, 16]);
        // The source passes through; whatever fills the other channels, the same output.
        let pass: f32 = (y.clone().narrow(1, 2, 1) - x.clone().narrow(1, 2, 1))
            .abs()
            .max()
            .into_scalar();
        assert_eq!(pass, 0.0);
        let other = x.slice_assign(
            [0..2, 0..1, 0..16, 0..16],
            Tensor::ones([2, 1, 16, 16], &device),
        );
        let d: f32 = (y.clone() - m.forward(other, scenario))
            .abs()
            .max()
            .into_scalar();
        assert_eq!(d, 0.0);
        // Each target has its own generator.
        let t1: f32 = (y.clone().narrow(1, 0, 1) - y.narrow(1, 1, 1))
            .abs()
            .max()
            .into_scalar();
        assert!(t1 > 0.0);
        let critics = c.init_critics(&device);
        let source = Tensor::<4>::random([2, 1, 16, 16], Distribution::Default, &device);
        assert_eq!(
            critics.judge(2, 3, source.clone(), source).dims(),
            [2, 1, 1, 1]
        );
        assert!(!PGan::supports(
            Scenario::with_missing(crate::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap()
        ));
    }

    #[test]
    fn the_configuration_is_checked_field_by_field() {
        let c = PGanConfig::new();
        assert!(c.check(224).is_ok());
        assert!(c.check(200).unwrap_err().contains("side"));
        assert!(c
            .clone()
            .with_width(0)
            .check(224)
            .unwrap_err()
            .contains("pgan.width"));
        assert!(c
            .with_l1_weight(f32::NAN)
            .check(224)
            .unwrap_err()
            .contains("pgan.l1_weight"));
    }
}
