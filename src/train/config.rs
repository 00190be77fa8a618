//! What a run is: its configuration (`config.json`), and reading one saved by an older
//! build.

use std::path::Path;

use burn::config::Config;
use rand::rngs::StdRng;
use rand::RngExt;

use super::{run_err, TrainError};
use crate::data::Fit;
use crate::io::SequenceSet;
use crate::model::{
    scenario_window, DiscriminatorConfig, GeneratorConfig, Imputation, Method, MmSynthesisConfig,
    NetworkConfig, PGanConfig, ReplicaConfig, Scenario,
};

/// Everything a run is, saved as `config.json` in the run folder.
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// MM-GAN's networks (used when `method` is MM-GAN).
    pub generator: GeneratorConfig,
    pub discriminator: DiscriminatorConfig,
    /// The method trained; runs saved before there were several are MM-GAN's.
    #[config(default = "Method::MmGan")]
    pub method: Method,
    /// MM-Synthesis's network (used when `method` is MM-Synthesis).
    #[config(default = "MmSynthesisConfig::new()")]
    pub mmsynthesis: MmSynthesisConfig,
    /// REPLICA's forests (used when `method` is REPLICA).
    #[config(default = "ReplicaConfig::new()")]
    pub replica: ReplicaConfig,
    /// pGAN's pair generators and critics (used when `method` is pGAN).
    #[config(default = "PGanConfig::new()")]
    pub pgan: PGanConfig,
    /// The model's sequences in channel order (BraTS's T1, T1c, T2, FLAIR; ISLES's T1, T2,
    /// DWI, FLAIR); every training subject must have all four.
    #[config(default = "SequenceSet::BRATS")]
    pub sequences: SequenceSet,
    /// Data folders (one sub-folder per subject).
    pub data: Vec<String>,
    /// Model slice side; divisible by 2^depth.
    #[config(default = 256)]
    pub side: usize,
    #[config(default = "Fit::Resize")]
    pub fit: Fit,
    #[config(default = 60)]
    pub epochs: usize,
    /// Consecutive slices of one subject per batch (reference 4).
    #[config(default = 4)]
    pub batch: usize,
    #[config(default = 2e-4)]
    pub lr: f64,
    /// MM-GAN: the generator's input layer learns at this x `lr`. A `--context` increase
    /// starts the neighbours' weights at zero, and Adam moves a weight by about `lr` a
    /// step whatever its gradient, so a larger rate there lets them grow faster (10x on
    /// the shipped c3 weights did worse: weights/MODEL_CARD.md, "Next"). May change on
    /// --resume.
    #[config(default = 1.0)]
    pub input_lr_scale: f64,
    #[config(default = 0.5)]
    pub beta1: f32,
    #[config(default = 0.999)]
    pub beta2: f32,
    /// Generator loss = adversarial x this + selective L1 x (1 - this) (reference 0.1).
    #[config(default = 0.1)]
    pub adversarial_weight: f32,
    /// Weight of the structural term (1 - brain SSIM on the missing channels) added to
    /// the selective L1 inside the pixel share of the loss; 0 is the paper's loss.
    #[config(default = 0.0)]
    pub ssim_weight: f32,
    /// Weight of the distribution term (the 1-D Wasserstein distance between the brain
    /// intensities of each missing channel, synthesized and acquired) added beside the
    /// structural term; 0: none.
    #[config(default = 0.0)]
    pub distribution_weight: f32,
    #[config(default = "Imputation::Zeros")]
    pub imputation: Imputation,
    #[config(default = true)]
    pub curriculum: bool,
    /// Share of batches whose scenario has one sequence missing, the rest drawn alike from
    /// the window's other scenarios: the 3 -> 1 cases are what a clinic meets most and
    /// what the bar scores, but uniform drawing gives them 4 batches in 14. `None`: every
    /// scenario of the window alike. Ignored by pGAN; may change on --resume.
    #[config(default = "None")]
    pub one_missing_share: Option<f64>,
    #[config(default = 42)]
    pub seed: u64,
    /// Fraction of subjects held out for testing.
    #[config(default = 0.2)]
    pub test_fraction: f64,
    /// Subjects (folder names) that must be in the test split, whatever the shuffle.
    #[config(default = "Vec::new()")]
    pub hold_out: Vec<String>,
    /// Cap on batches per epoch (quick runs and tests); `None`: every batch.
    #[config(default = "None")]
    pub max_batches: Option<usize>,
    /// Generator weights folder to start from (fine-tuning); the discriminator and both
    /// optimisers start fresh. `None`: random initialisation.
    #[config(default = "None")]
    pub init: Option<String>,
    /// Draw each batch from a data folder chosen uniformly, so a small folder (a few real
    /// studies) weighs as much as a large one (many phantoms).
    #[config(default = false)]
    pub balance_folders: bool,
    /// Mirror half of the batches left-right: brains are near-symmetric and tumours are
    /// not, so this doubles the tumour positions seen.
    #[config(default = false)]
    pub flip: bool,
    /// Also keep each epoch's weights in `RUN/epochs/N` (the run otherwise keeps the
    /// latest and the best): what `mmgan average` averages.
    #[config(default = false)]
    pub keep_epochs: bool,
}

