//! Transposed convolutions (the decoders' up layers) on flex by [`im2col`]'s GEMMs.
//!
//! A transposed convolution is the input gradient of the convolution `s` it transposes,
//! so all three of its passes are kernels [`im2col`] already has: the forward is
//! [`im2col::transposed`], the input gradient is `s` itself ([`im2col::forward`] of the
//! output gradient), and the weight gradient is `s`'s weight gradient with the roles of
//! input and output gradient swapped ([`im2col::weight_grad`] of the output gradient and
//! the input). On an autodiff flex device (training) the layer is recorded as one custom
//! op with that backward, where burn runs the forward as a scatter and the backward as
//! two further convolutions. At inference (plain flex) burn's own op runs: one slice's
//! layers measured faster there (`mmgan bench model --profile`, the inference table:
//! width 64's 64x64 layer 14 ms against 31 ms by the tiles, the 2x2 one 3.8 against 7.6),
//! and the forward of width 64 and 32 gained 6-20 % with it.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::Tensor;

use super::{add_bias, autodiff_flex, burn_ops_only, from_values, values, AdTensor};
use crate::model::im2col::{self, ConvShape};

/// The module `c` applied as its own `forward` does: on an autodiff flex device by
/// `im2col`'s GEMMs, elsewhere (plain flex, wgpu, groups, dilation) by burn's op.
pub fn conv_transpose2d_module(c: &burn::nn::conv::ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let weight = c.weight.val();
    let ([b, channels, hin, win], [_, o, k0, k1]) = (x.dims(), weight.dims());
    if c.groups != 1 || c.dilation != [1, 1] || hin * win == 0 || burn_ops_only() {
        return c.forward(x);
    }
    let out = |a: usize, i: usize, k: usize| {
        ((i - 1) * c.stride[a] + k + c.padding_out[a]).saturating_sub(2 * c.padding[a])
    };
    // The convolution this one transposes: from the result's shape back to x's.
    let shape = ConvShape {
        batch: b,
        channels: o,
        in_hw: [out(0, hin, k0), out(1, win, k1)],
        out_channels: channels,
        out_hw: [hin, win],
        kernel: [k0, k1],
        stride: c.stride,
        pad_begin: c.padding,
    };
    let bias = c.bias.as_ref().map(|b| b.val());
    match autodiff_flex(&x, &weight) {
        Some((x, w)) => add_bias(record(x, w, shape), bias),
        None => c.forward(x),
    }
}

/// The transposed convolution of `x` by `w`: `s`'s input shape, as a plain flex tensor.
fn run(x: &FloatTensor<Flex>, w: &FloatTensor<Flex>, s: &ConvShape) -> FloatTensor<Flex> {
    let y = im2col::transposed(&values::<4>(x), &values::<4>(w), s);
    from_values(y, [s.batch, s.channels, s.in_hw[0], s.in_hw[1]])
}

#[derive(Debug)]
struct FastConvTranspose;

impl Backward<Flex, 2> for FastConvTranspose {
    /// The layer's input and weight, and the convolution it transposes.
    type State = (FloatTensor<Flex>, FloatTensor<Flex>, ConvShape);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, w, s) = ops.state;
        let dy = values::<4>(&grad);
        if let Some(node) = node_x {
            let dx = im2col::forward(&dy, &values::<4>(&w), &s);
            let dims = [s.batch, s.out_channels, s.out_hw[0], s.out_hw[1]];
            grads.register::<Flex>(node.id, from_values(dx, dims));
        }
        if let Some(node) = node_w {
            let dw = im2col::weight_grad(&dy, &values::<4>(&x), &s);
            let dims = [s.out_channels, s.channels, s.kernel[0], s.kernel[1]];
            grads.register::<Flex>(node.id, from_values(dw, dims));
        }
    }
}

/// Run the layer and record it on the autodiff graph (or just run it when nothing needs
/// a gradient).
fn record(x: AdTensor, w: AdTensor, s: ConvShape) -> Tensor<4> {
    let (xp, wp) = (x.primitive().clone(), w.primitive().clone());
    let y = run(&xp, &wp, &s);
    let out = match FastConvTranspose
        .prepare::<NoCheckpointing>([x.node(), w.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((xp, wp, s), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(out)
}
