//! Weights on disk: a Burn record of the network (burnpack) and a JSON sidecar saying
//! how to use it (method, config, channel order, normalisation, imputation, geometry,
//! provenance).

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::{
    Generator, GeneratorConfig, Imputation, Method, MmSynthesisConfig, Network, NetworkConfig,
    PGanConfig, ReplicaConfig,
};
use crate::data::{Fit, OutputScale};
use crate::io::SequenceSet;

/// File names inside a weights folder (the record keeps its historical name whatever the
/// method).
pub const GENERATOR_FILE: &str = "generator.bpk";
/// REPLICA's record: its forests.
pub const FORESTS_FILE: &str = "forests.json.gz";
pub const META_FILE: &str = "generator.json";

/// Everything needed to use a generator record, saved beside it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WeightsMeta {
    /// The method the record belongs to; sidecars written before there were several
    /// are MM-GAN's.
    #[serde(default)]
    pub method: Method,
    /// MM-GAN's generator (present exactly when the method is MM-GAN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorConfig>,
    /// MM-Synthesis's network (present exactly when the method is MM-Synthesis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmsynthesis: Option<MmSynthesisConfig>,
    /// REPLICA's forests (present exactly when the method is REPLICA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<ReplicaConfig>,
    /// pGAN's pair generators (present exactly when the method is pGAN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgan: Option<PGanConfig>,
    /// Model slice side (pixels).
    pub side: usize,
    pub fit: Fit,
    /// The model's sequences in the record's channel order, by name (`["T1", "T1c", "T2",
    /// "FLAIR"]` for BraTS; see [`Self::sequences`]).
    pub channel_order: Vec<String>,
    /// How inputs were normalised, in words (the code: [`crate::data::model_volume`]).
    pub normalisation: String,
    pub imputation: Imputation,
    /// How a synthesized sequence gets its study's intensity units back.
    pub output_scale: OutputScale,
    /// Average each output with that of the left-right mirrored input by default
    /// (test-time flip; `--flip`/`--no-flip` override). Set where it measured better on
    /// the validation subjects.
    #[serde(default)]
    pub test_time_flip: bool,
    /// The output's intensity distribution matched to acquired volumes (`mmgan
    /// calibrate`); absent: the output is used as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::data::OutputCalibration>,
    /// Expected error by synthesized intensity (`mmgan calibrate`): the uncertainty maps'
    /// aleatoric part; absent, they show the dropout spread alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_error: Option<crate::data::ExpectedError>,
    pub training: TrainingInfo,
    /// Brain PSNR/SSIM (challenge definition) of each sequence missing alone, averaged over
    /// the validation subjects (`mmgan eval`), channel order: what `mmgan check` compares
    /// a study's leave-one-out figures with. Absent for weights never evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<[crate::metrics::Quality; 4]>,
    pub code_version: String,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct TrainingInfo {
    pub data: Vec<String>,
    pub train_subjects: Vec<String>,
    pub test_subjects: Vec<String>,
    pub epochs: usize,
    pub curriculum: bool,
    pub seed: u64,
    /// Training subjects the output calibration was fitted on (`mmgan calibrate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibrated_on: Vec<String>,
    /// Parameter average (`mmgan average`): the weights folders averaged, in order (these
    /// weights are their mean; `epochs` is the last one's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub averaged: Vec<String>,
    /// Fine-tuning: the weights this run started from, and their own training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<Box<StartedFrom>>,
}

/// Where a fine-tuned generator started: the weights folder and what it had been trained on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StartedFrom {
    pub weights: String,
    pub training: TrainingInfo,
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: no weights folder. Train one with `mmgan train --out RUN_DIR` (its weights are in RUN_DIR/weights), or leave out --weights to use the shipped weights", path = .0.display())]
    MissingFolder(PathBuf),
    #[error("{path}: missing {what}; a weights folder holds its record ({GENERATOR_FILE}; REPLICA: {FORESTS_FILE}) and {META_FILE}", path = .path.display())]
    MissingFile { path: PathBuf, what: &'static str },
    #[error("{path}: unreadable sidecar: {reason}", path = .path.display())]
    BadMeta { path: PathBuf, reason: String },
    #[error("{path}: the record does not match its config ({config}): {reason}", path = .path.display())]
    Mismatch {
        path: PathBuf,
        /// The config in words ("MM-GAN width 16, depth 5").
        config: String,
        reason: String,
    },
    #[error("{path}: these are {found} weights; {wanted} weights are needed here", path = .path.display())]
    WrongMethod {
        path: PathBuf,
        found: Method,
        wanted: Method,
    },
    #[error("{path}: cannot write weights: {reason}", path = .path.display())]
    Write { path: PathBuf, reason: String },
}