impl TrainConfig {
    /// The config of the network this run trains.
    /// Neighbouring slices a side each input carries: the MM-GAN generator's
    /// [`GeneratorConfig::context`](crate::model::GeneratorConfig::context); the other
    /// methods read one slice.
    pub fn context(&self) -> usize {
        match self.method {
            Method::MmGan => self.generator.context,
            _ => 0,
        }
    }

    /// Channels of the network's input: the sequences of every slice [`Self::context`]
    /// reads.
    pub fn input_channels(&self) -> usize {
        match self.method {
            Method::MmGan => self.generator.input_channels(),
            _ => 4,
        }
    }

    pub fn network(&self) -> NetworkConfig {
        match self.method {
            Method::MmGan => NetworkConfig::MmGan(self.generator.clone()),
            Method::MmSynthesis => NetworkConfig::MmSynthesis(self.mmsynthesis.clone()),
            Method::Replica => NetworkConfig::Replica(self.replica.clone()),
            Method::PGan => NetworkConfig::PGan(self.pgan.clone()),
        }
    }

    /// The scenarios (indices into [`Scenario::all`]) the batches of `epoch` draw from:
    /// the curriculum's window, or for pGAN the four with one sequence available (each
    /// batch trains the three pairs of its source).
    pub fn scenario_window(&self, epoch: usize) -> std::ops::Range<usize> {
        match self.method {
            Method::PGan => 0..4,
            _ => scenario_window(epoch, self.curriculum),
        }
    }

    /// The scenario of one batch of `epoch`, drawn from [`Self::scenario_window`] (and
    /// `one_missing_share`). Without a share it takes one draw, as runs always have, so
    /// a resumed run keeps its plan.
    pub fn draw_scenario(&self, epoch: usize, rng: &mut StdRng) -> Scenario {
        let all = Scenario::all(self.sequences);
        let window = self.scenario_window(epoch);
        let share = match self.one_missing_share {
            Some(p) if self.method != Method::PGan => p.clamp(0.0, 1.0),
            _ => return all[rng.random_range(window)],
        };
        let (one, rest): (Vec<Scenario>, Vec<Scenario>) =
            all[window].iter().partition(|s| s.missing().len() == 1);
        // A window of one kind only (the curriculum's first) takes no coin.
        let pool = if rest.is_empty() || (!one.is_empty() && rng.random_bool(share)) {
            &one
        } else {
            &rest
        };
        pool[rng.random_range(0..pool.len())]
    }

    /// The scenarios validation figures are taken on: each sequence missing alone, or
    /// for pGAN each sequence alone available.
    pub fn validation_scenarios(&self) -> Vec<Scenario> {
        let range = match self.method {
            Method::PGan => 0..4,
            _ => 10..14,
        };
        Scenario::all(self.sequences)[range].to_vec()
    }

    /// What the per-epoch validation figures are of, for the learning curves: read off
    /// [`Self::validation_scenarios`] so the two cannot drift apart.
    pub fn validation_label(&self) -> &'static str {
        let scenarios = self.validation_scenarios();
        if scenarios.iter().all(|s| s.available().len() == 1) {
            "one available"
        } else if scenarios.iter().all(|s| s.missing().len() == 1) {
            "one missing"
        } else {
            "mixed scenarios"
        }
    }
}

/// A run's saved `config.json`, fields added since it was written taking their defaults
/// (burn's `Config` deserialization requires every field, so a run saved by an older
/// build could not be resumed).
pub fn load_saved_config(path: &Path) -> Result<TrainConfig, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| run_err(path, e))?;
    let mut saved: serde_json::Value = serde_json::from_str(&text).map_err(|e| run_err(path, e))?;
    let template = TrainConfig::new(
        GeneratorConfig::new(),
        DiscriminatorConfig::new(),
        Vec::new(),
    );
    let template = serde_json::to_value(&template).map_err(|e| run_err(path, e))?;
    if let (Some(saved), serde_json::Value::Object(defaults)) = (saved.as_object_mut(), template) {
        for (key, value) in defaults {
            saved.entry(key).or_insert(value);
        }
    }
    serde_json::from_value(saved).map_err(|e| run_err(path, e))
}
