//! `mmgan train`: train or resume a run, with a progress bar and Ctrl-C checkpointing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mmgan::data::Fit;
use mmgan::engine::{select_device, BackendChoice};
use mmgan::io::SequenceSet;
use mmgan::model::{
    DiscriminatorConfig, GeneratorConfig, Imputation, Method, MmSynthesisConfig, PGanConfig,
    ReplicaConfig,
};
use mmgan::train::{train, StepLosses, TrainConfig, TrainEvent};

use super::{progress_bar, say, NetArgs};

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Data folders: one sub-folder per subject
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Run folder (checkpoints, log, weights)
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 60)]
    pub epochs: usize,
    /// The method to train (MM-Synthesis and pGAN use --width for their first layers,
    /// --size; not --depth)
    #[arg(long, value_enum, default_value_t = Method::MmGan)]
    pub method: Method,
    /// The model's sequences in channel order: `brats` (T1, T1c, T2, FLAIR), `isles` (T1,
    /// T2, DWI, FLAIR) or four names (`t1,t2,dwi,flair`)
    #[arg(long, default_value = "brats")]
    pub sequences: SequenceSet,
    #[command(flatten)]
    pub net: NetArgs,
    /// MM-Synthesis: channels of the shared latent space (paper 16)
    #[arg(long, default_value_t = 16)]
    pub latent: usize,
    /// How the brain box becomes a slice: resize (reference) or pad (native resolution)
    #[arg(long, value_enum, default_value_t = Fit::Resize)]
    pub fit: Fit,
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    #[arg(long, value_enum, default_value_t = Imputation::Zeros)]
    pub impute: Imputation,
    #[arg(long, value_parser = ["on", "off"], default_value = "on")]
    pub curriculum: String,
    /// Share of batches with one sequence missing (0-1), the rest drawn alike from the
    /// other scenarios; default: every scenario alike. May change on --resume
    #[arg(long, value_parser = parse_share)]
    pub one_missing_share: Option<f64>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Fraction of subjects held out for testing
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Subject folder names always held out for testing
    #[arg(long, value_delimiter = ',')]
    pub hold_out: Vec<String>,
    /// Cap on batches per epoch (quick runs)
    #[arg(long)]
    pub max_batches: Option<usize>,
    /// Continue the run in --out from its last checkpoint
    #[arg(long)]
    pub resume: bool,
    /// Start the generator from this weights folder (fine-tuning; same depth/size/fit, and
    /// same width, or for MM-GAN a larger one: the weights are widened function-preserving;
    /// or more --context: the neighbours start with zero weights, same function)
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// MM-GAN: neighbouring axial slices on each side the generator reads with each slice
    /// (2.5D input; 0, the paper's, reads the slice alone)
    #[arg(long, default_value_t = 0)]
    pub context: usize,
    /// Draw batches equally from each --data folder (e.g. few real studies vs many phantoms)
    #[arg(long)]
    pub balance_folders: bool,
    /// Mirror half of the batches left-right (augmentation)
    #[arg(long)]
    pub flip: bool,
    /// Keep every epoch's weights in RUN_DIR/epochs/N (for `mmgan average`)
    #[arg(long)]
    pub keep_epochs: bool,
    /// Adam learning rate of both networks (reference 2e-4); may change on --resume, e.g.
    /// lowered for the last epochs
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// MM-GAN: the generator's input layer learns at this x --lr (e.g. to let the
    /// neighbours' weights that --context adds grow faster); may change on --resume
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub input_lr_scale: f64,
    /// MM-GAN: add this x (1 - brain SSIM of the missing sequences) to the selective L1
    /// (0: the paper's loss); may change on --resume
    #[arg(long, default_value_t = 0.0)]
    pub ssim_weight: f32,
    /// MM-GAN: add this x (the distance between the brain histograms of each missing
    /// sequence, synthesized and acquired) to the selective L1 (0: none); may change on
    /// --resume
    #[arg(long, default_value_t = 0.0)]
    pub distribution_weight: f32,
    /// REPLICA: trees per forest
    #[arg(long, default_value_t = 10)]
    pub trees: usize,
    /// REPLICA: training voxels per forest
    #[arg(long, default_value_t = 60_000)]
    pub samples: usize,
    /// pGAN: residual blocks per pair generator (paper 9)
    #[arg(long, default_value_t = 6)]
    pub blocks: usize,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(k) if k.is_finite() && k > 0.0 => Ok(k),
        _ => Err(format!("{text:?} is not a positive factor")),
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a share between 0 and 1")),
    }
}

