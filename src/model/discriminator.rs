//! The MM-GAN discriminator: a conditional PatchGAN with one patch map per sequence.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::flex_activation::activation;
use super::flex_conv::conv2d_module;
use super::flex_norm::{instance_norm, Activation};

#[derive(Config, Debug, PartialEq)]
pub struct DiscriminatorConfig {
    /// Sequences: the input is a candidate image concatenated with the real one (2x).
    #[config(default = 4)]
    pub channels: usize,
    /// Filters of the first block (reference 64), doubling to 8x.
    #[config(default = 64)]
    pub width: usize,
}

#[derive(Module, Debug)]
struct Block {
    conv: Conv2d,
    norm: Option<InstanceNorm>,
}

/// PatchGAN: 4 stride-2 blocks then a 4x4 conv to one map per sequence,
/// [batch, 4, side/16, side/16]; receptive field about 94x94 pixels. No sigmoid (LSGAN).
#[derive(Module, Debug)]
pub struct Discriminator {
    blocks: Vec<Block>,
    out: Conv2d,
}

impl DiscriminatorConfig {
    /// Filters of the four stride-2 blocks.
    pub fn block_widths(&self) -> [usize; 4] {
        [self.width, 2 * self.width, 4 * self.width, 8 * self.width]
    }

    pub fn init(&self, device: &Device) -> Discriminator {
        let init = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        let widths = self.block_widths();
        let blocks = (0..4)
            .map(|i| {
                let c_in = if i == 0 {
                    2 * self.channels
                } else {
                    widths[i - 1]
                };
                Block {
                    conv: Conv2dConfig::new([c_in, widths[i]], [4, 4])
                        .with_stride([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_initializer(init.clone())
                        .init(device),
                    norm: (i > 0).then(|| {
                        InstanceNormConfig::new(widths[i])
                            .with_affine(false)
                            .init(device)
                    }),
                }
            })
            .collect();
        // ZeroPad2d((1, 0, 1, 0)) + pad-1 conv, folded into one asymmetric padding.
        let out = Conv2dConfig::new([widths[3], self.channels], [4, 4])
            .with_padding(PaddingConfig2d::Explicit(2, 2, 1, 1))
            .with_bias(false)
            .with_initializer(init)
            .init(device);
        Discriminator { blocks, out }
    }
}

impl Discriminator {
    /// `candidate`, `real`: [batch, 4, side, side] -> patch maps [batch, 4, side/16, side/16].
    pub fn forward(&self, candidate: Tensor<4>, real: Tensor<4>) -> Tensor<4> {
        let mut h = Tensor::cat(vec![candidate, real], 1); // [b, 8, side, side]
        for block in &self.blocks {
            h = conv2d_module(&block.conv, h);
            h = match &block.norm {
                Some(n) => instance_norm(n, h, Activation::LeakyRelu(0.2)),
                None => activation(h, Activation::LeakyRelu(0.2)),
            };
        }
        conv2d_module(&self.out, h)
    }
}
