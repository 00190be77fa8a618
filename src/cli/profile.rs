//! `mmgan bench model --profile`: where a training step's time goes, per operation.
//!
//! Each convolution of the generator and the discriminator at the training configuration
//! is run as a step runs it: the forward pass, the gradient of the input and the gradient
//! of the weights, each timed alone (median) with the tensors it takes, through the ops
//! autodiff calls (`conv_transpose2d` for a strided convolution's input gradient, the
//! tiles for a stride-1 one's, `conv2d` for a transposed convolution's). The weight
//! gradient as burn computes it (a convolution whose kernel is the output gradient) and,
//! for the layers the step runs through
//! [`mmgan::model::flex_conv`], by its tiled im2col GEMMs; a transposed layer's forward
//! and input gradient as the step runs them, by the tiles. Then every instance norm
//! (with its activation), forward and backward together, fused
//! ([`mmgan::model::flex_norm`]) and by burn's ops. And the generator's forward at
//! inference (one slice, plain flex), per layer as it runs there and by burn's own op.

use burn::module::Param;
use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::InstanceNormConfig;
use burn::tensor::module::{conv2d, conv_transpose2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};
use mmgan::model::flex_norm::{instance_norm, Activation};
use mmgan::model::{flex_conv, DiscriminatorConfig, GeneratorConfig};

use super::bench::time_median;

/// One convolution layer of a network as a step runs it.
#[derive(Debug, Clone, Copy)]
struct Layer {
    what: &'static str,
    transposed: bool,
    batch: usize,
    c_in: usize,
    c_out: usize,
    /// Input side (square maps).
    side: usize,
    kernel: usize,
    stride: usize,
    /// Padding (begin, end) of both spatial dimensions; symmetric for a transposed layer.
    padding: (usize, usize),
}

impl Layer {
    fn out_side(&self) -> usize {
        let (b, e) = self.padding;
        if self.transposed {
            (self.side - 1) * self.stride + self.kernel - b - e
        } else {
            (self.side + b + e - self.kernel) / self.stride + 1
        }
    }
}

/// The convolution layers of one training step: the generator's (batch `b`) and the
/// discriminator's at batch `3b`: it scores the fake for the generator's loss (`b`) and
/// real and fake pairs in one batch for its own (`2b`).
fn layers(g: &GeneratorConfig, d: &DiscriminatorConfig, side: usize, b: usize) -> Vec<Layer> {
    let mut out = Vec::new();
    let mut s = side;
    for i in 0..g.depth {
        let (c_in, c_out) = g.down_channels(i);
        out.push(Layer {
            what: "G conv",
            transposed: false,
            batch: b,
            c_in,
            c_out,
            side: s,
            kernel: 4,
            stride: 2,
            padding: (1, 1),
        });
        s /= 2;
    }
    for j in 0..g.depth - 1 {
        let (level, c_in, c_out) = g.up_block(j);
        out.push(Layer {
            what: "G transposed conv",
            transposed: true,
            batch: b,
            c_in,
            c_out,
            side: side >> (level + 2),
            kernel: 4,
            stride: 2,
            padding: (1, 1),
        });
    }
    // The final block in its sub-pixel form: a 3x3 conv to 4 phases per channel.
    out.push(Layer {
        what: "G out conv (3x3)",
        transposed: false,
        batch: b,
        c_in: 2 * g.level_width(0),
        c_out: 4 * g.channels,
        side: side / 2,
        kernel: 3,
        stride: 1,
        padding: (1, 1),
    });
    let widths = d.block_widths();
    let mut s = side;
    for (i, &w) in widths.iter().enumerate() {
        out.push(Layer {
            what: "D conv",
            transposed: false,
            batch: 3 * b,
            c_in: if i == 0 {
                2 * d.channels
            } else {
                widths[i - 1]
            },
            c_out: w,
            side: s,
            kernel: 4,
            stride: 2,
            padding: (1, 1),
        });
        s /= 2;
    }
    // ZeroPad2d((1, 0, 1, 0)) + a pad-1 4x4 conv, folded into one asymmetric padding.
    out.push(Layer {
        what: "D out conv",
        transposed: false,
        batch: 3 * b,
        c_in: widths[3],
        c_out: d.channels,
        side: s,
        kernel: 4,
        stride: 1,
        padding: (2, 1),
    });
    out
}

