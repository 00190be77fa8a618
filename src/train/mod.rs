//! Training a synthesis method: for MM-GAN the explicit two-optimiser GAN loop with
//! implicit conditioning and the curriculum, pGAN's the same loop over its pair networks,
//! MM-Synthesis its one-optimiser loop (REPLICA's forests: one pass, `replica`); each with
//! checkpoints every epoch (and on interrupt), exact resume, and a per-epoch log of losses
//! and validation-subject metrics. The loop is here; the run's configuration in `config`,
//! its networks and checkpoints in `state`, one step per method in `step`, the per-epoch
//! figures in `validate`, the subjects and each epoch's batches in `plan`.
//!
//! Owns the run folder: `config.json`, `split.json`, `log.jsonl`, `curves.png`,
//! `checkpoint/` (the networks, their optimiser states, progress), `weights/` (the latest
//! network with its sidecar, usable by `mmgan synthesize`/`eval`/`view`) and `best/`.

mod config;
mod curves;
mod fused_adam;
mod plan;
mod replica;
mod state;
mod step;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;

use crate::data::subject_key;
use crate::io::write_atomic;
use crate::metrics::Quality;
use crate::model::{code_version, save_network, Method, TrainingInfo, WeightsMeta};
pub use config::{load_saved_config, TrainConfig};
pub use curves::{draw_curves, read_log};
pub use fused_adam::FusedAdam;
pub use plan::{epoch_plan, load_subjects, PlannedBatch, Subjects};
pub use state::adam;
use state::State;
pub use step::{mmsynthesis_step, pgan_step, train_step, StepLosses};
use validate::test_metrics;

/// Where training stands, saved with each checkpoint.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// Epochs fully done.
    pub epochs_done: usize,
    /// Batches done of the epoch in progress (after an interrupt).
    pub batches_done: usize,
}

/// One line of `log.jsonl`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub batches: usize,
    pub scenarios: String,
    pub loss_g: f64,
    pub loss_adv: f64,
    pub loss_l1: f64,
    pub loss_d: f64,
    /// MM-Synthesis's embedding loss (0 for MM-GAN).
    #[serde(default)]
    pub loss_embedding: f64,
    /// MM-GAN's structural term, 1 - brain SSIM (0 when `ssim_weight` is 0).
    #[serde(default)]
    pub loss_ssim: f64,
    /// MM-GAN's distribution term (0 when `distribution_weight` is 0).
    #[serde(default)]
    pub loss_distribution: f64,
    pub seconds: f64,
    /// Validation (held-out) subjects, `validation_scenarios`, model space, paper
    /// definitions.
    pub test: Option<Quality>,
    /// The same slices inside the brain (the union of the inputs' non-zero pixels), in the
    /// model's intensity space, which is the challenge normalisation: the figure epochs
    /// are chosen by.
    #[serde(default)]
    pub test_brain: Option<Quality>,
}

