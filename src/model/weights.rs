//! Weights on disk: a Burn record of the generator (burnpack) and a JSON sidecar saying
//! how to use it (config, channel order, normalisation, imputation, geometry, provenance).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;

use super::{Generator, GeneratorConfig, Imputation};
use crate::data::Fit;

/// File names inside a weights folder.
pub const GENERATOR_FILE: &str = "generator.bpk";
pub const META_FILE: &str = "generator.json";

/// Everything needed to use a generator record, saved beside it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WeightsMeta {
    pub generator: GeneratorConfig,
    /// Model slice side (pixels).
    pub side: usize,
    pub fit: Fit,
    /// Channel order of the record, by sequence name.
    pub channel_order: Vec<String>,
    pub normalisation: String,
    pub imputation: Imputation,
    /// Typical normalisation divisor of each sequence in the training data (median over
    /// subjects): the intensity scale synthesized volumes are given.
    pub reference_means: [f32; 4],
    pub training: TrainingInfo,
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
    #[error("{path}: no weights folder. Train one with `mmgan train --out RUN_DIR` (its weights are in RUN_DIR/weights), or use the shipped weights/ folder of the repository", path = .0.display())]
    MissingFolder(PathBuf),
    #[error("{path}: missing {what}; a weights folder holds {GENERATOR_FILE} and {META_FILE}", path = .path.display())]
    MissingFile { path: PathBuf, what: &'static str },
    #[error("{path}: unreadable sidecar: {reason}", path = .path.display())]
    BadMeta { path: PathBuf, reason: String },
    #[error("{path}: the record does not match its config (width {width}, depth {depth}): {reason}", path = .path.display())]
    Mismatch {
        path: PathBuf,
        width: usize,
        depth: usize,
        reason: String,
    },
    #[error("{path}: cannot write weights: {reason}", path = .path.display())]
    Write { path: PathBuf, reason: String },
}

impl WeightsMeta {
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
        let expected: Vec<String> = crate::io::Sequence::ALL
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        if meta.channel_order != expected {
            return Err(WeightsError::BadMeta {
                path,
                reason: format!(
                    "channel order {:?}, this build expects {:?}",
                    meta.channel_order, expected
                ),
            });
        }
        if meta.side % (1 << meta.generator.depth) != 0 {
            return Err(WeightsError::BadMeta {
                path,
                reason: format!(
                    "side {} is not divisible by 2^{}",
                    meta.side, meta.generator.depth
                ),
            });
        }
        Ok(meta)
    }
}

/// Load the generator of a weights folder onto `device`: the sidecar first, then the
/// record, checked against the config the sidecar names.
pub fn load_generator(
    dir: &Path,
    device: &Device,
) -> Result<(Generator, WeightsMeta), WeightsError> {
    let meta = WeightsMeta::load(dir)?;
    let path = dir.join(GENERATOR_FILE);
    if !path.is_file() {
        return Err(WeightsError::MissingFile {
            path,
            what: "the generator record",
        });
    }
    let generator = meta
        .generator
        .init(device)
        .try_load_file(&path)
        .map_err(|e| WeightsError::Mismatch {
            path: path.clone(),
            width: meta.generator.width,
            depth: meta.generator.depth,
            reason: e.to_string(),
        })?;
    Ok((generator, meta))
}

/// Save a generator and its sidecar into `dir` (created if needed), each atomically.
pub fn save_generator(
    dir: &Path,
    generator: &Generator,
    meta: &WeightsMeta,
) -> Result<(), WeightsError> {
    let err = |path: &Path, reason: String| WeightsError::Write {
        path: path.into(),
        reason,
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e.to_string()))?;
    let record = dir.join(GENERATOR_FILE);
    crate::io::replace_atomically(&record, ".bpk", |temp| {
        generator.clone().save_file(temp).map_err(|e| e.to_string())
    })
    .map_err(|e| err(&record, e))?;
    let json = serde_json::to_string_pretty(meta).map_err(|e| err(dir, e.to_string()))?;
    crate::io::write_atomic(&dir.join(META_FILE), json.as_bytes())
        .map_err(|e| err(dir, e.to_string()))
}

/// The code version recorded in sidecars.
pub fn code_version() -> String {
    format!("mmgan {}", env!("CARGO_PKG_VERSION"))
}
