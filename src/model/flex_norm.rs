//! Instance norm and the activation after it as one operation on burn's flex backend.
//!
//! Burn 0.22 runs `InstanceNorm` as group norm built from tensor ops: mean, subtract,
//! square, mean, add, sqrt, divide, scale, shift, then the activation, each a pass over
//! the feature map with a fresh buffer, and under autodiff each with its own backward.
//! On an autodiff flex device (training) [`instance_norm`] computes the same function in
//! two passes (statistics, then the normalised, scaled, shifted and activated output) and
//! records one custom op whose backward is two passes too (per-plane sums of the
//! gradient, then the input gradient), with the gradients of the scale and shift from the
//! same sums. Any other device (plain flex at inference, wgpu) runs burn's module and
//! activation, untouched.
//! Only burn's public extension API is used, so this can move upstream as flex's kernel.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::InstanceNorm;
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::flex_conv::{autodiff_primitive, burn_ops_only, from_values, values, AdTensor};
use super::im2col::zeros;

/// What follows the norm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Identity,
    Relu,
    /// Leaky ReLU with this negative slope.
    LeakyRelu(f32),
}

impl Activation {
    /// The slope below zero (1 for the identity).
    pub(crate) fn slope(self) -> f32 {
        match self {
            Activation::Identity => 1.0,
            Activation::Relu => 0.0,
            Activation::LeakyRelu(s) => s,
        }
    }

    pub(crate) fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Activation::Identity => x,
            Activation::Relu => relu(x),
            Activation::LeakyRelu(s) => leaky_relu(x, f64::from(s)),
        }
    }
}

/// `act(norm.forward(x))`: fused on an autodiff flex device (training), burn's ops
/// elsewhere. Inference keeps burn's ops: on a plain flex device they measured faster
/// than the fused kernel (the shipped generator's forward 23-26 ms against 29-33 ms).
pub fn instance_norm(norm: &InstanceNorm, x: Tensor<4>, act: Activation) -> Tensor<4> {
    if !burn_ops_only() {
        if let Some(xa) = autodiff_primitive(&x) {
            let [_, c, _, _] = x.dims();
            let param = |p: &Option<burn::module::Param<Tensor<1>>>, fill: f32| match p {
                Some(p) => p.val(),
                None => Tensor::<1>::full([c], fill, &x.device()),
            };
            let (gamma, beta) = (param(&norm.gamma, 1.0), param(&norm.beta, 0.0));
            if let (Some(ga), Some(ba)) = (autodiff_primitive(&gamma), autodiff_primitive(&beta)) {
                return record(xa, ga, ba, x.dims(), norm.epsilon as f32, act);
            }
        }
    }
    act.apply(norm.forward(x))
}

/// Per channel (scale, shift).
fn affine(gamma: &FloatTensor<Flex>, beta: &FloatTensor<Flex>) -> Vec<[f32; 2]> {
    values::<1>(gamma)
        .iter()
        .zip(values::<1>(beta).iter())
        .map(|(&g, &b)| [g, b])
        .collect()
}

/// Lanes of the sums: eight `f32` accumulators the compiler keeps in one vector register,
/// added up in `f64` at the end (a plane has at most a few tens of thousands of values).
const LANES: usize = 8;

/// `Σ f(x_i)` over a plane, in [`LANES`] lanes.
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut lanes = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest: f64 = chunks.remainder().iter().map(|&v| f64::from(f(v))).sum();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += f(v);
        }
    }
    lanes.iter().map(|&l| f64::from(l)).sum::<f64>() + rest
}

/// `(Σ g_i, Σ g_i · xhat_i)` over a plane, in [`LANES`] lanes.
fn lane_sums2(x: &[f32], dy: &[f32], grad: impl Fn(f32, f32) -> [f32; 2]) -> [f64; 2] {
    let (mut a, mut b) = ([0f32; LANES], [0f32; LANES]);
    let (xs, dys) = (x.chunks_exact(LANES), dy.chunks_exact(LANES));
    let (mut ra, mut rb) = (0f64, 0f64);
    for (&x, &dy) in xs.remainder().iter().zip(dys.remainder()) {
        let [g, gx] = grad(x, dy);
        ra += f64::from(g);
        rb += f64::from(gx);
    }
    for (x, dy) in xs.zip(dys) {
        for i in 0..LANES {
            let [g, gx] = grad(x[i], dy[i]);
            a[i] += g;
            b[i] += gx;
        }
    }
    let total = |l: [f32; LANES]| l.iter().map(|&v| f64::from(v)).sum::<f64>();
    [total(a) + ra, total(b) + rb]
}