/// What the loop tells its caller (the CLI draws a progress bar from it).
#[derive(Debug, Clone)]
pub enum TrainEvent {
    Loaded {
        train: usize,
        test: usize,
        skipped: Vec<String>,
    },
    EpochStart {
        epoch: usize,
        batches: usize,
    },
    Batch {
        epoch: usize,
        done: usize,
        losses: StepLosses,
    },
    EpochEnd(EpochLog),
    Interrupted {
        epoch: usize,
        batches_done: usize,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Data(String),
    #[error("{path}: {reason}", path = .path.display())]
    Run { path: PathBuf, reason: String },
    #[error(transparent)]
    Weights(#[from] crate::model::WeightsError),
}

fn run_err(path: &Path, reason: impl ToString) -> TrainError {
    TrainError::Run {
        path: path.into(),
        reason: reason.to_string(),
    }
}

/// Train (or resume) a run in `out`. `interrupt` stops at the next batch boundary with a
/// checkpoint. Returns the epochs done.
pub fn train(
    c: &TrainConfig,
    out: &Path,
    resume: bool,
    device: &Device,
    interrupt: &AtomicBool,
    events: &mut dyn FnMut(TrainEvent),
) -> Result<usize, TrainError> {
    c.network().check(c.side).map_err(TrainError::Data)?;
    std::fs::create_dir_all(out).map_err(|e| run_err(out, e))?;
    let config_path = out.join("config.json");
    let checkpoint = out.join("checkpoint");
    check_run_folder(c, out, resume)?;
    let init = read_init(c)?;
    let json = serde_json::to_string_pretty(c).map_err(|e| run_err(out, e))?;
    write_atomic(&config_path, json.as_bytes()).map_err(|e| run_err(&config_path, e))?;

    let Subjects {
        train,
        train_folders,
        test,
        split,
        skipped,
    } = load_subjects(c)?;
    let split_json = serde_json::to_string_pretty(&split).map_err(|e| run_err(out, e))?;
    write_atomic(&out.join("split.json"), split_json.as_bytes()).map_err(|e| run_err(out, e))?;
    events(TrainEvent::Loaded {
        train: train.len(),
        test: test.len(),
        skipped,
    });

    let started_from = init.map(|(dir, meta)| {
        Box::new(crate::model::StartedFrom {
            weights: dir.clone(),
            training: meta.training,
        })
    });
    let output_scale =
        crate::data::OutputScale::fit(&train.iter().map(|s| s.ranges).collect::<Vec<_>>());
    let meta = |epochs: usize| {
        let mut meta = WeightsMeta {
            method: c.method,
            generator: None,
            mmsynthesis: None,
            replica: None,
            pgan: None,
            side: c.side,
            fit: c.fit,
            channel_order: c.sequences.names(),
            normalisation: crate::model::NORMALISATION.into(),
            imputation: c.imputation,
            output_scale: output_scale.clone(),
            training: TrainingInfo {
                data: c.data.clone(),
                train_subjects: split.train.clone(),
                test_subjects: split.test.clone(),
                epochs,
                curriculum: c.curriculum,
                seed: c.seed,
                started_from: started_from.clone(),
                calibrated_on: Vec::new(),
                averaged: Vec::new(),
            },
            validation: None,
            calibration: None,
            expected_error: None,
            test_time_flip: false,
            code_version: code_version(),
        };
        meta.set_network(c.network());
        meta
    };

    if c.method == Method::Replica {
        // Forests are fitted in one pass, not trained by steps.
        return replica::fit_run(c, out, resume, &train, &test, &meta, device, events);
    }
    let train_device = device.clone().autodiff();
    let mut state = if resume {
        State::load(c, &checkpoint, &train_device)?
    } else {
        State::fresh(c, &train_device)?
    };
    while state.progress.epochs_done < c.epochs {
        let epoch = state.progress.epochs_done + 1;
        let plan = epoch_plan(&train, &train_folders, c, epoch);
        events(TrainEvent::EpochStart {
            epoch,
            batches: plan.len(),
        });
        let started = std::time::Instant::now();
        let mut sum = StepLosses::default();
        let mut counted = 0usize;
        for (b, batch) in plan.iter().enumerate().skip(state.progress.batches_done) {
            if interrupt.load(Ordering::Relaxed) {
                state.progress.batches_done = b;
                state.save(&checkpoint)?;
                save_network(
                    &out.join("weights"),
                    &state.network(),
                    &meta(state.progress.epochs_done),
                )?;
                events(TrainEvent::Interrupted {
                    epoch,
                    batches_done: b,
                });
                return Ok(state.progress.epochs_done);
            }
            // Burn's RNG (noise imputation, dropout) reseeded per batch: a run resumed
            // mid-epoch draws the same numbers as an uninterrupted one.
            train_device.seed(
                c.seed
                    .wrapping_add(epoch as u64 * 7919)
                    .wrapping_add(b as u64 * 104_729),
            );
            let slices = train[batch.subject].batch(batch.start, c.batch, c.context(), batch.flip);
            let losses;
            (state, losses) = state.step(&slices, batch.scenario, c, &train_device);
            sum += losses;
            counted += 1;
            events(TrainEvent::Batch {
                epoch,
                done: b + 1,
                losses,
            });
        }
        let network = state.network();
        let quality = test_metrics(&network, &test, c, device);
        let log = EpochLog::new(
            epoch,
            plan.len(),
            c,
            sum / counted.max(1) as f64,
            started.elapsed().as_secs_f64(),
            quality,
        );
        state.progress = Progress {
            epochs_done: epoch,
            batches_done: 0,
        };
        state.save(&checkpoint)?;
        save_epoch(c, out, &network, &meta(epoch), &log)?;
        events(TrainEvent::EpochEnd(log));
    }
    Ok(state.progress.epochs_done)
}

impl EpochLog {
    /// The log line of `epoch`: its `mean` losses and its validation figures (`quality`:
    /// the paper's definition, then the brain's).
    fn new(
        epoch: usize,
        batches: usize,
        c: &TrainConfig,
        mean: StepLosses,
        seconds: f64,
        quality: Option<(Quality, Quality)>,
    ) -> EpochLog {
        let window = c.scenario_window(epoch);
        EpochLog {
            epoch,
            batches,
            scenarios: format!("{}..={}", window.start, window.end - 1),
            loss_g: mean.g,
            loss_adv: mean.adversarial,
            loss_l1: mean.l1,
            loss_d: mean.d,
            loss_embedding: mean.embedding,
            loss_ssim: mean.ssim,
            loss_distribution: mean.distribution,
            seconds,
            test: quality.map(|q| q.0),
            test_brain: quality.map(|q| q.1),
        }
    }
}

/// A new run needs an empty `out`; a resumed one the same method and networks as saved.
fn check_run_folder(c: &TrainConfig, out: &Path, resume: bool) -> Result<(), TrainError> {
    let config_path = out.join("config.json");
    if !resume {
        if out.join("checkpoint").exists() {
            return Err(run_err(
                out,
                "already holds a run: pass --resume to continue it, or choose another --out",
            ));
        }
        return Ok(());
    }
    let saved = load_saved_config(&config_path)?;
    if saved.method != c.method {
        return Err(run_err(
            &config_path,
            format!(
                "the run trains {}; resume it with --method {}",
                saved.method,
                saved.method.name()
            ),
        ));
    }
    if saved.network() != c.network()
        || (c.method == Method::MmGan && saved.discriminator != c.discriminator)
        || saved.side != c.side
    {
        return Err(run_err(&config_path, "the run was made with another network config; resume with the same --width/--depth/--size"));
    }
    Ok(())
}

/// The --init folder and its sidecar, read once: weights of another sequence set are
/// refused before minutes of loading subjects, and the run's sidecar records where it
/// started.
fn read_init(c: &TrainConfig) -> Result<Option<(&String, WeightsMeta)>, TrainError> {
    let Some(dir) = &c.init else {
        return Ok(None);
    };
    let meta = crate::model::WeightsMeta::load(Path::new(dir))?;
    if meta.sequences() != c.sequences {
        return Err(run_err(
            Path::new(dir),
            format!(
                "a model of {}, this run's sequences are {} (--sequences)",
                meta.sequences(),
                c.sequences
            ),
        ));
    }
    Ok(Some((dir, meta)))
}

/// An epoch's end in the run folder (the checkpoint is saved before): the latest weights,
/// the epoch's own (`--keep-epochs`), its log line, the best epoch's weights and the curves.
fn save_epoch(
    c: &TrainConfig,
    out: &Path,
    network: &crate::model::Network,
    meta: &WeightsMeta,
    log: &EpochLog,
) -> Result<(), TrainError> {
    save_network(&out.join("weights"), network, meta)?;
    if c.keep_epochs {
        let dir = out.join("epochs").join(log.epoch.to_string());
        save_network(&dir, network, meta)?;
    }
    let log_path = out.join("log.jsonl");
    append_log(&log_path, log)?;
    let logs = read_log(&log_path).map_err(|e| run_err(&log_path, e))?;
    // The epoch to ship is chosen on validation figures: keep the best one's weights
    // (the per-epoch figures move by about 0.01 SSIM between epochs).
    if is_best(&logs) {
        save_network(&out.join("best"), network, meta)?;
    }
    // The figure is a convenience: a failure to draw it must not stop training.
    if let Err(e) = draw_curves(
        &logs,
        &format!("{} - {}", subject_key(out), c.method),
        c.validation_label(),
        &out.join("curves.png"),
    ) {
        log::warn!("learning curves not drawn: {e}");
    }
    Ok(())
}

/// Whether the last epoch of `logs` has the highest validation brain SSIM so far (the
/// first epoch with figures counts as best).
fn is_best(logs: &[EpochLog]) -> bool {
    let ssim = |l: &EpochLog| l.test_brain.map(|q| q.ssim);
    let Some((last, earlier)) = logs.split_last() else {
        return false;
    };
    let Some(now) = ssim(last) else {
        return false;
    };
    earlier.iter().filter_map(ssim).all(|before| now > before)
}

fn append_log(path: &Path, log: &EpochLog) -> Result<(), TrainError> {
    use std::io::Write;
    let line = serde_json::to_string(log).map_err(|e| run_err(path, e))?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{line}"))
        .map_err(|e| run_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Fit, SliceGeometry, SubjectSlices};
    use crate::model::{DiscriminatorConfig, GeneratorConfig, ReplicaConfig};

    fn subject(name: &str, slices: usize) -> SubjectSlices {
        let side = 16;
        let brain = ndarray::Array3::from_elem((side, side, 1), true);
        SubjectSlices {
            name: name.into(),
            side,
            z: (0..slices).collect(),
            data: vec![1.0; slices * 4 * side * side],
            ranges: [crate::io::BrainRange { lo: 0.0, hi: 1.0 }; 4],
            geometry: SliceGeometry::new(brain.view(), side, Fit::Pad),
        }
    }

    fn config() -> TrainConfig {
        TrainConfig::new(
            GeneratorConfig::new(),
            DiscriminatorConfig::new(),
            Vec::new(),
        )
        .with_max_batches(Some(400))
    }

    #[test]
    fn a_run_saved_before_newer_config_fields_loads_with_their_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let c = TrainConfig::new(
            GeneratorConfig::new().with_width(16),
            DiscriminatorConfig::new(),
            vec!["data".into()],
        )
        .with_ssim_weight(0.1);
        let mut json = serde_json::to_value(&c).unwrap();
        let object = json.as_object_mut().unwrap();
        object.remove("replica");
        object.remove("mmsynthesis");
        object.remove("distribution_weight");
        std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
        let loaded = load_saved_config(&path).unwrap();
        assert_eq!(loaded.replica, ReplicaConfig::new());
        assert_eq!(loaded.generator.width, 16, "saved fields kept");
        assert_eq!(loaded.ssim_weight, 0.1);
        assert_eq!(
            loaded.distribution_weight, 0.0,
            "runs before the term had none"
        );
        std::fs::write(&path, "{").unwrap();
        let e = load_saved_config(&path).unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
    }

    #[test]
    fn an_epoch_log_holds_the_mean_of_its_steps_losses() {
        let step = |k: f64| StepLosses {
            g: k,
            adversarial: 2.0 * k,
            l1: 3.0 * k,
            d: 4.0 * k,
            embedding: 5.0 * k,
            ssim: 6.0 * k,
            distribution: 7.0 * k,
        };
        let mut sum = StepLosses::default();
        for k in [1.0, 2.0, 6.0] {
            sum += step(k);
        }
        let log = EpochLog::new(3, 10, &config(), sum / 3.0, 1.5, None);
        let losses = [
            log.loss_g,
            log.loss_adv,
            log.loss_l1,
            log.loss_d,
            log.loss_embedding,
            log.loss_ssim,
            log.loss_distribution,
        ];
        assert_eq!(losses, [3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0]);
        assert_eq!((log.epoch, log.batches, log.seconds), (3, 10, 1.5));
        assert!(log.scenarios.contains("..="), "{}", log.scenarios);
        assert!(log.test_brain.is_none());
    }

    #[test]
    fn the_validation_label_names_the_scenarios_validated() {
        let mmgan = config();
        assert!(mmgan
            .validation_scenarios()
            .iter()
            .all(|s| s.missing().len() == 1));
        assert_eq!(mmgan.validation_label(), "one missing");
        let pgan = config().with_method(Method::PGan);
        assert!(pgan
            .validation_scenarios()
            .iter()
            .all(|s| s.available().len() == 1));
        assert_eq!(pgan.validation_label(), "one available");
    }

    #[test]
    fn the_best_epoch_is_the_one_with_the_highest_validation_brain_ssim_so_far() {
        let epoch = |epoch, ssim: Option<f64>| EpochLog {
            epoch,
            batches: 1,
            scenarios: "0..=13".into(),
            loss_g: 0.0,
            loss_adv: 0.0,
            loss_l1: 0.0,
            loss_d: 0.0,
            loss_embedding: 0.0,
            loss_ssim: 0.0,
            loss_distribution: 0.0,
            seconds: 0.0,
            test: None,
            test_brain: ssim.map(|ssim| Quality {
                ssim,
                ..Quality::default()
            }),
        };
        assert!(!is_best(&[]));
        assert!(is_best(&[epoch(1, Some(0.3))]));
        assert!(is_best(&[epoch(1, Some(0.3)), epoch(2, Some(0.31))]));
        assert!(!is_best(&[epoch(1, Some(0.3)), epoch(2, Some(0.29))]));
        assert!(
            !is_best(&[epoch(1, Some(0.3)), epoch(2, Some(0.3))]),
            "ties keep the earlier"
        );
        assert!(!is_best(&[epoch(1, Some(0.3)), epoch(2, None)]));
        assert!(is_best(&[epoch(1, None), epoch(2, Some(0.1))]));
    }

    #[test]
    fn balanced_plans_draw_each_folder_equally_and_flip_about_half() {
        // Ten subjects in folder 0, one in folder 1.
        let mut train: Vec<SubjectSlices> =
            (0..10).map(|i| subject(&format!("p{i}"), 40)).collect();
        train.push(subject("real", 40));
        let folders: Vec<usize> = (0..11).map(|i| usize::from(i == 10)).collect();
        let from_real = |plan: &[PlannedBatch]| plan.iter().filter(|b| b.subject == 10).count();

        let plain = epoch_plan(&train, &folders, &config(), 1);
        assert_eq!(plain.len(), 110, "every batch once (11 x 40 / 4)");
        assert_eq!(from_real(&plain), 10);
        assert!(plain.iter().all(|b| !b.flip));

        let c = config().with_balance_folders(true).with_flip(true);
        let plan = epoch_plan(&train, &folders, &c, 1);
        assert_eq!(plan.len(), 110);
        let real = from_real(&plan);
        assert!(
            (35..=75).contains(&real),
            "{real} of 110 from the one-subject folder"
        );
        let flipped = plan.iter().filter(|b| b.flip).count();
        assert!((35..=75).contains(&flipped), "{flipped} of 110 flipped");
        assert!(plan.iter().all(|b| b.start + c.batch <= 40));
        assert_eq!(plan, epoch_plan(&train, &folders, &c, 1), "seeded");
    }

    #[test]
    fn one_missing_share_sets_how_many_batches_have_one_sequence_missing() {
        let train: Vec<SubjectSlices> = (0..10).map(|i| subject(&format!("p{i}"), 200)).collect();
        let folders = vec![0; 10];
        let c = config().with_curriculum(false);
        let one_missing = |c: &TrainConfig| {
            epoch_plan(&train, &folders, c, 3)
                .iter()
                .filter(|b| b.scenario.missing().len() == 1)
                .count()
        };
        // 400 batches (the cap): uniform over 14 scenarios gives 4 in 14 (~114).
        assert!((80..=150).contains(&one_missing(&c)), "{}", one_missing(&c));
        let shared = c.clone().with_one_missing_share(Some(0.7));
        assert!(
            (245..=315).contains(&one_missing(&shared)),
            "{}",
            one_missing(&shared)
        );
        let all = c.clone().with_one_missing_share(Some(1.0));
        assert_eq!(one_missing(&all), 400);
        let none = c.clone().with_one_missing_share(Some(0.0));
        assert_eq!(one_missing(&none), 0);
        // Every other scenario still occurs.
        let kinds: std::collections::HashSet<_> = epoch_plan(&train, &folders, &shared, 3)
            .iter()
            .map(|b| b.scenario)
            .collect();
        assert_eq!(kinds.len(), 14);
        // The curriculum's first window holds only one-missing scenarios: a share of 0
        // cannot empty it.
        let early = config()
            .with_curriculum(true)
            .with_one_missing_share(Some(0.0));
        assert!(epoch_plan(&train, &folders, &early, 1)
            .iter()
            .all(|b| b.scenario.missing().len() == 1));
    }
}
