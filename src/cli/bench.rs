//! `mmgan bench`: benchmarks that print medians and the ratio against a peer measured in
//! the same run on the same machine.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use mmgan::io::Study;

use super::StudyArgs;

/// The peer for study loading: nibabel + numpy, the reference reader of the field.
const NIBABEL_OPEN: &str = include_str!("../../benches/nibabel_open.py");
/// The peer for the networks: the same architecture and training step in PyTorch.
const TORCH_MMGAN: &str = include_str!("../../benches/torch_mmgan.py");

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
    #[arg(long, value_enum, default_value_t = mmgan::engine::BackendChoice::Cpu)]
    backend: mmgan::engine::BackendChoice,
    /// Also time every convolution of the training step alone (forward, input gradient,
    /// weight gradient), and every layer of the generator's forward at inference
    #[arg(long)]
    profile: bool,
    /// Time the MM-GAN training step alone (no forward passes, reference steps or peer):
    /// a steady workload for profilers (`perf record -- mmgan bench model --step-only`)
    #[arg(long)]
    step_only: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Time opening a whole study against nibabel + numpy loading the same files
    Open {
        #[command(flatten)]
        study: StudyArgs,
        /// Timed runs of each side (after one warm-up run)
        #[arg(long, default_value_t = 7)]
        runs: usize,
    },
    /// Generator forward per slice (several widths) and a training step, burn against
    /// PyTorch on the same device
    Model(ModelArgs),
    /// Mutation fuzzing of the NIfTI reader and the weights sidecar; fails on any panic
    Fuzz(super::fuzz::FuzzArgs),
    /// A whole volume end to end: open the study, synthesize one scenario (on the CPU
    /// unless --backend says otherwise)
    Volume {
        #[command(flatten)]
        study: StudyArgs,
        /// Sequences to synthesize
        #[arg(long, default_value = "flair")]
        missing: String,
        /// Weights folder (default: the shipped weights)
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long, value_enum, default_value_t = mmgan::engine::BackendChoice::Cpu)]
        backend: mmgan::engine::BackendChoice,
    },
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Open { study, runs } => open(&study, runs.max(1)),
        BenchCommand::Model(args) => model(&args),
        BenchCommand::Fuzz(args) => super::fuzz::run(&args),
        BenchCommand::Volume {
            study,
            missing,
            weights,
            runs,
            backend,
        } => volume(
            &study,
            &missing,
            &super::weights_dir(&weights)?,
            runs.max(1),
            backend,
        ),
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn open(args: &StudyArgs, runs: usize) -> anyhow::Result<()> {
    let files = args.files()?;
    let paths: Vec<PathBuf> = files.iter().map(|(_, p)| p.clone()).collect();
    if paths.is_empty() {
        bail!("no study files to time");
    }
    let mut ours = Vec::new();
    for i in 0..=runs {
        let t = Instant::now();
        let study = Study::open_files(files.clone())?;
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box(&study);
        if i > 0 {
            ours.push(secs);
        }
    }
    let peer = nibabel_times(&paths, runs)?;
    let (m_ours, m_peer) = (median(ours.clone()), median(peer.clone()));
    println!("open study: {} files ({})", paths.len(), names(&paths));
    println!(
        "  mmgan (parallel decode, RAS reorientation, stats): median {:.1} ms over {runs} runs",
        m_ours * 1e3
    );
    println!(
        "  nibabel + numpy (np.asarray(dataobj, float32)):     median {:.1} ms over {runs} runs",
        m_peer * 1e3
    );
    println!(
        "  ratio mmgan / nibabel: {:.2} (speed-up {:.2}x)",
        m_ours / m_peer,
        m_peer / m_ours
    );
    Ok(())
}

