//! `mmgan bench`: benchmarks that print medians and the ratio against a peer measured in
//! the same run on the same machine.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use mmgan::io::Study;

use super::StudyArgs;

mod model;
pub use model::ModelArgs;

/// The peer for study loading: nibabel + numpy, the reference reader of the field.
const NIBABEL_OPEN: &str = include_str!("../../../benches/nibabel_open.py");

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
        BenchCommand::Model(args) => model::run(&args),
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
