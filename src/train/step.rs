//! One training step: MM-GAN's (generator then discriminator, each with its own Adam),
//! MM-Synthesis's (one network, one Adam, its own losses) and pGAN's (the three pair
//! generators of one source, then their critics).

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Gradients, Tensor, TensorData};

use super::TrainConfig;
use crate::model::{
    availability_mask, centre, discriminator_target_fake, impute_stacked, pass_through,
    selective_distribution_loss, selective_l1, selective_ssim_loss, Discriminator, Generator,
    MmSynthesis, PGan, PGanCritics, Scenario,
};

/// Loss values of one step (batch means).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepLosses {
    /// The trained network's total loss.
    pub g: f64,
    pub adversarial: f64,
    /// MM-GAN: the sequence-selective L1; MM-Synthesis: the reconstruction L1.
    pub l1: f64,
    pub d: f64,
    /// MM-Synthesis's embedding loss (0 for MM-GAN).
    pub embedding: f64,
    /// MM-GAN's structural term, 1 - brain SSIM (computed only when weighted).
    pub ssim: f64,
    /// MM-GAN's distribution term (computed only when weighted).
    pub distribution: f64,
}

fn value(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

impl StepLosses {
    /// A GAN step's losses: generator total, adversarial, L1, discriminator, and the
    /// structural and distribution terms where there are.
    fn gan(losses: [Tensor<1>; 4], terms: [Option<Tensor<1>>; 2]) -> StepLosses {
        let [g, adversarial, l1, d] = losses.map(value);
        let [ssim, distribution] = terms.map(|t| t.map(value).unwrap_or(0.0));
        StepLosses {
            g,
            adversarial,
            l1,
            d,
            embedding: 0.0,
            ssim,
            distribution,
        }
    }
}

/// Summing steps' losses (for an epoch's mean).
impl std::ops::AddAssign for StepLosses {
    fn add_assign(&mut self, o: StepLosses) {
        self.g += o.g;
        self.adversarial += o.adversarial;
        self.l1 += o.l1;
        self.d += o.d;
        self.embedding += o.embedding;
        self.ssim += o.ssim;
        self.distribution += o.distribution;
    }
}

impl std::ops::Div<f64> for StepLosses {
    type Output = StepLosses;
    fn div(self, n: f64) -> StepLosses {
        StepLosses {
            g: self.g / n,
            adversarial: self.adversarial / n,
            l1: self.l1 / n,
            d: self.d / n,
            embedding: self.embedding / n,
            ssim: self.ssim / n,
            distribution: self.distribution / n,
        }
    }
}

fn mse(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// One step on a batch (`slices`: `[batch][4 · (2 · context + 1)][side][side]`, each slice
/// with its neighbours, normalised) for `scenario`.
///
/// The fake image is computed once: the generator step back-propagates through a
/// gradient-free copy of the discriminator (its parameters need no gradients there), and
/// the discriminator step reuses the detached fake, scoring real and fake pairs in one
/// batch (instance norm keeps the two halves independent).
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    g: Generator,
    d: Discriminator,
    opt_g: &mut ModuleOptimizer,
    opt_d: &mut ModuleOptimizer,
    slices: &[f32],
    shape: [usize; 4],
    scenario: Scenario,
    c: &TrainConfig,
    device: &Device,
) -> (Generator, Discriminator, StepLosses) {
    let b = shape[0];
    let stacked = Tensor::<4>::from_data(TensorData::new(slices.to_vec(), shape), device);
    let real = centre(stacked.clone(), c.context());
    let mask = availability_mask(&vec![scenario; b], device);

    // Generator: adversarial (target 1 everywhere) + sequence-selective L1.
    let fake = g.forward(impute_stacked(stacked, &vec![scenario; b], c.imputation));
    let fake = pass_through(fake, real.clone(), mask.clone()); // [b, 4, side, side]
    let judge = d.clone().no_grad();
    let pred = judge.forward(fake.clone(), real.clone()); // [b, 4, side/16, side/16]
    let loss_adv = mse(pred.clone(), pred.ones_like());
    let loss_l1 = selective_l1(fake.clone(), real.clone(), mask.clone());
    let loss_ssim = (c.ssim_weight > 0.0)
        .then(|| selective_ssim_loss(fake.clone(), real.clone(), mask.clone()));
    let loss_distribution = (c.distribution_weight > 0.0)
        .then(|| selective_distribution_loss(fake.clone(), real.clone(), mask.clone()));
    let mut pixel = loss_l1.clone();
    if let Some(s) = &loss_ssim {
        pixel = pixel + s.clone().mul_scalar(c.ssim_weight);
    }
    if let Some(h) = &loss_distribution {
        pixel = pixel + h.clone().mul_scalar(c.distribution_weight);
    }
    let loss_g = loss_adv.clone().mul_scalar(c.adversarial_weight)
        + pixel.mul_scalar(1.0 - c.adversarial_weight);
    let g = step_generator(opt_g, c, g, loss_g.backward());
    // The frozen copy shares the discriminator's buffers: let them go, so that its update
    // can run in place.
    drop(judge);

    // Discriminator: real pairs -> 1; generated -> 0 on missing, 1 on available channels.
    let fake = fake.detach();
    // The frozen copy shares the discriminator's parameters: track them again.
    let d = d.set_require_grad(true);
    let pred = d.forward(
        Tensor::cat(vec![real.clone(), fake], 0),
        Tensor::cat(vec![real.clone(), real], 0),
    );
    let patch = pred.dims();
    let half = [b, patch[1], patch[2], patch[3]];
    let target = Tensor::cat(
        vec![
            Tensor::ones(half, device),
            discriminator_target_fake(mask, half),
        ],
        0,
    );
    let loss_d = mse(pred, target); // = 0.5 * (real + fake): both halves have equal size
    let grads = GradientsParams::from_grads(loss_d.backward(), &d);
    let d = opt_d.step(c.lr, d, grads);

    let losses = StepLosses::gan(
        [loss_g, loss_adv, loss_l1, loss_d],
        [loss_ssim, loss_distribution],
    );
    (g, d, losses)
}

/// One Adam step of MM-GAN's generator, its input layer at `c.input_lr_scale` x the rate.
/// The two groups are stepped apart: burn's optimiser leaves a parameter without a
/// gradient, and its moments, as they are.
fn step_generator(
    opt: &mut ModuleOptimizer,
    c: &TrainConfig,
    g: Generator,
    mut grads: Gradients,
) -> Generator {
    if c.input_lr_scale == 1.0 {
        let grads = GradientsParams::from_grads(grads, &g);
        return opt.step(c.lr, g, grads);
    }
    let input = GradientsParams::from_module(&mut grads, g.input_layer());
    let rest = GradientsParams::from_grads(grads, &g);
    let g = opt.step(c.lr, g, rest);
    opt.step(c.lr * c.input_lr_scale, g, input)
}

/// One MM-Synthesis step on a batch (`slices`: `[batch][4][side][side]`, normalised) with
/// `scenario`'s sequences as inputs: its losses, one Adam step.
pub fn mmsynthesis_step(
    m: MmSynthesis,
    opt: &mut ModuleOptimizer,
    slices: &[f32],
    shape: [usize; 4],
    scenario: Scenario,
    c: &TrainConfig,
    device: &Device,
) -> (MmSynthesis, StepLosses) {
    let real = Tensor::<4>::from_data(TensorData::new(slices.to_vec(), shape), device);
    let losses = m.losses(real, scenario);
    let grads = GradientsParams::from_grads(losses.total.clone().backward(), &m);
    let m = opt.step(c.lr, m, grads);
    let step = StepLosses {
        g: value(losses.total),
        l1: value(losses.reconstruction),
        embedding: value(losses.embedding),
        ..StepLosses::default()
    };
    (m, step)
}

/// One pGAN step on a batch (`slices`: `[batch][4][side][side]`, normalised) whose
/// `scenario` has one sequence available, the source: each pair generator from it to a
/// missing sequence takes L1 x `l1_weight` + least-squares adversarial loss (the
/// paper's, less its perceptual term), then each pair's critic scores real (1) and
/// generated (0) targets beside the source. Losses are means over the three pairs.
#[allow(clippy::too_many_arguments)]
pub fn pgan_step(
    g: PGan,
    d: PGanCritics,
    opt_g: &mut ModuleOptimizer,
    opt_d: &mut ModuleOptimizer,
    slices: &[f32],
    shape: [usize; 4],
    scenario: Scenario,
    c: &TrainConfig,
    device: &Device,
) -> (PGan, PGanCritics, StepLosses) {
    let real = Tensor::<4>::from_data(TensorData::new(slices.to_vec(), shape), device);
    let s = scenario.available_channels()[0];
    let source = real.clone().narrow(1, s, 1);
    let targets = scenario.missing_channels();
    let k = targets.len() as f32;

    let judge = d.clone().no_grad();
    let (mut adv, mut l1, mut fakes) = (Vec::new(), Vec::new(), Vec::new());
    for &t in &targets {
        let fake = g.synthesize(s, t, source.clone());
        let truth = real.clone().narrow(1, t, 1);
        let pred = judge.judge(s, t, fake.clone(), source.clone());
        adv.push(mse(pred.clone(), pred.ones_like()));
        l1.push((fake.clone() - truth.clone()).abs().mean());
        fakes.push((t, truth, fake.detach()));
    }
    let sum = |v: Vec<Tensor<1>>| v.into_iter().reduce(|a, b| a + b).expect("a target");
    let (loss_adv, loss_l1) = (sum(adv).div_scalar(k), sum(l1).div_scalar(k));
    let loss_g = loss_adv.clone() + loss_l1.clone().mul_scalar(c.pgan.l1_weight);
    let grads = GradientsParams::from_grads(loss_g.backward(), &g);
    let g = opt_g.step(c.lr, g, grads);
    // As in `train_step`: release the frozen copy so the critics' update runs in place.
    drop(judge);

    let d = d.set_require_grad(true);
    let loss_d = sum(fakes
        .into_iter()
        .map(|(t, truth, fake)| {
            let pred = d.judge(
                s,
                t,
                Tensor::cat(vec![truth, fake], 0),
                Tensor::cat(vec![source.clone(), source.clone()], 0),
            );
            let [b2, ch, h, w] = pred.dims();
            let half = [b2 / 2, ch, h, w];
            let target = Tensor::cat(
                vec![Tensor::ones(half, device), Tensor::zeros(half, device)],
                0,
            );
            mse(pred, target)
        })
        .collect())
    .div_scalar(k);
    let grads = GradientsParams::from_grads(loss_d.backward(), &d);
    let d = opt_d.step(c.lr, d, grads);

    let losses = StepLosses::gan([loss_g, loss_adv, loss_l1, loss_d], [None, None]);
    (g, d, losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::SequenceSet;
    use crate::model::{parameter_values, DiscriminatorConfig, GeneratorConfig};
    use crate::train::adam;

    /// Adam's first step moves each weight by the rate times its gradient's sign: the
    /// input layer moves `input_lr_scale` times as far, every other weight as far.
    #[test]
    fn the_input_layer_learns_at_its_own_rate() {
        let device = Device::flex().autodiff();
        let generator = GeneratorConfig::new()
            .with_width(4)
            .with_depth(3)
            .with_dropout(0.0);
        let discriminator = DiscriminatorConfig::new().with_width(4);
        let g0 = generator.init(&device);
        let d0 = discriminator.init(&device);
        let shape = [2, 4, 16, 16];
        let slices: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| (i * 37 % 101) as f32 / 101.0)
            .collect();
        let before = parameter_values(&g0).unwrap();
        let moved = |scale: f64| -> Vec<f32> {
            let c = TrainConfig::new(generator.clone(), discriminator.clone(), Vec::new())
                .with_lr(1e-3)
                .with_input_lr_scale(scale);
            let (mut opt_g, mut opt_d) = (adam(&c), adam(&c));
            let scenario = Scenario::all(SequenceSet::BRATS)[10];
            let (g, _, _) = train_step(
                g0.clone(),
                d0.clone(),
                &mut opt_g,
                &mut opt_d,
                &slices,
                shape,
                scenario,
                &c,
                &device,
            );
            let after = parameter_values(&g).unwrap();
            // The largest move of each parameter.
            before
                .iter()
                .zip(&after)
                .map(|(b, a)| {
                    b.iter()
                        .zip(a)
                        .map(|(b, a)| (a - b).abs())
                        .fold(0.0, f32::max)
                })
                .collect()
        };
        let plain = moved(1.0);
        let scaled = moved(10.0);
        assert_eq!(plain.len(), scaled.len());
        // `visit` walks the input layer's weight first.
        assert!((plain[0] - 1e-3).abs() < 1e-5, "{}", plain[0]);
        assert!((scaled[0] - 1e-2).abs() < 1e-4, "{}", scaled[0]);
        for (i, (p, s)) in plain.iter().zip(&scaled).enumerate().skip(1) {
            assert!((p - s).abs() < 1e-7, "parameter {i}: {p} against {s}");
        }
    }
}