fn names(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn nibabel_times(paths: &[PathBuf], runs: usize) -> anyhow::Result<Vec<f64>> {
    let mut args = vec![runs.to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let value = python_peer(NIBABEL_OPEN, &args, &[], "pip install nibabel numpy")?;
    Ok(serde_json::from_value(value)?)
}

/// Run a peer script with `python3 -c`; it prints one JSON value.
fn python_peer(
    script: &str,
    args: &[String],
    env: &[(&str, &str)],
    install: &str,
) -> anyhow::Result<serde_json::Value> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .context("cannot run python3 for the peer")?;
    if !out.status.success() {
        bail!(
            "the Python peer failed ({install}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("the Python peer printed no JSON")
}

pub(super) fn time_median(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
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

fn model(a: &ModelArgs) -> anyhow::Result<()> {
    let ModelArgs {
        ref widths,
        size,
        depth,
        train_width,
        batch,
        ssim_weight,
        distribution_weight,
        runs,
        no_peer,
        backend,
        profile,
        step_only,
    } = *a;
    let runs = runs.max(1);
    use burn::module::Module;
    use burn::optim::ModuleOptimizer;
    use burn::tensor::{Distribution, Tensor};
    use mmgan::model::{
        DiscriminatorConfig, GeneratorConfig, MmSynthesisConfig, PGanConfig, Scenario,
    };
    use mmgan::train::{adam, mmsynthesis_step, pgan_step, train_step, TrainConfig};

    anyhow::ensure!(
        size % (1 << depth) == 0,
        "--size must be divisible by 2^depth"
    );
    anyhow::ensure!(
        no_peer || (ssim_weight == 0.0 && distribution_weight == 0.0),
        "the PyTorch peer trains with the paper's loss: add --no-peer to time the step with \
         --ssim-weight or --distribution-weight"
    );
    let selected = mmgan::engine::select_device(backend).map_err(anyhow::Error::msg)?;
    let device = selected.device;
    let x = Tensor::<4>::random([1, 4, size, size], Distribution::Default, &device);
    let mut forward = Vec::new();
    for &w in widths.iter().filter(|_| !step_only) {
        let cfg = GeneratorConfig::new().with_width(w).with_depth(depth);
        let g = cfg.init(&device);
        let params = g.num_params();
        let time = || {
            time_median(runs, || {
                let y = g.forward(x.clone());
                std::hint::black_box(y.into_data());
            })
        };
        let t = time();
        // The same network with burn's own convolutions: the fast paths' gain, same run.
        mmgan::model::flex_conv::set_burn_ops_only(true);
        let burn_ops = time();
        mmgan::model::flex_conv::set_burn_ops_only(false);
        forward.push((w, params, cfg.macs_per_slice(size), t, burn_ops));
    }
    let config = TrainConfig::new(
        GeneratorConfig::new()
            .with_width(train_width)
            .with_depth(depth),
        DiscriminatorConfig::new().with_width(train_width),
        vec![],
    )
    .with_side(size)
    .with_batch(batch)
    .with_ssim_weight(ssim_weight)
    .with_distribution_weight(distribution_weight);
    let ad = device.clone().autodiff();
    let data: Vec<f32> = (0..batch * 4 * size * size)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0)
        .collect();
    let scenario =
        Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[mmgan::io::Sequence::Flair])?;
    let time_step = |mut og: ModuleOptimizer, mut od: ModuleOptimizer| {
        let nets = (config.generator.init(&ad), config.discriminator.init(&ad));
        time_steps(runs, nets, |(g, d)| {
            let (g, d, losses) = train_step(
                g,
                d,
                &mut og,
                &mut od,
                &data,
                [batch, 4, size, size],
                scenario,
                &config,
                &ad,
            );
            std::hint::black_box(losses);
            (g, d)
        })
    };
    let train_t = time_step(adam(&config), adam(&config));
    if step_only {
        println!(
            "training step, batch {batch}, width {train_width}, {size}x{size}, depth {depth} \
             (G + D, Adam), {}: median {:.0} ms of {runs}",
            selected.description,
            train_t * 1e3
        );
        return Ok(());
    }
    // The same step with burn's own convolutions and norms: the fast paths' gain.
    mmgan::model::flex_conv::set_burn_ops_only(true);
    let train_burn_ops = time_step(adam(&config), adam(&config));
    mmgan::model::flex_conv::set_burn_ops_only(false);
    // The same step with burn's own Adam: the fused update's gain, same run.
    let burn_adam = || {
        burn::optim::AdamConfig::new()
            .with_beta_1(config.beta1)
            .with_beta_2(config.beta2)
            .with_epsilon(1e-8)
            .init()
    };
    let train_burn_adam = time_step(burn_adam(), burn_adam());
    // MM-Synthesis beside it (no PyTorch peer): what a comparison's compute budget buys.
    let ms_config = MmSynthesisConfig::new();
    let ms = ms_config.init(&device);
    let ms_forward = time_median(runs, || {
        std::hint::black_box(ms.forward(x.clone(), scenario).into_data());
    });
    let mut om = adam(&config);
    let ms_train = time_steps(runs, ms_config.init(&ad), |m| {
        let (m, losses) = mmsynthesis_step(
            m,
            &mut om,
            &data,
            [batch, 4, size, size],
            scenario,
            &config,
            &ad,
        );
        std::hint::black_box(losses);
        m
    });
    // pGAN likewise: one pair generator's forward, and a step of the three pairs of one
    // source (what each of its training batches does).
    let pgan_config = PGanConfig::new();
    let pgan = pgan_config.init(&device);
    let one = Scenario::with_available(mmgan::io::SequenceSet::BRATS, &[mmgan::io::Sequence::T1])?;
    let x1 = x.clone().narrow(1, 0, 1);
    let pgan_forward = time_median(runs, || {
        std::hint::black_box(pgan.synthesize(0, 3, x1.clone()).into_data());
    });
    let config = config.with_pgan(pgan_config.clone());
    let (mut opg, mut opd) = (adam(&config), adam(&config));
    let nets = (pgan_config.init(&ad), pgan_config.init_critics(&ad));
    let pgan_train = time_steps(runs, nets, |(g, d)| {
        let (g, d, losses) = pgan_step(
            g,
            d,
            &mut opg,
            &mut opd,
            &data,
            [batch, 4, size, size],
            one,
            &config,
            &ad,
        );
        std::hint::black_box(losses);
        (g, d)
    });

    let peer = if no_peer {
        None
    } else {
        Some(torch_peer(
            widths,
            size,
            depth,
            train_width,
            batch,
            runs,
            selected.gpu,
        )?)
    };
    println!(
        "MM-GAN networks, {size}x{size}, depth {depth}, median of {runs} runs (after a warm-up); burn on {}; PyTorch on {}",
        selected.description,
        peer.as_ref().map_or("-".into(), |p| p["device"].to_string())
    );
    println!("| what | params | GMAC | burn | burn, its own ops | PyTorch | burn / PyTorch |");
    println!("|---|---|---|---|---|---|---|");
    for (w, params, macs, t, burn_ops) in &forward {
        let p = peer
            .as_ref()
            .and_then(|p| p["forward"][w.to_string()].as_f64());
        println!(
            "| generator forward, 1 slice, width {w} | {:.1} M | {:.2} | {:.1} ms | {:.1} ms | {} | {} |",
            *params as f64 / 1e6,
            *macs as f64 / 1e9,
            t * 1e3,
            burn_ops * 1e3,
            p.map(|p| format!("{:.1} ms", p * 1e3))
                .unwrap_or_else(|| "-".into()),
            p.map(|p| format!("{:.2}", t / p))
                .unwrap_or_else(|| "-".into()),
        );
    }
    let p = peer.as_ref().and_then(|p| p["train"].as_f64());
    println!(
        "| training step, batch {batch}, width {train_width} (G + D, Adam) | | | {:.0} ms | {:.0} ms; {:.0} ms with burn's Adam | {} | {} |",
        train_t * 1e3,
        train_burn_ops * 1e3,
        train_burn_adam * 1e3,
        p.map(|p| format!("{:.0} ms", p * 1e3)).unwrap_or_else(|| "-".into()),
        p.map(|p| format!("{:.2}", train_t / p)).unwrap_or_else(|| "-".into()),
    );
    println!(
        "| MM-Synthesis forward, 1 slice, width {}, 3 inputs | {:.2} M | {:.2} | {:.1} ms | - | - | - |",
        ms_config.width,
        ms.num_params() as f64 / 1e6,
        ms_config.macs_per_slice(size, 3) as f64 / 1e9,
        ms_forward * 1e3
    );
    println!(
        "| MM-Synthesis training step, batch {batch}, width {}, 3 inputs (Adam) | | | {:.0} ms | - | - | - |",
        ms_config.width,
        ms_train * 1e3
    );
    println!(
        "| pGAN forward, 1 slice, one pair, width {}, {} blocks | {:.2} M (12 pairs) | {:.2} | {:.1} ms | - | - | - |",
        pgan_config.width,
        pgan_config.blocks,
        pgan.num_params() as f64 / 1e6,
        pgan_config.macs_per_slice(size) as f64 / 1e9,
        pgan_forward * 1e3
    );
    println!(
        "| pGAN training step, batch {batch}, the 3 pairs of one source (G + D, Adam) | | | {:.0} ms | - | - | - |",
        pgan_train * 1e3
    );
    if let Some(p) = &peer {
        println!("PyTorch threads: {}", p["threads"]);
    }
    if profile {
        super::profile::print(
            &config.generator,
            &config.discriminator,
            size,
            batch,
            runs,
            &device,
            train_t,
        );
        for &w in widths {
            let g = GeneratorConfig::new().with_width(w).with_depth(depth);
            super::profile::print_inference(&g, size, runs, &device);
        }
    }
    Ok(())
}

fn torch_peer(
    widths: &[usize],
    size: usize,
    depth: usize,
    train_width: usize,
    batch: usize,
    runs: usize,
    gpu: bool,
) -> anyhow::Result<serde_json::Value> {
    let mut args: Vec<String> = [size, depth, runs, train_width, batch]
        .iter()
        .map(|v| v.to_string())
        .collect();
    args.extend(widths.iter().map(|w| w.to_string()));
    let device = if gpu { "cuda" } else { "cpu" };
    python_peer(
        TORCH_MMGAN,
        &args,
        &[("MMGAN_PEER_DEVICE", device)],
        "pip install torch",
    )
}

fn volume(
    args: &StudyArgs,
    missing: &str,
    weights: &std::path::Path,
    runs: usize,
    backend: mmgan::engine::BackendChoice,
) -> anyhow::Result<()> {
    use mmgan::engine::Synthesizer;
    use mmgan::model::Scenario;
    let synth = Synthesizer::load(weights, backend)?;
    let scenario = Scenario::parse(synth.meta().sequences(), missing)?;
    let flag = std::sync::atomic::AtomicBool::new(false);
    let mut slices = 0;
    let (mut open_t, mut prepare_t, mut first_t) = (Vec::new(), Vec::new(), Vec::new());
    let total = time_median(runs, || {
        let t = Instant::now();
        let Ok(study) = args.open() else { return };
        open_t.push(t.elapsed().as_secs_f64());
        // What the viewer does first: the slice on screen (the middle one) alone, prepared
        // alone.
        let t = Instant::now();
        let mid = study.grid.dims[2] / 2;
        let Ok(mut prepared) = synth.prepare_for(&study, scenario, &[mid]) else {
            return;
        };
        prepare_t.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let _ = synth.synthesize_slices(&prepared, &[mid]);
        first_t.push(t.elapsed().as_secs_f64());
        prepared.complete(&study);
        if let Ok(v) = synth.synthesize_volume(&prepared, &mut |_, n| slices = n, &flag) {
            std::hint::black_box(v);
        }
    });
    args.open()?; // surface an error the timed closure swallowed
    println!(
        "whole volume, {scenario}, {} ({}), median of {runs}:",
        args.study
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        synth.device_description()
    );
    println!("  study in -> synthesized volume out: {:.2} s ({slices} brain slices, {:.1} ms per slice; opening the study {:.2} s)", total, total * 1e3 / slices.max(1) as f64, median(open_t));
    println!(
        "  the viewer's first slice after opening: prepare (that slice's inputs) {:.0} ms + one slice {:.0} ms",
        median(prepare_t) * 1e3,
        median(first_t) * 1e3
    );
    Ok(())
}
