//! Convolutions on burn's flex backend by `im2col`'s tiled GEMMs: the convolutions'
//! forward and weight gradient, and transposed convolutions in training; the
//! convolutions' forward at inference.
//!
//! Burn 0.22 computes a convolution's weight gradient as a further convolution whose
//! *kernel* is the output gradient. For a stride-1 layer on a large image that is a kernel
//! the size of the image with a 3x3 output, which flex runs on its direct, non-GEMM path:
//! the generator's final 3x3 layer (sub-pixel form) took 0.78 s of a 2.1 s training step
//! at width 32, 256x256, batch 4; about 0.02 s here. Strided layers fare better in burn,
//! but the tiles still win (the discriminator's first three layers 1.2-1.5x; `mmgan bench
//! model --profile`).
//!
//! The networks' convolutions call [`conv2d`] (or [`conv2d_module`], [`conv2d_same`],
//! [`conv_transpose2d_module`]). On tensors of an autodiff flex device [`conv2d`]
//! records a custom autodiff op: the forward pass by the tiles, the input gradient as
//! burn runs it (stride-1 layers: as a tiled convolution of the output gradient), the
//! weight gradient by the tiles. (The small strided layers, with under 4,096 output
//! pixels over the batch, once took burn's forward and weight gradient, which measured
//! faster per layer than the tiles of the time; burn's forward ran their GEMMs on one
//! thread. Their tiled forward made the width-32 step 8-13 % faster, then their tiled
//! weight gradient 2.5 % more: `mmgan bench model --step-only`, alternating, ten rounds.)
//! (The strided layers' input gradient by the tiles, `im2col::transposed` of the output
//! gradient, was measured: no faster in the width-32 step, 1090 / 1053 / 1066 ms against
//! burn's 1079 / 1061 / 1027, alternating, and slower per layer, 36 + 104 ms against
//! 33 + 89 ms for the generator's and the discriminator's strided layers. As one
//! stride-1 convolution of the output gradient per stride phase, the sub-kernel of taps
//! `r, r + s, ...` flipped, it was slower again: step 834 / 868 ms against 795 / 819,
//! alternating; the discriminator's layers 36 / 32 / 28 ms against burn's 22 / 29 / 19,
//! since four phases gather the output gradient 16 times over.) Transposed
//! convolutions take all three passes from the tiles (`transposed`). On a plain flex
//! device (inference: the viewer, `synthesize`, `eval`) the convolutions are `im2col`'s
//! GEMMs, read straight from burn's buffers, and the transposed ones burn's op (faster
//! there, per layer and in the whole forward): the generator's forward 1.2-1.6x faster
//! than burn's ops (`mmgan bench model` times both; `--profile` each layer). Anything else
//! (wgpu, groups or dilation) is burn's op, results untouched. The tiles' forward inside
//! the training step was measured no faster than burn's twice before gemm's AVX-512
//! kernels were on, and 4-5 % of the step faster after (1068 / 1102 / 1089 ms against 1020 / 1058 / 1038, alternating). Only
//! burn's public extension API is used, so this can move upstream as flex's convolution
//! kernels.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};

use super::im2col::{self, ConvShape};

mod transposed;
pub use transposed::conv_transpose2d_module;

/// `conv2d` as burn's `burn::tensor::module::conv2d`: the tiled forward and the custom
/// op on flex (groups 1, dilation 1; anything else goes to burn's op).
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let shape = shape_of(x.dims(), weight.dims(), &options);
    let simple = options.groups == 1 && options.dilation == [1, 1] && !burn_ops_only();
    if let (true, Some(xp), Some(wp)) = (simple, plain_flex(&x), plain_flex(&weight)) {
        let y = Tensor::from_primitive::<Flex>(tiled_forward(&xp, &wp, &shape));
        return add_bias(y, bias);
    }
    // Every simple layer, the small strided ones too: burn's forward ran their GEMMs on
    // one thread.
    match simple.then(|| autodiff_flex(&x, &weight)).flatten() {
        Some((x, w)) => add_bias(record(x, w, options, &shape), bias),
        None => burn::tensor::module::conv2d(x, weight, bias, options),
    }
}

/// The module `c` applied as its own `forward` does (its stride, dilation, groups and
/// explicit or valid padding), through [`conv2d`]. "Same" padding, which the networks do
/// not use, goes to the module itself.
pub fn conv2d_module(c: &burn::nn::conv::Conv2d, x: Tensor<4>) -> Tensor<4> {
    use burn::nn::PaddingConfig2d;
    let padding = match c.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => return c.forward(x),
    };
    conv2d(
        x,
        c.weight.val(),
        c.bias.as_ref().map(|b| b.val()),
        ConvOptions::new_with_padding(c.stride, padding, c.dilation, c.groups),
    )
}

