//! Transposed convolutions (the decoders' up layers) on flex by [`im2col`]'s GEMMs.
//!
//! A transposed convolution is the input gradient of the convolution `s` it transposes,
//! so all three of its passes are kernels [`im2col`] already has: the forward is
//! [`im2col::transposed`], the input gradient is `s` itself ([`im2col::forward`] of the
//! output gradient), and the weight gradient is `s`'s weight gradient with the roles of
//! input and output gradient swapped ([`im2col::weight_grad`] of the output gradient and
//! the input). On a plain flex device the forward runs alone (inference); on an autodiff
//! flex device the layer is recorded as one custom op with that backward, where burn
//! runs the forward as a scatter and the backward as two further convolutions.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Device, Tensor, TensorData};

use super::{add_bias, burn_ops_only, plain_flex, values};
use crate::model::im2col::{self, ConvShape};

/// The module `c` applied as its own `forward` does: on flex (plain or autodiff) by
/// [`im2col`]'s GEMMs, elsewhere (wgpu, groups, dilation) by burn's op.
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
    if let (Some(xp), Some(wp)) = (plain_flex(&x), plain_flex(&weight)) {
        let y = flex(
            im2col::transposed(&values::<4>(&xp), &values::<4>(&wp), &shape),
            &shape,
        );
        return add_bias(Tensor::from_primitive::<Flex>(y), bias);
    }
    let ad = |t: &Tensor<4>| t.clone().try_into_primitive::<Autodiff<Flex>>().ok();
    match (ad(&x), ad(&weight)) {
        (Some(x), Some(w)) => add_bias(record(x, w, shape), bias),
        _ => c.forward(x),
    }
}

/// The result of the transposed convolution (`s`'s input shape) as a plain flex tensor.
fn flex(v: Vec<f32>, s: &ConvShape) -> FloatTensor<Flex> {
    let dims = [s.batch, s.channels, s.in_hw[0], s.in_hw[1]];
    tensor(v, dims)
}

fn tensor(v: Vec<f32>, dims: [usize; 4]) -> FloatTensor<Flex> {
    Tensor::<4>::from_data(TensorData::new(v, dims), &Device::flex())
        .try_into_primitive::<Flex>()
        .expect("a flex tensor stays on flex")
}

type AdTensor = FloatTensor<Autodiff<Flex>>;

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
            grads.register::<Flex>(node.id, tensor(dx, dims));
        }
        if let Some(node) = node_w {
            let dw = im2col::weight_grad(&dy, &values::<4>(&x), &s);
            let dims = [s.out_channels, s.channels, s.kernel[0], s.kernel[1]];
            grads.register::<Flex>(node.id, tensor(dw, dims));
        }
    }
}

/// Run the layer and record it on the autodiff graph (or just run it when nothing needs
/// a gradient).
fn record(x: AdTensor, w: AdTensor, s: ConvShape) -> Tensor<4> {
    let (xp, wp) = (x.primitive().clone(), w.primitive().clone());
    let y = flex(
        im2col::transposed(&values::<4>(&xp), &values::<4>(&wp), &s),
        &s,
    );
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