/// Per plane (mean, 1 / sqrt(variance + eps)), the biased variance as burn's group norm,
/// in two passes (a one-pass sum of squares cancels badly in `f32`).
fn plane_stats(x: &[f32], eps: f32) -> [f32; 2] {
    let n = x.len() as f64;
    let mean = (lane_sum(x, |v| v) / n) as f32;
    let var = lane_sum(x, |v| (v - mean) * (v - mean)) / n;
    [mean, (1.0 / (var + f64::from(eps)).sqrt()) as f32]
}

/// Planes per parallel task: enough values that a task outweighs its scheduling.
fn min_planes(hw: usize) -> usize {
    (1 << 14) / hw + 1
}

/// The output of every plane of `x` ([b, c, h, w]) and its statistics.
fn forward(
    x: &[f32],
    affine: &[[f32; 2]],
    dims: [usize; 4],
    eps: f32,
    act: Activation,
) -> (Vec<f32>, Vec<[f32; 2]>) {
    let [_, c, h, w] = dims;
    let hw = (h * w).max(1);
    let slope = act.slope();
    let mut y = zeros(x.len());
    let mut stats = vec![[0f32; 2]; x.len() / hw];
    y.par_chunks_mut(hw)
        .zip(x.par_chunks(hw))
        .zip(stats.par_iter_mut())
        .enumerate()
        .with_min_len(min_planes(hw))
        .for_each(|(plane, ((y, x), stats))| {
            let [mean, rstd] = plane_stats(x, eps);
            let [g, b] = affine[plane % c];
            // Centred first, as burn does: folding the mean into the shift loses the
            // small values of a plane with (almost) no variance to cancellation.
            let scale = g * rstd;
            for (y, &x) in y.iter_mut().zip(x) {
                let pre = (x - mean) * scale + b;
                *y = if pre > 0.0 { pre } else { pre * slope };
            }
            *stats = [mean, rstd];
        });
    (y, stats)
}

/// The gradients of input, scale and shift from the output gradient `dy`.
fn backward(x: &[f32], dy: &[f32], state: &NormState) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [_, c, h, w] = state.dims;
    let hw = (h * w).max(1);
    let slope = state.act.slope();
    let mut dx = zeros(x.len());
    // Per plane: sum of the pre-activation gradient, and of it times the normalised input.
    let mut sums = vec![[0f64; 2]; x.len() / hw];
    dx.par_chunks_mut(hw)
        .zip(x.par_chunks(hw).zip(dy.par_chunks(hw)))
        .zip(sums.par_iter_mut())
        .enumerate()
        .with_min_len(min_planes(hw))
        .for_each(|(plane, ((dx, (x, dy)), sums))| {
            let [mean, rstd] = state.stats[plane];
            let [g, b] = state.affine[plane % c];
            // The gradient before the activation, and the normalised input.
            let grad = |x: f32, dy: f32| {
                let xhat = (x - mean) * rstd;
                let gd = if g * xhat + b > 0.0 { dy } else { dy * slope };
                [gd, xhat]
            };
            let [sg, sgx] = lane_sums2(x, dy, |x, dy| {
                let [gd, xhat] = grad(x, dy);
                [gd, gd * xhat]
            });
            // d x = g rstd (gd - mean(gd) - xhat mean(gd xhat)).
            let n = hw as f64;
            let (mg, mgx) = ((sg / n) as f32, (sgx / n) as f32);
            let k = g * rstd;
            for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                let [gd, xhat] = grad(x, dy);
                *dx = k * (gd - mg - xhat * mgx);
            }
            *sums = [sg, sgx];
        });
    let (mut dgamma, mut dbeta) = (vec![0f64; c], vec![0f64; c]);
    for (plane, [sg, sgx]) in sums.iter().enumerate() {
        dgamma[plane % c] += sgx;
        dbeta[plane % c] += sg;
    }
    let f32s = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (dx, f32s(dgamma), f32s(dbeta))
}

#[derive(Debug, Clone)]
struct NormState {
    x: FloatTensor<Flex>,
    affine: Vec<[f32; 2]>,
    stats: Vec<[f32; 2]>,
    dims: [usize; 4],
    act: Activation,
}

#[derive(Debug)]
struct FusedNorm;

impl Backward<Flex, 3> for FusedNorm {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_g, node_b] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let state = ops.state;
        let (dx, dgamma, dbeta) = backward(&values::<4>(&state.x), &values::<4>(&grad), &state);
        let c = state.dims[1];
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, from_values(dx, state.dims));
        }
        if let Some(node) = node_g {
            grads.register::<Flex>(node.id, from_values(dgamma, [c]));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, from_values(dbeta, [c]));
        }
    }
}