/// Median times in seconds: forward, input gradient, weight gradient (burn's), weight
/// gradient as the step computes it (flex_conv's where it applies, else burn's).
fn time_layer(l: &Layer, runs: usize, device: &Device) -> [f64; 4] {
    let rand = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Default, device);
    let x = rand([l.batch, l.c_in, l.side, l.side]);
    let o = l.out_side();
    let dy = rand([l.batch, l.c_out, o, o]);
    let (k, s, (p, pe)) = (l.kernel, l.stride, l.padding);
    let sync = |t: Tensor<4>| std::hint::black_box(t.into_data());
    if l.transposed {
        let w = rand([l.c_in, l.c_out, k, k]);
        debug_assert_eq!(p, pe, "a transposed layer pads symmetrically");
        let layer = ConvTranspose2dConfig::new([l.c_in, l.c_out], [k, k])
            .with_stride([s, s])
            .with_padding([p, p])
            .with_bias(false)
            .init(device);
        let layer = ConvTranspose2d {
            weight: Param::from_tensor(w.clone()),
            ..layer
        };
        let transposes = ConvOptions::new([s, s], [p, p], [1, 1], 1);
        // The step's three passes by flex_conv's tiles: the forward, the input gradient
        // (the convolution this layer transposes), the weight gradient (that
        // convolution's, input and output gradient swapped).
        let fwd = time_median(runs, || {
            sync(flex_conv::conv_transpose2d_module(&layer, x.clone()));
        });
        let dx = time_median(runs, || {
            sync(flex_conv::conv2d(
                dy.clone(),
                w.clone(),
                None,
                transposes.clone(),
            ));
        });
        // As burn's autodiff computes it: a convolution of the output gradient by the input.
        let dw = time_median(runs, || {
            sync(
                conv2d(
                    dy.clone().swap_dims(0, 1),
                    x.clone().swap_dims(0, 1),
                    None,
                    ConvOptions::new([1, 1], [p, p], [s, s], 1),
                )
                .swap_dims(0, 1),
            );
        });
        let ours = time_median(runs, || {
            sync(flex_conv::conv2d_weight_grad(
                dy.clone(),
                x.clone(),
                [k, k],
                &transposes,
            ));
        });
        [fwd, dx, dw, ours]
    } else {
        let w = rand([l.c_out, l.c_in, k, k]);
        let opts = ConvOptions::new_with_padding([s, s], [(p, pe); 2], [1, 1], 1);
        // As the step runs it: by the tiles.
        let fwd = time_median(runs, || {
            sync(flex_conv::conv2d(x.clone(), w.clone(), None, opts.clone()));
        });
        // The input gradient as the step runs it: stride-1 layers by the tiles, else
        // burn's, a transposed convolution of the output gradient (with asymmetric
        // padding, on an input padded to symmetric first; timed symmetric).
        let pad_out = (l.side + p + pe - k) % s;
        let x_dims = x.dims();
        let dx = time_median(runs, || {
            match flex_conv::stride1_conv_input_grad(x_dims, &w, &dy, &opts) {
                Some(dx) => sync(dx),
                None => sync(conv_transpose2d(
                    dy.clone(),
                    w.clone(),
                    None,
                    ConvTransposeOptions::new([s, s], [p, p], [pad_out, pad_out], [1, 1], 1),
                )),
            };
        });
        let dw = time_median(runs, || {
            sync(burn::tensor::module::conv2d_weight_backward(
                x.clone(),
                w.clone(),
                dy.clone(),
                opts.clone(),
            ));
        });
        let ours = time_median(runs, || {
            sync(flex_conv::conv2d_weight_grad(
                x.clone(),
                dy.clone(),
                [k, k],
                &opts,
            ));
        });
        [fwd, dx, dw, ours]
    }
}

