//! `mmgan bench model`: the generator's forward pass and the training step, burn against
//! the same architecture and step in PyTorch (`benches/torch_mmgan.py`) on the same device
//! in the same run; each also with burn's own ops (the fast paths' gain), and the other
//! methods' networks beside them (no peer).

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use mmgan::engine::BackendChoice;
use mmgan::io::{Sequence, SequenceSet};
use mmgan::model::{flex_conv, DiscriminatorConfig, GeneratorConfig, Scenario};
use mmgan::train::{adam, mmsynthesis_step, pgan_step, train_step, TrainConfig};

use super::{python_peer, time_median};

/// The peer for the networks: the same architecture and training step in PyTorch.
const TORCH_MMGAN: &str = include_str!("../../../benches/torch_mmgan.py");

/// What `mmgan bench model` times.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    #[arg(long, value_delimiter = ',', default_value = "64,32,16")]
    widths: Vec<usize>,
    #[arg(long, default_value_t = 256)]
    size: usize,
    #[arg(long, default_value_t = 8)]
    depth: usize,
    /// Width of the timed training step (batch --batch, generator + discriminator)
    #[arg(long, default_value_t = 32)]
    train_width: usize,
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// The timed step's structural loss weight (`mmgan train --ssim-weight`); 0, the
    /// paper's loss, is what the PyTorch peer runs
    #[arg(long, default_value_t = 0.0)]
    ssim_weight: f32,
    /// The timed step's distribution loss weight (`mmgan train --distribution-weight`)
    #[arg(long, default_value_t = 0.0)]
    distribution_weight: f32,
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Skip the PyTorch peer
    #[arg(long)]
    no_peer: bool,
    /// Device for burn: the CPU (flex) or wgpu; with wgpu the PyTorch peer runs on CUDA
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Also time every convolution of the training step alone (forward, input gradient,
    /// weight gradient), and every layer of the generator's forward at inference
    #[arg(long)]
    profile: bool,
    /// Time the MM-GAN training step alone (no forward passes, reference steps or peer):
    /// a steady workload for profilers (`perf record -- mmgan bench model --step-only`)
    #[arg(long)]
    step_only: bool,
}

/// One generator width's forward pass on one slice (seconds).
struct Forward {
    width: usize,
    params: usize,
    macs: u64,
    ours: f64,
    burn_ops: f64,
}

/// The MM-GAN training step (seconds): as training runs it, with burn's own convolutions
/// and norms, and with burn's own Adam.
struct Steps {
    ours: f64,
    burn_ops: f64,
    burn_adam: f64,
}

/// The other methods' networks (seconds), timed beside MM-GAN: what a comparison's
/// compute budget buys.
struct Others {
    ms_params: usize,
    ms_forward: f64,
    ms_train: f64,
    pgan_params: usize,
    pgan_forward: f64,
    pgan_train: f64,
}

/// A fixed batch of training inputs (deterministic pseudo-data) and its scenario.
struct Batch {
    data: Vec<f32>,
    shape: [usize; 4],
    scenario: Scenario,
}

pub fn run(a: &ModelArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.size % (1 << a.depth) == 0,
        "--size must be divisible by 2^depth"
    );
    anyhow::ensure!(
        a.no_peer || (a.ssim_weight == 0.0 && a.distribution_weight == 0.0),
        "the PyTorch peer trains with the paper's loss: add --no-peer to time the step with \
         --ssim-weight or --distribution-weight"
    );
    let runs = a.runs.max(1);
    let selected = mmgan::engine::select_device(a.backend).map_err(anyhow::Error::msg)?;
    let device = selected.device;
    let x = Tensor::<4>::random([1, 4, a.size, a.size], Distribution::Default, &device);
    let config = TrainConfig::new(
        GeneratorConfig::new()
            .with_width(a.train_width)
            .with_depth(a.depth),
        DiscriminatorConfig::new().with_width(a.train_width),
        vec![],
    )
    .with_side(a.size)
    .with_batch(a.batch)
    .with_ssim_weight(a.ssim_weight)
    .with_distribution_weight(a.distribution_weight);
    let ad = device.clone().autodiff();
    let shape = [a.batch, 4, a.size, a.size];
    let batch = Batch {
        data: (0..shape.iter().product::<usize>())
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0)
            .collect(),
        shape,
        scenario: Scenario::with_missing(SequenceSet::BRATS, &[Sequence::Flair])?,
    };

    if a.step_only {
        let t = time_mmgan_step(&config, &batch, runs, &ad, adam(&config), adam(&config));
        println!(
            "training step, batch {}, width {}, {s}x{s}, depth {} (G + D, Adam), {}: median \
             {:.0} ms of {runs}",
            a.batch,
            a.train_width,
            a.depth,
            selected.description,
            t * 1e3,
            s = a.size
        );
        return Ok(());
    }
    let forward = time_forwards(a, runs, &x, &device);
    let steps = Steps {
        ours: time_mmgan_step(&config, &batch, runs, &ad, adam(&config), adam(&config)),
        burn_ops: with_burn_ops(|| {
            time_mmgan_step(&config, &batch, runs, &ad, adam(&config), adam(&config))
        }),
        burn_adam: time_mmgan_step(
            &config,
            &batch,
            runs,
            &ad,
            burn_adam(&config),
            burn_adam(&config),
        ),
    };
    let others = time_others(&config, &batch, runs, &x, &device, &ad)?;
    let peer = if a.no_peer {
        None
    } else {
        Some(torch_peer(a, runs, selected.gpu)?)
    };
    let measured = Measured {
        forward,
        steps,
        others,
    };
    print_table(
        a,
        &config,
        runs,
        &selected.description,
        &measured,
        peer.as_ref(),
    );
    if a.profile {
        crate::cli::profile::print(
            &config.generator,
            &config.discriminator,
            a.size,
            a.batch,
            runs,
            &device,
            measured.steps.ours,
        );
        for &w in &a.widths {
            let g = GeneratorConfig::new().with_width(w).with_depth(a.depth);
            crate::cli::profile::print_inference(&g, a.size, runs, &device);
        }
    }
    Ok(())
}