/// The layer `c` (odd square kernel, stride 1) applied with "same" padding through
/// [`conv2d`], so its weight gradient on the CPU is the tiled one (MM-Synthesis's and
/// pGAN's layers).
pub fn conv2d_same(c: &burn::nn::conv::Conv2d, x: Tensor<4>) -> Tensor<4> {
    let pad = c.weight.dims()[2] / 2;
    conv2d(
        x,
        c.weight.val(),
        c.bias.as_ref().map(|b| b.val()),
        ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
    )
}

/// `t`'s primitive when it lives on a flex device without autodiff (a shared handle, no
/// copy).
pub(crate) fn plain_flex<const D: usize>(t: &Tensor<D>) -> Option<FloatTensor<Flex>> {
    t.clone().try_into_primitive::<Flex>().ok()
}

/// A rank-`D` flex tensor's values in row-major order: its own buffer when contiguous
/// (the weights are 217 MB at width 64, too much to copy per layer), else a copy (a
/// permuted view, as burn's gradients of transposed convolutions are).
pub(crate) fn values<const D: usize>(t: &FloatTensor<Flex>) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(v) => std::borrow::Cow::Borrowed(v),
        None => std::borrow::Cow::Owned(
            Tensor::<D>::from_primitive::<Flex>(t.clone())
                .into_data()
                .try_into_vec::<f32>()
                .expect("flex runs the networks in f32"),
        ),
    }
}

