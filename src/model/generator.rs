//! The MM-GAN generator: a pix2pix "UNet-256" with 4 input and 4 output channels (more
//! inputs with neighbouring slices, [`GeneratorConfig::context`]).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{
    Dropout, DropoutConfig, Initializer, InstanceNorm, InstanceNormConfig, PaddingConfig2d,
};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use super::flex_activation::activation;
use super::flex_conv::{conv2d, conv2d_module, conv_transpose2d_module};
use super::flex_norm::{instance_norm, Activation};

/// Size of the generator. The reference is width 64, depth 8 at 256x256 (about 54.4 M
/// parameters); an input side must be divisible by `2^depth`.
///
/// A plain serde struct rather than burn's `Config` derive: that one's deserializer has
/// no field defaults, so a field added later (`context`) would make every sidecar
/// written before it unreadable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeneratorConfig {
    /// Channels in and out: one per sequence.
    pub channels: usize,
    /// Filters of the first encoder block; doubles per level up to 8x.
    pub width: usize,
    /// Encoder blocks (the reference's 8 takes 256 down to 1).
    pub depth: usize,
    /// Dropout on the inner encoder blocks and the first decoder blocks (reference 0.2).
    pub dropout: f64,
    /// Neighbouring axial slices read on each side of the one synthesized (2.5D input):
    /// the input is `2 · context + 1` groups of `channels`, the lowest slice first (see
    /// `model::context`). 0, the paper's 2D generator, is left out of sidecars.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub context: usize,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            channels: 4,
            width: 64,
            depth: 8,
            dropout: 0.2,
            context: 0,
        }
    }
}

impl GeneratorConfig {
    /// The reference configuration.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_channels(self, channels: usize) -> Self {
        GeneratorConfig { channels, ..self }
    }

    pub fn with_width(self, width: usize) -> Self {
        GeneratorConfig { width, ..self }
    }

    pub fn with_depth(self, depth: usize) -> Self {
        GeneratorConfig { depth, ..self }
    }

    pub fn with_dropout(self, dropout: f64) -> Self {
        GeneratorConfig { dropout, ..self }
    }

    pub fn with_context(self, context: usize) -> Self {
        GeneratorConfig { context, ..self }
    }
}

/// Bounds a configuration must keep: far beyond any useful model, they keep a hand-edited
/// sidecar or a typo on the command line away from burn's assertions and from absurd
/// allocations.
const MAX_WIDTH: usize = 256;
/// The UNet needs an inner block between its outermost and innermost ones.
const MIN_DEPTH: usize = 2;
const MAX_DEPTH: usize = 8;
/// Three neighbours a side is already 7 slices of context; more is a typo.
const MAX_CONTEXT: usize = 3;
const MIN_SIDE: usize = 16;
const MAX_SIDE: usize = 1024;

impl GeneratorConfig {
    /// Check the configuration for slices of `side` pixels; the error names the field as
    /// the sidecar spells it.
    pub fn check(&self, side: usize) -> Result<(), String> {
        if self.channels != 4 {
            return Err(format!(
                "generator.channels is {}, must be 4",
                self.channels
            ));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(format!(
                "generator.width is {}, must be 1 to {MAX_WIDTH}",
                self.width
            ));
        }
        if !(MIN_DEPTH..=MAX_DEPTH).contains(&self.depth) {
            return Err(format!(
                "generator.depth is {}, must be {MIN_DEPTH} to {MAX_DEPTH}",
                self.depth
            ));
        }
        if self.context > MAX_CONTEXT {
            return Err(format!(
                "generator.context is {}, must be 0 to {MAX_CONTEXT}",
                self.context
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!(
                "generator.dropout is {}, must be at least 0 and below 1",
                self.dropout
            ));
        }
        if !(MIN_SIDE..=MAX_SIDE).contains(&side) || side % (1 << self.depth) != 0 {
            return Err(format!(
                "side is {side}, must be {MIN_SIDE} to {MAX_SIDE} and divisible by 2^depth = {}",
                1usize << self.depth
            ));
        }
        Ok(())
    }
}

/// One encoder block: Conv 4x4 stride 2 (no bias), InstanceNorm, LeakyReLU 0.2, dropout.
#[derive(Module, Debug)]
pub(super) struct Down {
    pub(super) conv: Conv2d,
    norm: Option<InstanceNorm>,
    dropout: Option<Dropout>,
}

impl Down {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv2d_module(&self.conv, x); // [b, c_out, h/2, w/2]
        let x = match &self.norm {
            Some(n) => instance_norm(n, x, Activation::LeakyRelu(0.2)),
            None => activation(x, Activation::LeakyRelu(0.2)),
        };
        match &self.dropout {
            Some(d) => d.forward(x),
            None => x,
        }
    }
}