/// `f` with burn's own convolutions and norms in place of the project's fast paths.
fn with_burn_ops<T>(f: impl FnOnce() -> T) -> T {
    flex_conv::set_burn_ops_only(true);
    let out = f();
    flex_conv::set_burn_ops_only(false);
    out
}

/// burn's own Adam with the run's betas: the fused update's peer.
fn burn_adam(config: &TrainConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(config.beta1)
        .with_beta_2(config.beta2)
        .with_epsilon(1e-8)
        .init()
}

/// The generator's forward pass on one slice at each of `--widths`.
fn time_forwards(a: &ModelArgs, runs: usize, x: &Tensor<4>, device: &Device) -> Vec<Forward> {
    a.widths
        .iter()
        .map(|&width| {
            let cfg = GeneratorConfig::new().with_width(width).with_depth(a.depth);
            let g = cfg.init(device);
            let time = || {
                time_median(runs, || {
                    std::hint::black_box(g.forward(x.clone()).into_data());
                })
            };
            Forward {
                width,
                params: g.num_params(),
                macs: cfg.macs_per_slice(a.size),
                ours: time(),
                burn_ops: with_burn_ops(time),
            }
        })
        .collect()
}

/// [`time_median`] of training steps: `step` takes the networks and gives them back, so
/// nothing else holds their buffers while the optimiser updates them (as in training,
/// where the fused Adam then works in place).
fn time_steps<T>(runs: usize, nets: T, mut step: impl FnMut(T) -> T) -> f64 {
    let mut nets = Some(nets);
    time_median(runs, || {
        let taken = nets.take().expect("the networks come back from each step");
        nets = Some(step(taken));
    })
}

/// MM-GAN's training step (generator and discriminator) with the given optimisers.
fn time_mmgan_step(
    config: &TrainConfig,
    batch: &Batch,
    runs: usize,
    ad: &Device,
    mut og: ModuleOptimizer,
    mut od: ModuleOptimizer,
) -> f64 {
    let nets = (config.generator.init(ad), config.discriminator.init(ad));
    time_steps(runs, nets, |(g, d)| {
        let (g, d, losses) = train_step(
            g,
            d,
            &mut og,
            &mut od,
            &batch.data,
            batch.shape,
            batch.scenario,
            config,
            ad,
        );
        std::hint::black_box(losses);
        (g, d)
    })
}

/// MM-Synthesis (forward and step) and pGAN (one pair generator's forward, and a step of
/// the three pairs of one source: what each of its training batches does).
fn time_others(
    config: &TrainConfig,
    batch: &Batch,
    runs: usize,
    x: &Tensor<4>,
    device: &Device,
    ad: &Device,
) -> anyhow::Result<Others> {
    let ms = config.mmsynthesis.init(device);
    let ms_forward = time_median(runs, || {
        std::hint::black_box(ms.forward(x.clone(), batch.scenario).into_data());
    });
    let mut om = adam(config);
    let ms_train = time_steps(runs, config.mmsynthesis.init(ad), |m| {
        let (m, losses) = mmsynthesis_step(
            m,
            &mut om,
            &batch.data,
            batch.shape,
            batch.scenario,
            config,
            ad,
        );
        std::hint::black_box(losses);
        m
    });
    let pgan = config.pgan.init(device);
    let one = Scenario::with_available(SequenceSet::BRATS, &[Sequence::T1])?;
    let x1 = x.clone().narrow(1, 0, 1);
    let pgan_forward = time_median(runs, || {
        std::hint::black_box(pgan.synthesize(0, 3, x1.clone()).into_data());
    });
    let (mut opg, mut opd) = (adam(config), adam(config));
    let nets = (config.pgan.init(ad), config.pgan.init_critics(ad));
    let pgan_train = time_steps(runs, nets, |(g, d)| {
        let (g, d, losses) = pgan_step(
            g,
            d,
            &mut opg,
            &mut opd,
            &batch.data,
            batch.shape,
            one,
            config,
            ad,
        );
        std::hint::black_box(losses);
        (g, d)
    });
    Ok(Others {
        ms_params: ms.num_params(),
        ms_forward,
        ms_train,
        pgan_params: pgan.num_params(),
        pgan_forward,
        pgan_train,
    })
}

