use super::*;
use burn::tensor::{Device, Distribution};

/// Max absolute difference, relative to the largest magnitude of `b`.
pub(crate) fn rel_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
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
    // Strided layers: MM-GAN's 4x4 stride-2 pad-1 down layer, an odd input with a stride
    // per axis, a stride wider than the kernel (pixels no tap reads get a zero gradient).
    for (x, w, stride, pad) in [
        ([4, 3, 64, 64], [5, 3, 4, 4], [2, 2], [(1, 1), (1, 1)]),
        ([2, 2, 129, 97], [3, 2, 3, 4], [2, 1], [(1, 0), (0, 2)]),
        ([4, 2, 130, 131], [3, 2, 2, 2], [3, 3], [(0, 0), (1, 0)]),
    ] {
        let o = ConvOptions::new_with_padding(stride, pad, [1, 1], 1);
        compare(
            x,
            w,
            |x, w| conv2d(x, w, None, o.clone()),
            |x, w| burn::tensor::module::conv2d(x, w, None, o.clone()),
        );
    }
}

#[test]
fn small_strided_layers_match_burn_in_value_and_gradients() {
    // The generator's inner down layers: a few pixels over the batch, down to one.
    for (x, w) in [([4, 8, 16, 16], [6, 8, 4, 4]), ([2, 5, 2, 2], [3, 5, 4, 4])] {
        let o = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
        compare(
            x,
            w,
            |x, w| conv2d(x, w, None, o.clone()),
            |x, w| burn::tensor::module::conv2d(x, w, None, o.clone()),
        );
    }
}

#[test]
fn a_module_through_conv2d_module_gives_its_own_forward() {
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::PaddingConfig2d;
    // The discriminator's output layer (top, left, bottom, right = 2, 2, 1, 1), a
    // strided down layer with a bias, a valid 3x3: plain and autodiff flex.
    for (config, x) in [
        (
            Conv2dConfig::new([3, 2], [4, 4]).with_padding(PaddingConfig2d::Explicit(2, 2, 1, 1)),
            [2, 3, 16, 16],
        ),
        (
            Conv2dConfig::new([3, 5], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            [4, 3, 64, 64],
        ),
        (Conv2dConfig::new([2, 4], [3, 3]), [1, 2, 9, 7]),
    ] {
        for device in [Device::flex(), Device::flex().autodiff()] {
            let c = config.init(&device);
            let x = Tensor::<4>::random(x, Distribution::Default, &device);
            let ours = conv2d_module(&c, x.clone());
            let theirs = c.forward(x);
            assert_eq!(ours.dims(), theirs.dims());
            assert!(rel_diff(ours, theirs) < 1e-5, "{config:?}");
        }
    }
}

#[test]
fn transposed_layers_match_burn_in_value_and_gradients() {
    use burn::module::Param;
    use burn::nn::conv::ConvTranspose2dConfig;
    // MM-GAN's up layer (from the 1x1 bottleneck too), pGAN's (output padding 1), a stride
    // per axis with a kernel wider than tall.
    for (x, w, stride, pad, pad_out) in [
        ([2, 6, 8, 8], [6, 4, 4, 4], [2, 2], [1, 1], [0, 0]),
        ([4, 6, 1, 1], [6, 3, 4, 4], [2, 2], [1, 1], [0, 0]),
        ([2, 3, 7, 9], [3, 5, 3, 3], [2, 2], [1, 1], [1, 1]),
        ([1, 2, 5, 4], [2, 3, 2, 3], [1, 2], [0, 1], [0, 0]),
    ] {
        let config = ConvTranspose2dConfig::new([w[0], w[1]], [w[2], w[3]])
            .with_stride(stride)
            .with_padding(pad)
            .with_padding_out(pad_out)
            .with_bias(false);
        let layer = |w: Tensor<4>| {
            let mut c = config.init(&w.device());
            c.weight = Param::from_tensor(w);
            c
        };
        compare(
            x,
            w,
            |x, w| conv_transpose2d_module(&layer(w), x),
            |x, w| layer(w).forward(x),
        );
    }
}

#[test]
fn transposed_modules_through_the_gemm_give_their_own_forward() {
    use burn::nn::conv::ConvTranspose2dConfig;
    // MM-GAN's up layer (4x4 stride 2 pad 1, no bias; from the 1x1 bottleneck too),
    // pGAN's (3x3 stride 2 pad 1, output padding 1, bias), a stride per axis. On the
    // training device, where the GEMM forward runs (inference takes burn's op), and on
    // the plain one.
    for (config, x) in [
        (
            ConvTranspose2dConfig::new([6, 4], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_bias(false),
            [2, 6, 8, 8],
        ),
        (
            ConvTranspose2dConfig::new([6, 4], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_bias(false),
            [1, 6, 1, 1],
        ),
        (
            ConvTranspose2dConfig::new([3, 5], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([1, 1]),
            [2, 3, 7, 9],
        ),
        (
            ConvTranspose2dConfig::new([2, 3], [2, 3]).with_stride([1, 2]),
            [1, 2, 5, 4],
        ),
    ] {
        for device in [Device::flex().autodiff(), Device::flex()] {
            let c = config.init(&device);
            let x = Tensor::<4>::random(x, Distribution::Default, &device);
            let ours = conv_transpose2d_module(&c, x.clone());
            let theirs = c.forward(x);
            assert_eq!(ours.dims(), theirs.dims(), "{config:?}");
            assert!(rel_diff(ours, theirs) < 1e-5, "{config:?}");
        }
    }
}

#[test]
fn bias_and_other_devices_take_the_same_values() {
    let device = Device::flex();
    let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Default, &device);
    let w = Tensor::<4>::random([4, 3, 3, 3], Distribution::Default, &device);
    let b = Tensor::<1>::random([4], Distribution::Default, &device);
    let o = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    // Plain flex: the inference path; autodiff flex: the training op. Each adds the bias.
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