impl WeightsMeta {
    /// The model's sequences, in channel order (a loaded sidecar's are checked; BraTS's
    /// for a sidecar that was never validated and names no valid set).
    pub fn sequences(&self) -> SequenceSet {
        SequenceSet::from_names(&self.channel_order).unwrap_or_default()
    }

    /// Name the model's sequences.
    pub fn set_sequences(&mut self, set: SequenceSet) {
        self.channel_order = set.names();
    }

    /// Write this sidecar into `dir` atomically (the record beside it untouched).
    pub fn save(&self, dir: &Path) -> Result<PathBuf, WeightsError> {
        let path = dir.join(META_FILE);
        let err = |reason: String| WeightsError::Write {
            path: path.clone(),
            reason,
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| err(e.to_string()))?;
        crate::io::write_atomic(&path, json.as_bytes()).map_err(|e| err(e.to_string()))?;
        Ok(path)
    }

    pub fn load(dir: &Path) -> Result<WeightsMeta, WeightsError> {
        if !dir.is_dir() {
            return Err(WeightsError::MissingFolder(dir.into()));
        }
        let path = dir.join(META_FILE);
        let text = std::fs::read_to_string(&path).map_err(|_| WeightsError::MissingFile {
            path: path.clone(),
            what: "the JSON sidecar",
        })?;
        let meta: WeightsMeta = serde_json::from_str(&text).map_err(|e| WeightsError::BadMeta {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        meta.validate()
            .map_err(|reason| WeightsError::BadMeta { path, reason })?;
        Ok(meta)
    }

    /// The network config of the sidecar's method (an error when it is absent, or when
    /// another method's config is present too).
    pub fn network(&self) -> Result<NetworkConfig, String> {
        match (
            self.method,
            &self.generator,
            &self.mmsynthesis,
            &self.replica,
            &self.pgan,
        ) {
            (Method::MmGan, Some(g), None, None, None) => Ok(NetworkConfig::MmGan(g.clone())),
            (Method::MmSynthesis, None, Some(m), None, None) => {
                Ok(NetworkConfig::MmSynthesis(m.clone()))
            }
            (Method::Replica, None, None, Some(r), None) => Ok(NetworkConfig::Replica(r.clone())),
            (Method::PGan, None, None, None, Some(p)) => Ok(NetworkConfig::PGan(p.clone())),
            (method, g, m, r, p) => {
                let held: Vec<&str> = [
                    g.as_ref().map(|_| "a generator (MM-GAN) config"),
                    m.as_ref().map(|_| "an mmsynthesis config"),
                    r.as_ref().map(|_| "a replica config"),
                    p.as_ref().map(|_| "a pgan config"),
                ]
                .into_iter()
                .flatten()
                .collect();
                Err(format!(
                    "method is {:?} but the sidecar holds {}",
                    method.name(),
                    match held.as_slice() {
                        [] => "no network config".to_string(),
                        _ => held.join(" and "),
                    }
                ))
            }
        }
    }

    /// Put the config of `network` in the sidecar, the method with it.
    pub fn set_network(&mut self, network: NetworkConfig) {
        self.method = network.method();
        (self.generator, self.mmsynthesis, self.replica, self.pgan) = match network {
            NetworkConfig::MmGan(g) => (Some(g), None, None, None),
            NetworkConfig::MmSynthesis(m) => (None, Some(m), None, None),
            NetworkConfig::Replica(r) => (None, None, Some(r), None),
            NetworkConfig::PGan(p) => (None, None, None, Some(p)),
        };
    }

    /// Every field within the range this build can use, checked before any network is
    /// built (a hand-edited sidecar must not reach an allocation or an assertion in burn).
    /// The error names the field.
    pub fn validate(&self) -> Result<(), String> {
        SequenceSet::from_names(&self.channel_order)
            .map_err(|e| format!("channel_order {:?}: {e}", self.channel_order))?;
        self.network()?.check(self.side)?;
        if let Some(c) = &self.calibration {
            let monotone = c.curves.iter().all(|k| {
                k.iter().flatten().all(|v| v.is_finite() && v.abs() < 1e3)
                    && k.windows(2)
                        .all(|w| w[1][0] > w[0][0] && w[1][1] >= w[0][1])
            });
            if !monotone {
                return Err("calibration.curves must be finite, increasing knots".into());
            }
        }
        if let Some(e) = &self.expected_error {
            let sane = e.by_intensity.iter().all(|t| {
                (t.is_empty() || t.len() == crate::data::ERROR_BINS)
                    && t.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v))
            });
            if !sane {
                return Err(format!(
                    "expected_error must hold {} errors in [0, 1] per sequence",
                    crate::data::ERROR_BINS
                ));
            }
        }
        let scale = &self.output_scale;
        if scale
            .log_hi_ratio
            .iter()
            .flatten()
            .any(|r| !r.is_finite() || r.abs() > 20.0)
        {
            return Err("output_scale.log_hi_ratio must hold finite values within +-20".into());
        }
        if scale
            .lo_fraction
            .iter()
            .any(|f| !f.is_finite() || !(-1.0..1.0).contains(f))
        {
            return Err("output_scale.lo_fraction must hold finite values in [-1, 1)".into());
        }
        Ok(())
    }
}