/// One decoder block: ConvTranspose 4x4 stride 2 (no bias), InstanceNorm, ReLU, dropout.
/// Its output is concatenated with the mirror encoder output by the caller.
#[derive(Module, Debug)]
pub(super) struct Up {
    pub(super) conv: ConvTranspose2d,
    norm: InstanceNorm,
    dropout: Option<Dropout>,
}

impl Up {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv_transpose2d_module(&self.conv, x); // [b, c_out, 2h, 2w]
        let x = instance_norm(&self.norm, x, Activation::Relu);
        match &self.dropout {
            Some(d) => d.forward(x),
            None => x,
        }
    }
}

/// UNet generator: 4 sequences in (missing ones imputed), 4 out.
#[derive(Module, Debug)]
pub struct Generator {
    pub(super) downs: Vec<Down>,
    pub(super) ups: Vec<Up>,
    /// Final block: nearest upsample x2, zero-pad (1, 0, 1, 0), Conv 4x4 pad 1 (with bias),
    /// as the reference. Its weights are stored as that 4x4 conv; [`Generator::forward`]
    /// runs the identical function in sub-pixel form (see `upsample_conv`).
    pub(super) out: Conv2d,
}

impl Generator {
    /// The layer that reads the input slices (training may give it its own rate).
    pub fn input_layer(&self) -> &Conv2d {
        &self.downs[0].conv
    }
}

impl GeneratorConfig {
    /// Filters of encoder level `i` (0-based).
    pub fn level_width(&self, i: usize) -> usize {
        self.width * (1usize << i.min(3))
    }

    /// Channels of the input: the slice's sequences and those of its neighbours.
    pub fn input_channels(&self) -> usize {
        self.channels * (2 * self.context + 1)
    }

    /// Channels (in, out) of encoder block `i`.
    pub fn down_channels(&self, i: usize) -> (usize, usize) {
        let c_in = if i == 0 {
            self.input_channels()
        } else {
            self.level_width(i - 1)
        };
        (c_in, self.level_width(i))
    }

    /// Decoder block `j`: the encoder level it mirrors (`depth - 2 - j`) and its channels
    /// (in, out). Its input is the previous decoder output concatenated with the matching
    /// skip, except the first's, which is the bottleneck.
    pub fn up_block(&self, j: usize) -> (usize, usize, usize) {
        let level = self.depth - 2 - j;
        let c_in = if j == 0 {
            self.level_width(self.depth - 1)
        } else {
            2 * self.level_width(level + 1)
        };
        (level, c_in, self.level_width(level))
    }

    pub fn init(&self, device: &Device) -> Generator {
        assert!(self.depth >= 2, "generator depth must be at least 2");
        let init = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        let d = self.depth;
        let downs = (0..d)
            .map(|i| {
                let (c_in, c_out) = self.down_channels(i);
                Down {
                    conv: Conv2dConfig::new([c_in, c_out], [4, 4])
                        .with_stride([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(false)
                        .with_initializer(init.clone())
                        .init(device),
                    // No norm on the outermost and innermost blocks (the innermost is 1x1).
                    norm: (i != 0 && i != d - 1).then(|| {
                        InstanceNormConfig::new(c_out)
                            .with_affine(false)
                            .init(device)
                    }),
                    // Reference: dropout on blocks 4-8 of 8, i.e. all but the first three.
                    dropout: (i >= 3 && self.dropout > 0.0)
                        .then(|| DropoutConfig::new(self.dropout).init()),
                }
            })
            .collect();
        let ups = (0..d - 1)
            .map(|j| {
                let (level, c_in, c_out) = self.up_block(j);
                Up {
                    conv: ConvTranspose2dConfig::new([c_in, c_out], [4, 4])
                        .with_stride([2, 2])
                        .with_padding([1, 1])
                        .with_bias(false)
                        .with_initializer(init.clone())
                        .init(device),
                    norm: InstanceNormConfig::new(c_out)
                        .with_affine(false)
                        .init(device),
                    // Reference: dropout on the first four decoder blocks (of the inner ones).
                    dropout: (j < 4 && level >= 3 && self.dropout > 0.0)
                        .then(|| DropoutConfig::new(self.dropout).init()),
                }
            })
            .collect();
        let out = Conv2dConfig::new([2 * self.level_width(0), self.channels], [4, 4])
            .with_padding(PaddingConfig2d::Explicit(2, 2, 1, 1))
            .with_bias(true)
            .with_initializer(init)
            .init(device);
        Generator { downs, ups, out }
    }

    /// Multiply-accumulates of one forward pass on a `side` x `side` slice.
    pub fn macs_per_slice(&self, side: usize) -> u64 {
        let m = self.macs(side);
        m.conv + m.transposed
    }

    /// Multiply-accumulates split by layer kind: a transposed convolution costs its input
    /// pixels x kernel x channels (profilers that count it per output pixel report 4x; the
    /// reference's "18.3 GMAC" is that count).
    pub fn macs(&self, side: usize) -> Macs {
        let mut conv = 0u64;
        let mut s = side as u64;
        for i in 0..self.depth {
            let (c_in, c_out) = self.down_channels(i);
            s /= 2;
            conv += s * s * (c_in * c_out) as u64 * 16;
        }
        let side = side as u64;
        conv += side * side * 2 * self.level_width(0) as u64 * self.channels as u64 * 16;
        let mut transposed = 0u64;
        for j in 0..self.depth - 1 {
            let (level, c_in, c_out) = self.up_block(j);
            let s_in = side >> (level + 2);
            transposed += s_in * s_in * (c_in * c_out) as u64 * 16;
        }
        Macs { conv, transposed }
    }
}

/// Multiply-accumulates of a forward pass, by layer kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Macs {
    pub conv: u64,
    pub transposed: u64,
}

impl Generator {
    /// `x`: [batch, 4 · (2 · context + 1), side, side] with missing channels imputed;
    /// returns [batch, 4, side, side].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut skips = Vec::with_capacity(self.downs.len());
        let mut h = x;
        for down in &self.downs {
            h = down.forward(h);
            skips.push(h.clone());
        }
        let mut h = skips.pop().expect("depth >= 2"); // [b, c, side/2^d, side/2^d]
        for (up, skip) in self.ups.iter().zip(skips.into_iter().rev()) {
            h = Tensor::cat(vec![up.forward(h), skip], 1);
        }
        activation(self.upsample_conv(h), Activation::Relu) // [b, 4, side, side]
    }