/// Run the fused op and record it on the autodiff graph (or just run it when nothing
/// needs a gradient).
fn record(
    x: AdTensor,
    gamma: AdTensor,
    beta: AdTensor,
    dims: [usize; 4],
    eps: f32,
    act: Activation,
) -> Tensor<4> {
    let xp = x.primitive().clone();
    let affine = affine(gamma.primitive(), beta.primitive());
    let (y, stats) = forward(&values::<4>(&xp), &affine, dims, eps, act);
    let y = from_values(y, dims);
    let out = match FusedNorm
        .prepare::<NoCheckpointing>([x.node(), gamma.node(), beta.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let state = NormState {
                x: xp,
                affine,
                stats,
                dims,
                act,
            };
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::InstanceNormConfig;
    use burn::tensor::{Device, Distribution};
    // Max absolute difference, relative to the largest magnitude of the second.
    use crate::model::flex_conv::tests::rel_diff as max_rel;

    fn max_rel1(a: Tensor<1>, b: Tensor<1>) -> f32 {
        let n = a.dims()[0];
        max_rel(a.reshape([1, 1, 1, n]), b.reshape([1, 1, 1, n]))
    }

    /// A norm with scale and shift away from their initial ones and zeros.
    fn norm(c: usize, affine: bool, device: &Device) -> InstanceNorm {
        let mut n = InstanceNormConfig::new(c).with_affine(affine).init(device);
        if affine {
            let g = Tensor::<1>::random([c], Distribution::Uniform(0.5, 1.5), device);
            let b = Tensor::<1>::random([c], Distribution::Uniform(-0.5, 0.5), device);
            n.gamma = Some(burn::module::Param::from_tensor(g));
            n.beta = Some(burn::module::Param::from_tensor(b));
        }
        n
    }

    const ACTS: [Activation; 3] = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu(0.2),
    ];

    #[test]
    fn untracked_forward_equals_burns_module_and_activation() {
        // On the autodiff device with nothing to differentiate: the fused forward alone.
        let device = Device::flex().autodiff();
        // MM-GAN's planes, a 1x1 bottleneck (a single value normalises to zero), odd sides.
        for (dims, affine) in [
            ([2, 3, 16, 16], true),
            ([1, 4, 1, 1], true),
            ([3, 2, 7, 5], false),
        ] {
            let n = norm(dims[1], affine, &device).no_grad();
            let x = Tensor::<4>::random(dims, Distribution::Normal(2.0, 3.0), &device);
            assert!(autodiff_primitive(&x).is_some(), "the fused path is taken");
            for act in ACTS {
                let ours = instance_norm(&n, x.clone(), act);
                let theirs = act.apply(n.forward(x.clone()));
                assert_eq!(ours.dims(), theirs.dims());
                assert!(max_rel(ours, theirs) < 1e-5, "{dims:?} {act:?}");
            }
        }
    }

    #[test]
    fn training_matches_burn_in_value_and_gradients() {
        let device = Device::flex().autodiff();
        for (dims, affine) in [([2, 3, 9, 12], true), ([4, 5, 4, 4], false)] {
            let x0 = Tensor::<4>::random(dims, Distribution::Normal(1.0, 2.0), &device);
            let n = norm(dims[1], affine, &device);
            assert!(autodiff_primitive(&x0).is_some(), "the fused path is taken");
            for act in ACTS {
                let run = |fused: bool| {
                    let x = x0.clone().require_grad();
                    let y = if fused {
                        instance_norm(&n, x.clone(), act)
                    } else {
                        act.apply(n.forward(x.clone()))
                    };
                    // An output gradient that differs per element.
                    let grads = (y.clone() * y.clone().sin()).sum().backward();
                    let param = |p: &Option<burn::module::Param<Tensor<1>>>| {
                        p.as_ref().and_then(|p| p.val().grad(&grads))
                    };
                    let (dg, db) = (param(&n.gamma), param(&n.beta));
                    (y, x.grad(&grads).unwrap(), dg, db)
                };
                let (y1, dx1, dg1, db1) = run(true);
                let (y2, dx2, dg2, db2) = run(false);
                let what = format!("{dims:?} {act:?}");
                assert!(max_rel(y1, y2) < 1e-4, "forward {what}");
                assert!(max_rel(dx1, dx2) < 1e-4, "input gradient {what}");
                assert_eq!(dg1.is_some(), affine, "{what}");
                if let (Some(dg1), Some(dg2), Some(db1), Some(db2)) = (dg1, dg2, db1, db2) {
                    assert!(max_rel1(dg1, dg2) < 1e-4, "scale gradient {what}");
                    assert!(max_rel1(db1, db2) < 1e-4, "shift gradient {what}");
                }
            }
        }
    }
}