pub fn run(a: &TrainArgs) -> anyhow::Result<()> {
    let config = config(a)?;
    let selected = select_device(a.backend).map_err(anyhow::Error::msg)?;
    eprintln!("training {} on {}", a.method, selected.description);
    let interrupt = interrupt_on_ctrl_c()?;
    let bar = progress_bar(0, "batches");
    let mut first_batch: Option<usize> = None;
    let done = train(
        &config,
        &a.out,
        a.resume,
        &selected.device,
        &interrupt,
        &mut |e| match e {
            TrainEvent::Loaded {
                train,
                test,
                skipped,
            } => {
                say(
                    &bar,
                    format!(
                        "subjects: {train} train, {test} test, {} skipped",
                        skipped.len()
                    ),
                );
                for s in skipped {
                    say(&bar, format!("  skipped {s}"));
                }
            }
            TrainEvent::EpochStart { epoch, batches } => {
                first_batch = None;
                bar.reset();
                bar.set_length(batches as u64);
                bar.set_prefix(format!("epoch {epoch}/{}", a.epochs));
            }
            TrainEvent::Batch {
                epoch,
                done,
                losses,
            } => {
                // A resumed epoch starts part-way: time only the batches run here.
                let first = *first_batch.get_or_insert(done);
                bar.set_position(done as u64);
                let text = loss_text(a.method, &losses);
                // Logged to a file (no bar): a line now and then shows the run is alive.
                if bar.is_hidden() && done % 50 == 0 {
                    say(
                        &bar,
                        format!(
                            "epoch {epoch}: batch {done}/{}, {text}, {:.2} s/batch",
                            bar.length().unwrap_or(0),
                            bar.elapsed().as_secs_f64() / (done + 1 - first).max(1) as f64
                        ),
                    );
                }
                bar.set_message(text);
            }
            TrainEvent::EpochEnd(log) => {
                let test = log
                    .test
                    .zip(log.test_brain)
                    .map(|(q, b)| {
                        format!(
                            ", validation PSNR {:.2} SSIM {:.4} (brain {:.2} / {:.4})",
                            q.psnr, q.ssim, b.psnr, b.ssim
                        )
                    })
                    .unwrap_or_default();
                say(
                    &bar,
                    format!(
                        "epoch {}: G {:.4} L1 {:.4} D {:.4}, scenarios {}, {:.0} s{test}",
                        log.epoch, log.loss_g, log.loss_l1, log.loss_d, log.scenarios, log.seconds
                    ),
                );
            }
            TrainEvent::Interrupted {
                epoch,
                batches_done,
            } => {
                say(&bar, format!("checkpoint saved in epoch {epoch} after {batches_done} batches; continue with --resume"));
            }
        },
    )?;
    bar.finish_and_clear();
    eprintln!(
        "{done} epochs done; weights in {}",
        a.out.join("weights").display()
    );
    Ok(())
}

/// The run's configuration from the command line, refusing options of another method.
fn config(a: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let generator = GeneratorConfig::new()
        .with_width(a.net.width)
        .with_depth(a.net.depth)
        .with_context(a.context);
    if a.method == Method::MmGan {
        a.net.check()?;
        generator
            .check(a.net.size)
            .map_err(|e| anyhow::anyhow!("--context: {e}"))?;
    } else if a.context > 0 {
        anyhow::bail!("--context is MM-GAN's; {} reads one slice", a.method);
    } else if a.input_lr_scale != 1.0 {
        anyhow::bail!(
            "--input-lr-scale is MM-GAN's; {} trains at one rate",
            a.method
        );
    }
    Ok(TrainConfig::new(
        generator,
        DiscriminatorConfig::new().with_width(a.net.width),
        a.data.iter().map(|p| p.display().to_string()).collect(),
    )
    .with_method(a.method)
    .with_sequences(a.sequences)
    .with_mmsynthesis(
        MmSynthesisConfig::new()
            .with_width(a.net.width)
            .with_latent(a.latent),
    )
    .with_side(a.net.size)
    .with_fit(a.fit)
    .with_epochs(a.epochs)
    .with_batch(a.batch)
    .with_imputation(a.impute)
    .with_curriculum(a.curriculum == "on")
    .with_one_missing_share(a.one_missing_share)
    .with_seed(a.seed)
    .with_test_fraction(a.test_fraction)
    .with_hold_out(a.hold_out.clone())
    .with_max_batches(a.max_batches)
    .with_init(a.init.as_ref().map(|p| p.display().to_string()))
    .with_balance_folders(a.balance_folders)
    .with_flip(a.flip)
    .with_keep_epochs(a.keep_epochs)
    .with_replica(
        ReplicaConfig::new()
            .with_trees(a.trees)
            .with_samples(a.samples),
    )
    .with_pgan(
        PGanConfig::new()
            .with_width(a.net.width)
            .with_blocks(a.blocks)
            .with_critic_width(a.net.width.clamp(1, 16)),
    )
    .with_lr(a.lr)
    .with_input_lr_scale(a.input_lr_scale)
    .with_ssim_weight(a.ssim_weight)
    .with_distribution_weight(a.distribution_weight))
}

/// Ctrl-C sets the returned flag (the loop saves a checkpoint at the next batch); a
/// second Ctrl-C aborts at once.
fn interrupt_on_ctrl_c() -> anyhow::Result<Arc<AtomicBool>> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    ctrlc::set_handler(move || {
        eprintln!("\ninterrupt: saving a checkpoint at the next batch (Ctrl-C again to abort)");
        if flag.swap(true, Ordering::SeqCst) {
            mmgan::io::remove_live_temporaries();
            std::process::exit(130);
        }
    })?;
    Ok(interrupt)
}

/// One step's losses as the progress line shows them, in `method`'s terms.
fn loss_text(method: Method, losses: &StepLosses) -> String {
    match method {
        Method::MmGan => format!(
            "G {:.4} (adv {:.4}, L1 {:.4}, 1-SSIM {:.4}, hist {:.4}) D {:.4}",
            losses.g, losses.adversarial, losses.l1, losses.ssim, losses.distribution, losses.d
        ),
        Method::MmSynthesis => format!(
            "loss {:.4} (L1 {:.4}, embedding {:.4})",
            losses.g, losses.l1, losses.embedding
        ),
        Method::PGan => format!(
            "G {:.4} (adv {:.4}, L1 {:.4}) D {:.4}",
            losses.g, losses.adversarial, losses.l1, losses.d
        ),
        Method::Replica => "forests fitted".to_string(),
    }
}
