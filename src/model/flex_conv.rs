//! Stride-1 convolutions whose weight gradient is one im2col GEMM on burn's flex backend.
//!
//! Burn 0.22 computes a convolution's weight gradient as a further convolution whose
//! *kernel* is the output gradient. For a stride-2 layer that is a dilated convolution
//! flex runs well; for a stride-1 layer on a large image it is a kernel the size of the
//! image with a 3x3 output, which flex runs on its direct, non-GEMM path: the generator's
//! final 3x3 layer (sub-pixel form) took 0.78 s of a 2.1 s training step at width 32,
//! 256x256, batch 4; 0.10 s here (`mmgan bench model --profile`).
//!
//! The generator's final layer calls [`conv2d`]. On tensors of an autodiff flex device,
//! with stride 1, it records a custom autodiff op: the forward pass and the input gradient
//! exactly as burn runs them, the weight gradient as an unfold view of the padded input,
//! materialised once as an im2col matrix, times the output gradient in one GEMM (flex's
//! matmul). Strided layers keep burn's op (this im2col measured 1.5-2x slower there: the
//! copy costs more than burn's dilated convolution), as does the discriminator's 16x16
//! output layer (slower here too), and so does any tensor elsewhere (wgpu, inference
//! without autodiff): results there are untouched. Only burn's public extension API is
//! used, so this can move upstream as flex's `conv2d_weight_backward` for stride 1.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::Tensor;

/// `conv2d` as burn's `burn::tensor::module::conv2d`, with the fast weight gradient on
/// autodiff flex tensors for stride 1 (groups 1, dilation 1; anything else goes to burn's
/// op).
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let plain = options.groups == 1 && options.dilation == [1, 1] && options.stride == [1, 1];
    match plain.then(|| autodiff_flex(&x, &weight)).flatten() {
        Some((x, w)) => add_bias(record(x, w, options), bias),
        None => burn::tensor::module::conv2d(x, weight, bias, options),
    }
}

/// The layer `c` (odd square kernel, stride 1) applied with "same" padding through
/// [`conv2d`]: its weight gradient is one GEMM on the CPU, 1.3-2.5x faster than burn's
/// at the sizes MM-Synthesis and pGAN use.
pub fn conv2d_same(c: &burn::nn::conv::Conv2d, x: Tensor<4>) -> Tensor<4> {
    let pad = c.weight.dims()[2] / 2;
    conv2d(
        x,
        c.weight.val(),
        c.bias.as_ref().map(|b| b.val()),
        ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
    )
}

type AdTensor = FloatTensor<Autodiff<Flex>>;

/// Both tensors as autodiff flex primitives, or `None` when either lives elsewhere.
fn autodiff_flex(x: &Tensor<4>, w: &Tensor<4>) -> Option<(AdTensor, AdTensor)> {
    let x = x.clone().try_into_primitive::<Autodiff<Flex>>().ok()?;
    let w = w.clone().try_into_primitive::<Autodiff<Flex>>().ok()?;
    Some((x, w))
}

/// A bias through plain tensor ops (their gradient is a cheap sum).
fn add_bias(y: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    match bias {
        Some(b) => {
            let c = b.dims()[0];
            y + b.reshape([1, c, 1, 1])
        }
        None => y,
    }
}

#[derive(Debug)]
struct FastConv;

impl Backward<Flex, 2> for FastConv {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_state, w_state, options) = ops.state;
        let x: FloatTensor<Flex> = checkpointer.retrieve_node_output(x_state);
        let w: FloatTensor<Flex> = checkpointer.retrieve_node_output(w_state);
        if let Some(node) = node_x {
            let dx = Flex::conv2d_x_backward(x.clone(), w.clone(), grad.clone(), options.clone());
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_w {
            let (x, dy) = (
                Tensor::<4>::from_primitive::<Flex>(x),
                Tensor::<4>::from_primitive::<Flex>(grad),
            );
            let k = Tensor::<4>::from_primitive::<Flex>(w).dims();
            let dw = conv2d_weight_grad(x, dy, [k[2], k[3]], &options);
            let dw = dw
                .try_into_primitive::<Flex>()
                .expect("a flex tensor stays on flex");
            grads.register::<Flex>(node.id, dw);
        }
    }
}