/// The feature maps [batch, channels, side, side] the instance norms of one step take,
/// with the activation after each: the generator's inner down blocks (LeakyReLU) and every
/// up block (ReLU) (batch `b`), the discriminator's last three blocks (LeakyReLU; `3b`, as
/// its convolutions).
fn norm_maps(
    g: &GeneratorConfig,
    d: &DiscriminatorConfig,
    side: usize,
    b: usize,
) -> Vec<(&'static str, [usize; 4], Activation)> {
    let leaky = Activation::LeakyRelu(0.2);
    let mut out = Vec::new();
    for i in 1..g.depth - 1 {
        out.push((
            "G down",
            [b, g.down_channels(i).1, side >> (i + 1), side >> (i + 1)],
            leaky,
        ));
    }
    for j in 0..g.depth - 1 {
        let (level, _, c) = g.up_block(j);
        out.push((
            "G up",
            [b, c, side >> (level + 1), side >> (level + 1)],
            Activation::Relu,
        ));
    }
    for (i, &w) in d.block_widths().iter().enumerate().skip(1) {
        out.push(("D", [3 * b, w, side >> (i + 1), side >> (i + 1)], leaky));
    }
    out
}

/// Median seconds of one norm (with its activation) forward and backward on an autodiff
/// device: fused, then by burn's ops.
fn time_norm(dims: [usize; 4], act: Activation, runs: usize, device: &Device) -> [f64; 2] {
    let ad = device.clone().autodiff();
    let norm = InstanceNormConfig::new(dims[1])
        .with_affine(false)
        .init(&ad);
    let x = Tensor::<4>::random(dims, Distribution::Default, &ad);
    // An output gradient as the step's (dense, one value per element), not a broadcast one.
    let dy = Tensor::<4>::random(dims, Distribution::Default, &ad);
    let once = || {
        let x = x.clone().require_grad();
        let y = instance_norm(&norm, x.clone(), act);
        let grads = (y * dy.clone()).sum().backward();
        std::hint::black_box(x.grad(&grads).map(|g| g.into_data()));
    };
    let fused = time_median(runs, once);
    flex_conv::set_burn_ops_only(true);
    let burn = time_median(runs, once);
    flex_conv::set_burn_ops_only(false);
    [fused, burn]
}

/// Print the per-operation profile of a training step at this configuration.
pub fn print(
    g: &GeneratorConfig,
    d: &DiscriminatorConfig,
    side: usize,
    batch: usize,
    runs: usize,
    device: &Device,
    step: f64,
) {
    println!(
        "\nper-operation profile of one training step (width {}, {side}x{side}, batch {batch}), median of {runs}:",
        g.width
    );
    let head = "| forward, as the step runs it | input grad, as the step runs it | weight grad, burn | weight grad, as the step runs it |";
    println!("| layer | input {head}");
    println!("|---|---|---|---|---|---|");
    let ms = |v: [f64; 4], digits: usize| v.map(|t| format!("{:.digits$} ms", t * 1e3)).join(" | ");
    let mut totals: Vec<(&str, [f64; 4])> = Vec::new();
    for l in layers(g, d, side, batch) {
        let t = time_layer(&l, runs, device);
        println!(
            "| {} {}->{} k{} s{} | {}x{}x{}x{} | {} |",
            l.what,
            l.c_in,
            l.c_out,
            l.kernel,
            l.stride,
            l.batch,
            l.c_in,
            l.side,
            l.side,
            ms(t, 1)
        );
        match totals.iter_mut().find(|(w, _)| *w == l.what) {
            Some((_, sum)) => (0..4).for_each(|i| sum[i] += t[i]),
            None => totals.push((l.what, t)),
        }
    }
    let mut all = [0.0; 4];
    println!("| kind | {head}");
    println!("|---|---|---|---|---|");
    for (what, t) in &totals {
        println!("| {what} | {} |", ms(*t, 0));
        (0..4).for_each(|i| all[i] += t[i]);
    }
    println!("| instance norm + activation, forward and backward | map | fused | burn's ops |");
    println!("|---|---|---|---|");
    let mut norms = [0.0; 2];
    for (what, dims, act) in norm_maps(g, d, side, batch) {
        let t = time_norm(dims, act, runs, device);
        println!(
            "| {what} | {}x{}x{}x{} | {:.1} ms | {:.1} ms |",
            dims[0],
            dims[1],
            dims[2],
            dims[3],
            t[0] * 1e3,
            t[1] * 1e3
        );
        (0..2).for_each(|i| norms[i] += t[i]);
    }
    println!(
        "instance norms: {:.0} ms fused, {:.0} ms by burn's ops",
        norms[0] * 1e3,
        norms[1] * 1e3
    );
    let convs = all[0] + all[1] + all[3];
    println!(
        "convolutions as the step runs them: {:.0} ms of the {:.0} ms step ({:.0} %): forward {:.0}, input grad {:.0}, weight grad {:.0} ms (burn's weight grad: {:.0} ms)",
        convs * 1e3,
        step * 1e3,
        100.0 * convs / step,
        all[0] * 1e3,
        all[1] * 1e3,
        all[3] * 1e3,
        all[2] * 1e3
    );
}