/// The PyTorch peer's figures (seconds): `forward` per width, `train`, `device`, `threads`.
fn torch_peer(a: &ModelArgs, runs: usize, gpu: bool) -> anyhow::Result<serde_json::Value> {
    let mut args: Vec<String> = [a.size, a.depth, runs, a.train_width, a.batch]
        .iter()
        .map(|v| v.to_string())
        .collect();
    args.extend(a.widths.iter().map(|w| w.to_string()));
    let device = if gpu { "cuda" } else { "cpu" };
    python_peer(
        TORCH_MMGAN,
        &args,
        &[("MMGAN_PEER_DEVICE", device)],
        "pip install torch",
    )
}

/// `ours / peer` and the peer's time as table cells ("-" without a peer figure).
fn peer_cells(ours: f64, peer: Option<f64>, digits: usize) -> (String, String) {
    match peer {
        Some(p) => (
            format!("{:.digits$} ms", p * 1e3),
            format!("{:.2}", ours / p),
        ),
        None => ("-".into(), "-".into()),
    }
}

/// What one `mmgan bench model` run measured of burn.
struct Measured {
    forward: Vec<Forward>,
    steps: Steps,
    others: Others,
}

fn print_table(
    a: &ModelArgs,
    config: &TrainConfig,
    runs: usize,
    description: &str,
    measured: &Measured,
    peer: Option<&serde_json::Value>,
) {
    let (size, depth, batch) = (a.size, a.depth, a.batch);
    let Measured {
        forward,
        steps,
        others,
    } = measured;
    println!(
        "MM-GAN networks, {size}x{size}, depth {depth}, median of {runs} runs (after a warm-up); burn on {description}; PyTorch on {}",
        peer.map_or("-".into(), |p| p["device"].to_string())
    );
    println!("| what | params | GMAC | burn | burn, its own ops | PyTorch | burn / PyTorch |");
    println!("|---|---|---|---|---|---|---|");
    for f in forward {
        let p = peer.and_then(|p| p["forward"][f.width.to_string()].as_f64());
        let (peer_t, ratio) = peer_cells(f.ours, p, 1);
        println!(
            "| generator forward, 1 slice, width {} | {:.1} M | {:.2} | {:.1} ms | {:.1} ms | {peer_t} | {ratio} |",
            f.width,
            f.params as f64 / 1e6,
            f.macs as f64 / 1e9,
            f.ours * 1e3,
            f.burn_ops * 1e3,
        );
    }
    let (peer_t, ratio) = peer_cells(steps.ours, peer.and_then(|p| p["train"].as_f64()), 0);
    println!(
        "| training step, batch {batch}, width {} (G + D, Adam) | | | {:.0} ms | {:.0} ms; {:.0} ms with burn's Adam | {peer_t} | {ratio} |",
        a.train_width,
        steps.ours * 1e3,
        steps.burn_ops * 1e3,
        steps.burn_adam * 1e3,
    );
    let ms = &config.mmsynthesis;
    println!(
        "| MM-Synthesis forward, 1 slice, width {}, 3 inputs | {:.2} M | {:.2} | {:.1} ms | - | - | - |",
        ms.width,
        others.ms_params as f64 / 1e6,
        ms.macs_per_slice(size, 3) as f64 / 1e9,
        others.ms_forward * 1e3
    );
    println!(
        "| MM-Synthesis training step, batch {batch}, width {}, 3 inputs (Adam) | | | {:.0} ms | - | - | - |",
        ms.width,
        others.ms_train * 1e3
    );
    let pgan = &config.pgan;
    println!(
        "| pGAN forward, 1 slice, one pair, width {}, {} blocks | {:.2} M (12 pairs) | {:.2} | {:.1} ms | - | - | - |",
        pgan.width,
        pgan.blocks,
        others.pgan_params as f64 / 1e6,
        pgan.macs_per_slice(size) as f64 / 1e9,
        others.pgan_forward * 1e3
    );
    println!(
        "| pGAN training step, batch {batch}, the 3 pairs of one source (G + D, Adam) | | | {:.0} ms | - | - | - |",
        others.pgan_train * 1e3
    );
    if let Some(p) = peer {
        println!("PyTorch threads: {}", p["threads"]);
    }
}
