//! Command-line interface: argument parsing and one module per subcommand.

mod average;
mod bench;
mod calibrate;
mod check;
mod curves;
mod eval;
mod fuzz;
mod info;
mod model_info;
mod phantom;
mod profile;
mod synthesize;
mod train;
mod view;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mmgan::io::{Role, Sequence, Study, StudyFiles};

#[derive(Parser, Debug)]
#[command(
    name = "mmgan",
    version,
    about = "MM-GAN Studio: synthesize missing MRI sequences (T1, T1c, T2, FLAIR)"
)]
pub struct Cli {
    /// What to do; without a command the viewer opens on the bundled demo study
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the viewer (default: the bundled demo study and shipped weights)
    View(view::ViewArgs),
    /// Describe a study: files, grids, orientation, datatypes, intensities
    Info(info::InfoArgs),
    /// Synthesize missing sequences of a study and export them as NIfTI (marked synthetic)
    Synthesize(synthesize::SynthesizeArgs),
    /// Train MM-GAN (curriculum, checkpoints, resume)
    Train(train::TrainArgs),
    /// Fit a weights folder's output calibration on its training subjects (after training)
    Calibrate(calibrate::CalibrateArgs),
    /// Self-check of a study: each acquired sequence synthesized from the others and scored
    Check(check::CheckArgs),
    /// Average the parameters of several weights folders of one run (e.g. its last epochs)
    Average(average::AverageArgs),
    /// Draw a training run's learning curves (losses, validation SSIM/PSNR) as a PNG
    Curves(curves::CurvesArgs),
    /// Evaluate weights: per-scenario MSE/PSNR/SSIM against two baselines
    Eval(eval::EvalArgs),
    /// Parameter count and compute of the networks
    ModelInfo(model_info::ModelInfoArgs),
    /// Write BraTS-like phantom subjects (MNI152 anatomy, MR physics, random tumours)
    Phantom(phantom::PhantomArgs),
    /// Benchmarks that print figures (medians, and ratios against a peer run in the same run)
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// The weights folder a command uses: `--weights` if given, else the shipped weights.
fn weights_dir(given: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir.clone()),
        None => mmgan::shipped::weights().map_err(anyhow::Error::msg),
    }
}