/// Set: every convolution and instance norm runs burn's own ops (the networks as they
/// were before this module and [`super::flex_norm`]), so that `mmgan bench model` times
/// both in one run. Never set elsewhere.
static BURN_OPS_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Run every convolution and norm by burn's own ops (`true`) or take the fast paths
/// (`false`, the default); for benchmarks only.
pub fn set_burn_ops_only(on: bool) {
    BURN_OPS_ONLY.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn burn_ops_only() -> bool {
    BURN_OPS_ONLY.load(std::sync::atomic::Ordering::Relaxed)
}

/// `v` (row-major) as a plain flex tensor of shape `dims`: the inverse of [`values`].
pub(crate) fn from_values<const D: usize>(v: Vec<f32>, dims: [usize; D]) -> FloatTensor<Flex> {
    Tensor::<D>::from_data(TensorData::new(v, dims), &burn::tensor::Device::flex())
        .try_into_primitive::<Flex>()
        .expect("a flex tensor stays on flex")
}

pub(crate) type AdTensor = FloatTensor<Autodiff<Flex>>;

/// `t`'s primitive when it lives on an autodiff flex device.
pub(crate) fn autodiff_primitive<const D: usize>(t: &Tensor<D>) -> Option<AdTensor> {
    t.clone().try_into_primitive::<Autodiff<Flex>>().ok()
}

/// Both tensors as autodiff flex primitives, or `None` when either lives elsewhere.
fn autodiff_flex(x: &Tensor<4>, w: &Tensor<4>) -> Option<(AdTensor, AdTensor)> {
    Some((autodiff_primitive(x)?, autodiff_primitive(w)?))
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
            let x_dims = Tensor::<4>::from_primitive::<Flex>(x.clone()).dims();
            let dx = stride1_input_grad(x_dims, &w, &grad, &options).unwrap_or_else(|| {
                Flex::conv2d_x_backward(x.clone(), w.clone(), grad.clone(), options.clone())
            });
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

/// The input gradient of a stride-1 convolution of an `x_dims` input by `w`, from the
/// output gradient `dy`: itself a stride-1 convolution, of `dy` by the kernel flipped in
/// both axes with its input and output channels swapped, padded by `k - 1 - p` before,
/// run by the tiles. `None` for strided layers and for padding wider than the kernel,
/// which keep burn's op. On the generator's last 3x3 layer burn's op took 2.7x the
/// tiled forward (`mmgan bench model --profile`).
fn stride1_input_grad(
    x_dims: [usize; 4],
    w: &FloatTensor<Flex>,
    dy: &FloatTensor<Flex>,
    options: &ConvOptions<2>,
) -> Option<FloatTensor<Flex>> {
    let [o, c, k0, k1] = Tensor::<4>::from_primitive::<Flex>(w.clone()).dims();
    let [p0, p1] = options.padding.map(|(begin, _)| begin);
    if options.stride != [1, 1] || p0 >= k0 || p1 >= k1 {
        return None;
    }
    let [b, _, h, wd] = Tensor::<4>::from_primitive::<Flex>(dy.clone()).dims();
    let weight = values::<4>(w);
    let mut flipped = vec![0f32; weight.len()];
    for (n, &v) in weight.iter().enumerate() {
        let (oo, cc, i, j) = (n / (c * k0 * k1), n / (k0 * k1) % c, n / k1 % k0, n % k1);
        flipped[((cc * o + oo) * k0 + k0 - 1 - i) * k1 + k1 - 1 - j] = v;
    }
    let shape = ConvShape {
        batch: b,
        channels: o,
        in_hw: [h, wd],
        out_channels: c,
        out_hw: [x_dims[2], x_dims[3]],
        kernel: [k0, k1],
        stride: [1, 1],
        pad_begin: [k0 - 1 - p0, k1 - 1 - p1],
    };
    Some(from_values(
        im2col::forward(&values::<4>(dy), &flipped, &shape),
        x_dims,
    ))
}

/// The input gradient of a stride-1 convolution as training computes it, on plain flex
/// tensors (`None` where training takes burn's op). Public for `mmgan bench model
/// --profile`.
pub fn stride1_conv_input_grad(
    x_dims: [usize; 4],
    w: &Tensor<4>,
    dy: &Tensor<4>,
    options: &ConvOptions<2>,
) -> Option<Tensor<4>> {
    let dx = stride1_input_grad(x_dims, &plain_flex(w)?, &plain_flex(dy)?, options)?;
    Some(Tensor::from_primitive::<Flex>(dx))
}

/// The convolution `shape` of `x` by `w` (plain flex primitives), no bias, by
/// [`im2col::forward`]: at inference, and as the training op's forward (4-5 % of the
/// width-32 step faster than burn's op there, three alternating runs).
fn tiled_forward(
    x: &FloatTensor<Flex>,
    w: &FloatTensor<Flex>,
    shape: &ConvShape,
) -> FloatTensor<Flex> {
    let y = im2col::forward(&values::<4>(x), &values::<4>(w), shape);
    from_values(
        y,
        [
            shape.batch,
            shape.out_channels,
            shape.out_hw[0],
            shape.out_hw[1],
        ],
    )
}

/// Record the layer on the autodiff graph (or just run it when nothing needs a gradient).
fn record(x: AdTensor, w: AdTensor, options: ConvOptions<2>, shape: &ConvShape) -> Tensor<4> {
    let y = tiled_forward(x.primitive(), w.primitive(), shape);
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

/// The shapes of a convolution of input `x` by kernel `w` (groups 1, dilation 1).
fn shape_of(x: [usize; 4], w: [usize; 4], options: &ConvOptions<2>) -> ConvShape {
    let out = |a: usize| {
        let (begin, end) = options.padding[a];
        (x[2 + a] + begin + end).saturating_sub(w[2 + a]) / options.stride[a] + 1
    };
    ConvShape {
        batch: x[0],
        channels: x[1],
        in_hw: [x[2], x[3]],
        out_channels: w[0],
        out_hw: [out(0), out(1)],
        kernel: [w[2], w[3]],
        stride: options.stride,
        pad_begin: options.padding.map(|(begin, _)| begin),
    }
}

/// The weight gradient of a convolution with kernel `k`: `dW[o, c, i, j]` is the sum over
/// b, y, x of `dy[b, o, y, x] * xpad[b, c, y*s + i, x*s + j]` (`x` and `dy` on a plain
/// flex device), by `im2col::weight_grad`'s tiled GEMMs. Public for `mmgan bench model
/// --profile`.
pub fn conv2d_weight_grad(
    x: Tensor<4>,
    dy: Tensor<4>,
    k: [usize; 2],
    options: &ConvOptions<2>,
) -> Tensor<4> {
    let [_, channels, _, _] = x.dims();
    let [_, out_channels, h, w] = dy.dims();
    // The kernel's shape is all the shape needs of the weights.
    let shape = ConvShape {
        out_hw: [h, w],
        ..shape_of(x.dims(), [out_channels, channels, k[0], k[1]], options)
    };
    let device = x.device();
    // Borrowed where contiguous: `into_data` copied the layer's whole input on one thread.
    let (x, dy) = (
        plain_flex(&x).expect("the weight gradient runs on plain flex"),
        plain_flex(&dy).expect("the weight gradient runs on plain flex"),
    );
    let dw = im2col::weight_grad(&values::<4>(&x), &values::<4>(&dy), &shape);
    Tensor::from_data(
        TensorData::new(dw, [out_channels, channels, k[0], k[1]]),
        &device,
    )
}

#[cfg(test)]
pub(crate) mod tests;