    /// Nearest upsample x2 + pad (top 2, left 2, bottom 1, right 1) + Conv 4x4, computed
    /// without materialising the upsampled map: each of the four output phases is a 3x3
    /// conv of the low-resolution map whose kernel sums taps of the 4x4 one, and a pixel
    /// shuffle interleaves them. Same function, same parameters; about 3x less work and a
    /// 16x smaller im2col buffer on the CPU, where this layer dominated the forward pass.
    fn upsample_conv(&self, h: Tensor<4>) -> Tensor<4> {
        let w = self.out.weight.val(); // [o, c, 4, 4]
        let [o, c, _, _] = w.dims();
        let device = w.device();
        // Tap a of the 4x4 kernel lands on low-res offset PHASE_TAPS[phase][a] (0..3 <-> -1..1).
        const PHASE_TAPS: [[usize; 4]; 2] = [[0, 0, 1, 1], [0, 1, 1, 2]];
        let gather = |phase: usize| {
            let mut m = vec![0f32; 12];
            for (a, &i) in PHASE_TAPS[phase].iter().enumerate() {
                m[i * 4 + a] = 1.0;
            }
            Tensor::<3>::from_data(TensorData::new(m, [1, 3, 4]), &device) // [1, 3, 4]
        };
        let w = w.reshape([o * c, 4, 4]);
        let mut phases = Vec::with_capacity(4);
        for r in 0..2 {
            for s in 0..2 {
                let k = gather(r)
                    .matmul(w.clone())
                    .matmul(gather(s).swap_dims(1, 2)); // [o*c, 3, 3]
                phases.push(k.reshape([o, 1, c, 3, 3]));
            }
        }
        let kernel = Tensor::cat(phases, 1).reshape([o * 4, c, 3, 3]); // channel = o*4 + phase
        let bias = self
            .out
            .bias
            .as_ref()
            .map(|b| b.val().reshape([o, 1]).repeat_dim(1, 4).reshape([o * 4]));
        let y = conv2d(h, kernel, bias, ConvOptions::new([1, 1], [1, 1], [1, 1], 1)); // [b, 4o, hh, ww]
        let [b, _, hh, ww] = y.dims();
        y.reshape([b, o, 2, 2, hh, ww])
            .permute([0, 1, 4, 2, 5, 3])
            .reshape([b, o, 2 * hh, 2 * ww])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::interpolate;
    use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
    use burn::tensor::Distribution;

    #[test]
    fn sub_pixel_final_block_equals_upsample_pad_conv() {
        let device = Device::flex();
        let g = GeneratorConfig::new()
            .with_width(4)
            .with_depth(3)
            .init(&device);
        let h = Tensor::<4>::random([2, 8, 5, 7], Distribution::Default, &device);
        let fast: Vec<f32> = g.upsample_conv(h.clone()).into_data().try_to_vec().unwrap();
        // The reference form: upsample, then the stored 4x4 conv (its padding is the
        // folded asymmetric one).
        let up = interpolate(
            h,
            InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([10, 14]),
        );
        let slow: Vec<f32> = g.out.forward(up).into_data().try_to_vec().unwrap();
        assert_eq!(fast.len(), slow.len());
        let max = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-5, "max difference {max}");
    }
}