/// Median seconds of one generator layer at inference (batch 1 on plain flex): as the
/// forward runs it (flex_conv's tiles), then by burn's own op.
fn time_inference_layer(l: &Layer, runs: usize, device: &Device) -> [f64; 2] {
    let rand = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Default, device);
    let x = rand([l.batch, l.c_in, l.side, l.side]);
    let (k, s, (p, pe)) = (l.kernel, l.stride, l.padding);
    let sync = |t: Tensor<4>| std::hint::black_box(t.into_data());
    let run: Box<dyn Fn()> = if l.transposed {
        let layer = ConvTranspose2dConfig::new([l.c_in, l.c_out], [k, k])
            .with_stride([s, s])
            .with_padding([p, p])
            .with_bias(false)
            .init(device);
        Box::new(move || {
            sync(flex_conv::conv_transpose2d_module(&layer, x.clone()));
        })
    } else {
        let w = rand([l.c_out, l.c_in, k, k]);
        let opts = ConvOptions::new_with_padding([s, s], [(p, pe); 2], [1, 1], 1);
        Box::new(move || {
            sync(flex_conv::conv2d(x.clone(), w.clone(), None, opts.clone()));
        })
    };
    let ours = time_median(runs, &run);
    flex_conv::set_burn_ops_only(true);
    let burn = time_median(runs, &run);
    flex_conv::set_burn_ops_only(false);
    [ours, burn]
}

/// Print where the generator's forward of one slice goes at inference: every
/// convolution (as it runs there and by burn's op) and every instance norm with its
/// activation (burn's ops, which inference keeps).
pub fn print_inference(g: &GeneratorConfig, side: usize, runs: usize, device: &Device) {
    println!(
        "\ngenerator forward at inference, per layer (width {}, {side}x{side}, depth {}, one slice), median of {runs}:",
        g.width, g.depth
    );
    println!("| layer | input | as inference runs it | burn's own op |");
    println!("|---|---|---|---|");
    let d = DiscriminatorConfig::new();
    let mut totals = [0.0; 2];
    for l in layers(g, &d, side, 1)
        .iter()
        .filter(|l| l.what.starts_with('G'))
    {
        let t = time_inference_layer(l, runs, device);
        println!(
            "| {} {}->{} k{} s{} | {}x{}x{} | {:.2} ms | {:.2} ms |",
            l.what,
            l.c_in,
            l.c_out,
            l.kernel,
            l.stride,
            l.c_in,
            l.side,
            l.side,
            t[0] * 1e3,
            t[1] * 1e3
        );
        (0..2).for_each(|i| totals[i] += t[i]);
    }
    let mut norms = 0.0;
    for (_, dims, act) in norm_maps(g, &d, side, 1)
        .iter()
        .filter(|(w, _, _)| w.starts_with('G'))
    {
        let norm = InstanceNormConfig::new(dims[1])
            .with_affine(false)
            .init(device);
        let x = Tensor::<4>::random(*dims, Distribution::Default, device);
        norms += time_median(runs, || {
            let y = instance_norm(&norm, x.clone(), *act);
            std::hint::black_box(y.into_data());
        });
    }
    println!(
        "convolutions: {:.1} ms as inference runs them, {:.1} ms by burn's ops; instance norms with their activations: {:.1} ms",
        totals[0] * 1e3,
        totals[1] * 1e3,
        norms * 1e3
    );
}
