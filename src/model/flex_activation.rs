//! A ReLU or leaky ReLU on its own (the layers without a norm: the generator's first and
//! last, the discriminator's first) as one parallel op on burn's flex backend in training.
//!
//! Burn 0.22 builds leaky ReLU from a comparison, a scaled copy and a `mask_where`, and
//! flex runs each of them, and their backward ops, on one thread: in the width-32
//! training step the other core sat idle through them (`perf record -- mmgan bench model
//! --step-only`). Here the forward is one pass over the map on all threads, and the
//! backward one more, from the sign of the output it keeps (the next layer holds the
//! output anyway, so nothing extra stays alive). Any other device (plain flex at
//! inference, wgpu) runs burn's activation, untouched. Only burn's public extension API is
//! used, so this can move upstream as flex's kernel.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::flex_conv::{autodiff_primitive, burn_ops_only, from_values, values, AdTensor};
use super::flex_norm::Activation;
use super::im2col::zeros;

/// Values per parallel task: enough that a task outweighs its scheduling.
const MIN_CHUNK: usize = 1 << 14;

/// `act(x)`: one parallel op on an autodiff flex device (training), burn's ops elsewhere.
pub fn activation(x: Tensor<4>, act: Activation) -> Tensor<4> {
    if act == Activation::Identity {
        return x;
    }
    if !burn_ops_only() {
        if let Some(xa) = autodiff_primitive(&x) {
            return record(xa, x.dims(), act.slope());
        }
    }
    act.apply(x)
}

/// `x` below zero scaled by `slope`, as burn's leaky ReLU (`slope` 0: its ReLU).
fn forward(x: &[f32], slope: f32) -> Vec<f32> {
    // Chunks of plain loops, which vectorise (collecting a parallel map wrote element
    // by element, slower than the zeroing pass it saved).
    let mut y = zeros(x.len());
    y.par_chunks_mut(MIN_CHUNK)
        .zip(x.par_chunks(MIN_CHUNK))
        .for_each(|(y, x)| {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = if x < 0.0 { x * slope } else { x };
            }
        });
    y
}

/// The input gradient from the output `y` and its gradient `dy`. Where the input was
/// exactly zero burn's leaky ReLU passes the gradient and its ReLU does not; the output's
/// sign tells the same cases apart (`y >= 0` exactly where `x >= 0` when `slope > 0`).
/// A NaN passes its gradient, as in burn.
fn backward(y: &[f32], dy: &[f32], slope: f32) -> Vec<f32> {
    let passes = |y: f32| y > 0.0 || (y == 0.0 && slope > 0.0) || y.is_nan();
    let mut dx = zeros(y.len());
    dx.par_chunks_mut(MIN_CHUNK)
        .zip(y.par_chunks(MIN_CHUNK).zip(dy.par_chunks(MIN_CHUNK)))
        .for_each(|(dx, (y, dy))| {
            for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
                *dx = if passes(y) { dy } else { dy * slope };
            }
        });
    dx
}

#[derive(Debug)]
struct FusedActivation;

impl Backward<Flex, 1> for FusedActivation {
    /// The output, its shape and the slope below zero.
    type State = (FloatTensor<Flex>, [usize; 4], f32);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (y, dims, slope) = ops.state;
        if let Some(node) = node_x {
            let dx = backward(&values::<4>(&y), &values::<4>(&grad), slope);
            grads.register::<Flex>(node.id, from_values(dx, dims));
        }
    }
}

/// Run the op and record it on the autodiff graph (or just run it when nothing needs a
/// gradient).
fn record(x: AdTensor, dims: [usize; 4], slope: f32) -> Tensor<4> {
    let y = from_values(forward(&values::<4>(x.primitive()), slope), dims);
    let out = match FusedActivation
        .prepare::<NoCheckpointing>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((y.clone(), dims, slope), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData};

    use crate::model::flex_conv::tests::rel_diff;

    const ACTS: [Activation; 2] = [Activation::Relu, Activation::LeakyRelu(0.2)];

    /// Normal values with some exact zeros (where the two activations' gradients differ)
    /// and a map larger than one parallel chunk.
    fn input(device: &Device) -> Tensor<4> {
        let x = Tensor::<4>::random([2, 3, 100, 70], Distribution::Normal(0.0, 1.0), device);
        let mut v = x.into_data().try_to_vec::<f32>().unwrap();
        for i in (0..v.len()).step_by(97) {
            v[i] = 0.0;
        }
        Tensor::from_data(TensorData::new(v, [2, 3, 100, 70]), device)
    }

    #[test]
    fn matches_burn_in_value_and_gradient() {
        let device = Device::flex().autodiff();
        let x0 = input(&device);
        // An output gradient that differs per element.
        let weights = Tensor::<4>::random(x0.dims(), Distribution::Default, &device);
        assert!(autodiff_primitive(&x0).is_some(), "the fused path is taken");
        for act in ACTS {
            let run = |fused: bool| {
                let x = x0.clone().require_grad();
                let y = if fused {
                    activation(x.clone(), act)
                } else {
                    act.apply(x.clone())
                };
                let grads = (y.clone() * weights.clone()).sum().backward();
                (y, x.grad(&grads).unwrap())
            };
            let ((y1, dx1), (y2, dx2)) = (run(true), run(false));
            assert_eq!(y1.dims(), y2.dims());
            assert_eq!(rel_diff(y1, y2), 0.0, "forward {act:?}");
            // Exact: both take dy or dy * slope per element, the same cases.
            assert_eq!(rel_diff(dx1, dx2), 0.0, "input gradient {act:?}");
        }
    }

    #[test]
    fn gradient_follows_the_slope() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![-2.0f32, 0.0, 3.0, -0.5], [1, 1, 2, 2]),
            &device,
        )
        .require_grad();
        let y = activation(x.clone(), Activation::LeakyRelu(0.2));
        let got = y.clone().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(got, vec![-0.4, 0.0, 3.0, -0.1]);
        let grads = y.sum().backward();
        let dx = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(dx, vec![0.2, 1.0, 1.0, 0.2]);
    }
}