/// Load the network of a weights folder onto `device`, whatever its method: the sidecar
/// first, then the record, checked against the config the sidecar names.
pub fn load_network(dir: &Path, device: &Device) -> Result<(Network, WeightsMeta), WeightsError> {
    let meta = WeightsMeta::load(dir)?;
    let network = load_record(dir, &meta, device)?;
    Ok((network, meta))
}

/// The record of `dir` loaded into the network its (loaded, validated) sidecar `meta`
/// describes.
fn load_record(dir: &Path, meta: &WeightsMeta, device: &Device) -> Result<Network, WeightsError> {
    let config = meta.network().map_err(|reason| WeightsError::BadMeta {
        path: dir.join(META_FILE),
        reason,
    })?;
    let path = dir.join(config.record_file());
    if !path.is_file() {
        return Err(WeightsError::MissingFile {
            path,
            what: "the network record",
        });
    }
    config
        .load(meta.sequences(), &path, device)
        .map_err(|reason| WeightsError::Mismatch {
            config: config.describe(),
            path,
            reason,
        })
}

/// Load the network of a weights folder and refuse it unless it is `wanted`'s (the error
/// names both methods), before its record is read.
pub fn load_method(
    dir: &Path,
    wanted: Method,
    device: &Device,
) -> Result<(Network, WeightsMeta), WeightsError> {
    let meta = WeightsMeta::load(dir)?;
    if meta.method != wanted {
        return Err(WeightsError::WrongMethod {
            path: dir.into(),
            found: meta.method,
            wanted,
        });
    }
    let network = load_record(dir, &meta, device)?;
    Ok((network, meta))
}

/// [`load_method`] for MM-GAN: its generator.
pub fn load_generator(
    dir: &Path,
    device: &Device,
) -> Result<(Generator, WeightsMeta), WeightsError> {
    match load_method(dir, Method::MmGan, device)? {
        (Network::MmGan(g), meta) => Ok((g, meta)),
        (other, _) => Err(WeightsError::WrongMethod {
            path: dir.into(),
            found: other.method(),
            wanted: Method::MmGan,
        }),
    }
}

/// Save a network and its sidecar into `dir` (created if needed), each atomically. The
/// sidecar must name the network's method.
pub fn save_network(dir: &Path, network: &Network, meta: &WeightsMeta) -> Result<(), WeightsError> {
    let err = |path: &Path, reason: String| WeightsError::Write {
        path: path.into(),
        reason,
    };
    if meta.method != network.method() {
        return Err(err(
            dir,
            format!(
                "the sidecar names {} but the network is {}",
                meta.method,
                network.method()
            ),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e.to_string()))?;
    let file = network.record_file();
    let record = dir.join(file);
    let extension = if file.ends_with(".bpk") {
        ".bpk"
    } else {
        ".gz"
    };
    crate::io::replace_atomically(&record, extension, |temp| network.save_file(temp))
        .map_err(|e| err(&record, e))?;
    meta.save(dir).map(|_| ())
}

/// [`save_network`] for an MM-GAN generator.
pub fn save_generator(
    dir: &Path,
    generator: &Generator,
    meta: &WeightsMeta,
) -> Result<(), WeightsError> {
    save_network(dir, &Network::MmGan(generator.clone()), meta)
}

/// The normalisation recorded in sidecars.
pub const NORMALISATION: &str = "per sequence: 0.5-99.5 percentiles inside the brain (union of the non-zero voxels) clipped and scaled to [0, 1], zero outside the brain";

/// The code version recorded in sidecars.
pub fn code_version() -> String {
    format!("mmgan {}", env!("CARGO_PKG_VERSION"))
}