/// The weights folders given (several `--weights`), or the shipped weights alone.
fn weights_dirs(given: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    if given.is_empty() {
        Ok(vec![weights_dir(&None)?])
    } else {
        Ok(given.to_vec())
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli
        .command
        .unwrap_or(Command::View(view::ViewArgs::default()));
    // Training checkpoints on an interrupt (its own handler); everything else stops at
    // once, without leaving half-written files behind.
    if !matches!(command, Command::Train(_)) {
        ctrlc::set_handler(|| {
            mmgan::io::remove_live_temporaries();
            std::process::exit(130);
        })?;
    }
    match command {
        Command::View(args) => view::run(args),
        Command::Info(args) => info::run(&args),
        Command::Synthesize(args) => synthesize::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Curves(args) => curves::run(&args),
        Command::Average(args) => average::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::ModelInfo(args) => model_info::run(&args),
        Command::Phantom(args) => phantom::run(&args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}

/// The size of the networks: shared by every command that builds them.
#[derive(clap::Args, Debug, Clone)]
pub struct NetArgs {
    /// Base width: filters of the first block (reference 64)
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// UNet depth: encoder blocks (reference 8); --size must be divisible by 2^depth
    #[arg(long, default_value_t = 8)]
    pub depth: usize,
    /// Model slice side in pixels (reference 256)
    #[arg(long, default_value_t = 256)]
    pub size: usize,
}

impl NetArgs {
    pub fn check(&self) -> anyhow::Result<()> {
        mmgan::model::GeneratorConfig::new()
            .with_width(self.width)
            .with_depth(self.depth)
            .check(self.size)
            .map_err(|e| anyhow::anyhow!("--width/--depth/--size: {e}"))
    }
}

/// Where a study comes from: a folder (roles detected from file names) and/or explicit
/// files, which override detection.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StudyArgs {
    /// Study folder (BraTS 2018-2021, BraTS 2023+, ISLES or plain names: t1, t1c, t2, flair,
    /// dwi, adc, seg)
    pub study: Option<PathBuf>,
    /// T1 file (overrides detection)
    #[arg(long, value_name = "PATH")]
    pub t1: Option<PathBuf>,
    /// Contrast-enhanced T1 file (overrides detection)
    #[arg(long, value_name = "PATH")]
    pub t1c: Option<PathBuf>,
    /// T2 file (overrides detection)
    #[arg(long, value_name = "PATH")]
    pub t2: Option<PathBuf>,
    /// FLAIR file (overrides detection)
    #[arg(long, value_name = "PATH")]
    pub flair: Option<PathBuf>,
    /// Diffusion-weighted (trace) file (overrides detection)
    #[arg(long, value_name = "PATH")]
    pub dwi: Option<PathBuf>,
    /// ADC map file (overrides detection)
    #[arg(long, value_name = "PATH")]
    pub adc: Option<PathBuf>,
    /// Lesion label map (overrides detection)
    #[arg(long, value_name = "PATH")]
    pub seg: Option<PathBuf>,
}

impl StudyArgs {
    /// The files of the study: detected in the folder, then overridden by explicit paths.
    pub fn files(&self) -> anyhow::Result<StudyFiles> {
        let explicit = [
            (Role::Sequence(Sequence::T1), &self.t1),
            (Role::Sequence(Sequence::T1c), &self.t1c),
            (Role::Sequence(Sequence::T2), &self.t2),
            (Role::Sequence(Sequence::Flair), &self.flair),
            (Role::Sequence(Sequence::Dwi), &self.dwi),
            (Role::Sequence(Sequence::Adc), &self.adc),
            (Role::Label, &self.seg),
        ];
        // Roles given explicitly are not detected: two candidates for them are no error.
        let given: Vec<Role> = explicit
            .iter()
            .filter(|(_, p)| p.is_some())
            .map(|(r, _)| *r)
            .collect();
        let mut files = match &self.study {
            Some(folder) => StudyFiles::detect_except(folder, &given)?,
            None => StudyFiles::default(),
        };
        for (role, path) in explicit {
            if let Some(p) = path {
                files.set(role, p.clone());
            }
        }
        Ok(files)
    }

    pub fn open(&self) -> anyhow::Result<Study> {
        let files = self.files()?;
        if self.study.is_none() && files.iter().next().is_none() {
            anyhow::bail!(
                "no study given: pass a study folder or files with --t1/--t1c/--t2/--flair"
            );
        }
        Study::open_files(files).context("cannot open the study")
    }
}

/// Create `folder` if needed and prove it takes a file, before any long work whose
/// results would go there.
fn writable_folder(folder: &std::path::Path) -> anyhow::Result<()> {
    if folder.exists() && !folder.is_dir() {
        anyhow::bail!("{}: exists and is not a folder", folder.display());
    }
    std::fs::create_dir_all(folder)
        .map_err(|e| anyhow::anyhow!("{}: cannot create the folder: {e}", folder.display()))?;
    let probe = folder.join(format!(".mmgan-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| anyhow::anyhow!("{}: cannot write into the folder: {e}", folder.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The progress bar every long command shows.
pub fn progress_bar(len: u64, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let template = format!(
        "{{prefix}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit} (eta {{eta}}) {{msg}}"
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// One step of `bar` done, `what` being the next: the bar's message, or without a
/// terminal (a run in the background, logging to a file; the bar is hidden) a line
/// "[done/total] what" so the log says how far the run is.
pub fn advance(bar: &indicatif::ProgressBar, what: &str) {
    bar.inc(1);
    if bar.is_hidden() {
        eprintln!("[{}/{}] {what}", bar.position(), bar.length().unwrap_or(0));
    }
    bar.set_message(what.to_string());
}

/// Print a line above a progress bar, or plainly when the bar is hidden (not a terminal,
/// e.g. a training run logging to a file).
pub fn say(bar: &indicatif::ProgressBar, line: impl AsRef<str>) {
    if bar.is_hidden() {
        eprintln!("{}", line.as_ref());
    } else {
        bar.println(line.as_ref());
    }
}