/// Record the layer on the autodiff graph (or just run it when nothing needs a gradient).
fn record(x: AdTensor, w: AdTensor, options: ConvOptions<2>) -> Tensor<4> {
    let y = Flex::conv2d(
        x.primitive().clone(),
        w.primitive().clone(),
        None,
        options.clone(),
    );
    let out = match FastConv
        .prepare::<NoCheckpointing>([x.node(), w.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let w_state = prep.checkpoint(&w);
            prep.finish((x_state, w_state, options), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(out)
}

/// The weight gradient of a convolution with a kernel of side `k`: `dW[o, c, i, j]` is
/// the sum over b, y, x of `dy[b, o, y, x] * xpad[b, c, y*s + i, x*s + j]` (`x` and `dy`
/// on a plain flex device): the windows of the padded input for every output pixel, as
/// one im2col copy, and one GEMM with the batch folded into the reduction. Public for
/// `mmgan bench model --profile`.
pub fn conv2d_weight_grad(
    x: Tensor<4>,
    dy: Tensor<4>,
    k: [usize; 2],
    options: &ConvOptions<2>,
) -> Tensor<4> {
    let [b, c, _, _] = x.dims();
    let [_, o, h, w] = dy.dims();
    let (xp, s) = (
        x.pad(options.padding, PadMode::Constant(0.0)),
        options.stride,
    );
    // [b, c, windows_h, windows_w, k0, k1]; padding may leave a window more than dy has.
    let windows: Tensor<6> = xp.unfold::<5, _>(2, k[0], s[0]).unfold(3, k[1], s[1]);
    let windows = windows.slice([0..b, 0..c, 0..h, 0..w, 0..k[0], 0..k[1]]);
    let cols = windows
        .permute([1, 4, 5, 0, 2, 3])
        .reshape([c * k[0] * k[1], b * h * w]);
    let dy = dy.swap_dims(0, 1).reshape([o, b * h * w]);
    dy.matmul(cols.transpose()).reshape([o, c, k[0], k[1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// Max absolute difference, relative to the largest magnitude of `b`.
    fn rel_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        let a: Vec<f32> = a.into_data().try_to_vec().unwrap();
        let b: Vec<f32> = b.into_data().try_to_vec().unwrap();
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
            / scale
    }

    /// Outputs and both gradients of `fast` against `reference` (burn's op), given random
    /// input, weight and output-gradient weighting.
    fn compare(
        x_shape: [usize; 4],
        w_shape: [usize; 4],
        fast: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
        reference: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
    ) {
        let device = Device::flex().autodiff();
        let x0 = Tensor::<4>::random(x_shape, Distribution::Default, &device);
        let w0 = Tensor::<4>::random(w_shape, Distribution::Default, &device);
        // Otherwise both sides would be burn's op and the comparison empty.
        assert!(autodiff_flex(&x0, &w0).is_some(), "the fast path is taken");
        let run = |f: &dyn Fn(Tensor<4>, Tensor<4>) -> Tensor<4>| {
            let (x, w) = (x0.clone().require_grad(), w0.clone().require_grad());
            let y = f(x.clone(), w.clone());
            // An output gradient (sin y + y cos y) that differs per element.
            let grads = (y.clone() * y.clone().sin()).sum().backward();
            (y, x.grad(&grads).unwrap(), w.grad(&grads).unwrap())
        };
        let (y1, dx1, dw1) = run(&fast);
        let (y2, dx2, dw2) = run(&reference);
        assert!(rel_diff(y1, y2) < 1e-4, "forward");
        assert!(rel_diff(dx1, dx2) < 1e-4, "input gradient");
        assert!(rel_diff(dw1, dw2) < 1e-4, "weight gradient");
    }

    #[test]
    fn conv_matches_burn_in_value_and_gradients() {
        // The generator's 3x3 sub-pixel layer, the discriminator's asymmetric-padding
        // output conv, a kernel wider than tall.
        for (x, w, pad) in [
            ([2, 4, 9, 12], [6, 4, 3, 3], [(1, 1), (1, 1)]),
            ([1, 4, 8, 8], [3, 4, 4, 4], [(2, 1), (2, 1)]),
            ([3, 2, 7, 6], [2, 2, 2, 3], [(0, 1), (1, 1)]),
            // MM-Synthesis: a 1x1 projection to the latent, a 3x3 "same" layer.
            ([2, 8, 10, 10], [16, 8, 1, 1], [(0, 0), (0, 0)]),
            ([4, 16, 12, 12], [8, 16, 3, 3], [(1, 1), (1, 1)]),
        ] {
            let o = ConvOptions::new_with_padding([1, 1], pad, [1, 1], 1);
            compare(
                x,
                w,
                |x, w| conv2d(x, w, None, o.clone()),
                |x, w| burn::tensor::module::conv2d(x, w, None, o.clone()),
            );
        }
    }

    #[test]
    fn bias_and_other_devices_take_the_same_values() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Default, &device);
        let w = Tensor::<4>::random([4, 3, 3, 3], Distribution::Default, &device);
        let b = Tensor::<1>::random([4], Distribution::Default, &device);
        let o = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        // Not autodiff: burn's own op.
        assert!(autodiff_flex(&x, &w).is_none());
        let plain = conv2d(x.clone(), w.clone(), Some(b.clone()), o.clone());
        let ad = Device::flex().autodiff();
        let (xa, wa, ba) = (
            Tensor::<4>::from_data(x.into_data(), &ad),
            Tensor::<4>::from_data(w.into_data(), &ad),
            Tensor::<1>::from_data(b.into_data(), &ad),
        );
        let fast = conv2d(xa, wa, Some(ba), o);
        let fast = Tensor::<4>::from_data(fast.into_data(), &device);
        assert!(rel_diff(fast, plain) < 1e-5);
    }
}
