//! REPLICA (Jog et al., Medical Image Analysis 35, 2017), the patch-based random-forest
//! method MM-GAN is compared with: each voxel of a missing sequence is regressed from
//! features of the available sequences around it, by one forest per (available set,
//! target sequence): 28 forests for the 14 scenarios.
//!
//! Features per available sequence, in the axial plane of model space: the 3x3 patch
//! around the pixel and the image smoothed by Gaussians of 2, 4 and 8 pixels there (12
//! values). Deliberate differences from the paper, which works on 3-D patches at three
//! levels of a Gaussian pyramid, coarse to fine, with context descriptors at larger
//! radii: one level, 2-D, with the smoothed images standing in for the coarser levels and
//! the context. The forests are smartcore's (CART regression trees on bootstrap samples).
//!
//! Plain Rust on `f32` slices: [`super::Network`] moves tensors in and out.

use std::io::{Read, Write};
use std::path::Path;

use burn::config::Config;
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use super::Scenario;
use crate::io::{Sequence, SequenceSet};
use crate::metrics::gaussian_blur;

/// Smoothing scales of the context features (pixels, 1 mm in BraTS space).
const SIGMAS: [f64; 3] = [2.0, 4.0, 8.0];
/// Features of one input sequence: a 3x3 patch and one value per smoothing scale.
pub const FEATURES_PER_INPUT: usize = 9 + SIGMAS.len();
const ALL_CHANNELS: [usize; 4] = [0, 1, 2, 3];

type Forest = RandomForestRegressor<f32, f32, DenseMatrix<f32>, Vec<f32>>;

#[derive(Config, Debug, PartialEq)]
pub struct ReplicaConfig {
    /// Trees per forest.
    #[config(default = 10)]
    pub trees: usize,
    #[config(default = 12)]
    pub max_depth: u16,
    #[config(default = 10)]
    pub min_samples_leaf: usize,
    /// Training voxels per forest (sampled inside the brain of the training slices).
    #[config(default = 60_000)]
    pub samples: usize,
    /// Slices the training voxels are drawn from (their features are computed once).
    #[config(default = 600)]
    pub slices: usize,
}

impl ReplicaConfig {
    pub fn check(&self, _side: usize) -> Result<(), String> {
        if self.trees == 0 || self.samples == 0 || self.slices == 0 || self.max_depth == 0 {
            return Err("replica: trees, max_depth, samples and slices must be at least 1".into());
        }
        if self.trees > 1000 || self.samples > 10_000_000 || self.max_depth > 40 {
            return Err("replica: trees <= 1000, samples <= 10,000,000, max_depth <= 40".into());
        }
        Ok(())
    }

    /// An unfitted model (it synthesizes nothing until [`Replica::fit`]).
    pub fn init(&self) -> Replica {
        Replica {
            config: self.clone(),
            set: SequenceSet::default(),
            forests: Vec::new(),
        }
    }
}

/// One forest: the scenario it serves, the sequence it predicts.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    /// Index into [`Scenario::all`].
    scenario: usize,
    target: Sequence,
    forest: Forest,
}

/// REPLICA's forests.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Replica {
    config: ReplicaConfig,
    /// The sequences the forests were fitted on, in channel order (records written before
    /// sequence sets existed are BraTS's).
    #[serde(default)]
    set: SequenceSet,
    forests: Vec<Entry>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Replica({} forests, {:?})",
            self.forests.len(),
            self.config
        )
    }
}

/// The features of every pixel of one slice ([4][side][side], model space) from the
/// sequences `inputs`: for each, in that order, its 12 feature images
/// ([inputs][12][side * side]). Only the inputs are computed: the smoothing is most of a
/// slice's cost.
fn feature_maps(slice: &[f32], side: usize, inputs: &[usize]) -> Vec<Vec<f32>> {
    let n = side * side;
    let mut maps = Vec::with_capacity(inputs.len() * FEATURES_PER_INPUT);
    for &ch in inputs {
        let img = &slice[ch * n..(ch + 1) * n];
        for dy in [-1i64, 0, 1] {
            for dx in [-1i64, 0, 1] {
                let at = |y: usize, x: usize| {
                    let yy = (y as i64 + dy).clamp(0, side as i64 - 1) as usize;
                    let xx = (x as i64 + dx).clamp(0, side as i64 - 1) as usize;
                    img[yy * side + xx]
                };
                maps.push((0..n).map(|i| at(i / side, i % side)).collect());
            }
        }
        let wide: Vec<f64> = img.iter().map(|v| f64::from(*v)).collect();
        for sigma in SIGMAS {
            let blurred = gaussian_blur(&wide, side, side, sigma);
            maps.push(blurred.into_iter().map(|v| v as f32).collect());
        }
    }
    maps
}

/// The feature row of pixel `i`, from [`feature_maps`] (its inputs in their order).
fn row(maps: &[Vec<f32>], i: usize, out: &mut Vec<f32>) {
    out.extend(maps.iter().map(|m| m[i]));
}

/// Forests a fitted model holds: one per missing sequence of each of the 14 scenarios.
pub fn forest_count() -> usize {
    Scenario::all(SequenceSet::BRATS)
        .iter()
        .map(|s| s.missing().len())
        .sum()
}

/// Pixels with brain in any available input (the others stay 0, as MM-GAN's outside the
/// brain do after the engine's masking).
fn inside(slice: &[f32], side: usize, available: &[usize]) -> Vec<usize> {
    let n = side * side;
    (0..n)
        .filter(|&i| available.iter().any(|c| slice[c * n + i] > 0.0))
        .collect()
}

/// Training voxels: for each, every feature of every sequence and the four true values.
pub struct Samples {
    /// [sample][4 * FEATURES_PER_INPUT]
    features: Vec<f32>,
    /// [sample][4]
    values: Vec<f32>,
}

impl Samples {
    /// Draw about `per_slice` brain pixels of each slice (`[4][side][side]`) with `pick`
    /// (a uniform index below its argument).
    pub fn draw(
        slices: &[&[f32]],
        side: usize,
        per_slice: usize,
        pick: &mut dyn FnMut(usize) -> usize,
    ) -> Samples {
        let (mut features, mut values) = (Vec::new(), Vec::new());
        let n = side * side;
        for slice in slices {
            let brain = inside(slice, side, &ALL_CHANNELS);
            if brain.is_empty() {
                continue;
            }
            let maps = feature_maps(slice, side, &ALL_CHANNELS);
            for _ in 0..per_slice {
                let i = brain[pick(brain.len())];
                row(&maps, i, &mut features);
                values.extend((0..4).map(|ch| slice[ch * n + i]));
            }
        }
        Samples { features, values }
    }

    pub fn len(&self) -> usize {
        self.values.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The design matrix of the input channels `available` (row-major) and the values of
    /// channel `target`.
    fn design(&self, available: &[usize], target: usize) -> (DenseMatrix<f32>, Vec<f32>) {
        let all = 4 * FEATURES_PER_INPUT;
        let mut x = Vec::with_capacity(self.len() * available.len() * FEATURES_PER_INPUT);
        for s in 0..self.len() {
            let r = &self.features[s * all..(s + 1) * all];
            for c in available {
                let first = c * FEATURES_PER_INPUT;
                x.extend_from_slice(&r[first..first + FEATURES_PER_INPUT]);
            }
        }
        let y = (0..self.len())
            .map(|s| self.values[s * 4 + target])
            .collect();
        let cols = available.len() * FEATURES_PER_INPUT;
        let matrix = DenseMatrix::new(self.len(), cols, x, false)
            .unwrap_or_else(|_| unreachable!("the rows hold exactly `cols` features each"));
        (matrix, y)
    }
}

impl Replica {
    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// Fit the forest of every (scenario, missing sequence) on `samples`; `done(k, of)`
    /// after each. The error names the forest that failed.
    pub fn fit(
        config: &ReplicaConfig,
        samples: &Samples,
        set: SequenceSet,
        seed: u64,
        done: &mut dyn FnMut(usize, usize),
    ) -> Result<Replica, String> {
        if samples.is_empty() {
            return Err("replica: no training voxels (no brain in the training slices)".into());
        }
        let jobs: Vec<(usize, Sequence)> = Scenario::all(set)
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.missing().into_iter().map(move |t| (i, t)))
            .collect();
        let mut forests = Vec::with_capacity(jobs.len());
        for (k, &(i, target)) in jobs.iter().enumerate() {
            let scenario = Scenario::all(set)[i];
            let available = scenario.available_channels();
            let (x, y) = samples.design(&available, scenario.channel(target));
            let cols = available.len() * FEATURES_PER_INPUT;
            // A third of the features per split: the usual choice for regression forests.
            let params = RandomForestRegressorParameters::default()
                .with_n_trees(config.trees)
                .with_max_depth(config.max_depth)
                .with_min_samples_leaf(config.min_samples_leaf)
                .with_m((cols / 3).max(1))
                .with_seed(seed.wrapping_add(k as u64));
            let forest = RandomForestRegressor::fit(&x, &y, params)
                .map_err(|e| format!("replica: forest for {} failed: {e}", target.name()))?;
            forests.push(Entry {
                scenario: i,
                target,
                forest,
            });
            done(k + 1, jobs.len());
        }
        Ok(Replica {
            config: config.clone(),
            set,
            forests,
        })
    }

    /// Synthesize the missing sequences of `slices` (`[b][4][side][side]`, model space):
    /// `[b][4][side][side]` with the available channels passed through and the missing ones
    /// predicted inside the brain (0 where the model has no forest: it was not fitted).
    pub fn forward(&self, slices: &[f32], side: usize, scenario: Scenario) -> Vec<f32> {
        let n = side * side;
        let available = scenario.available_channels();
        let index = (scenario.set() == self.set).then(|| scenario.index());
        let mut out = vec![0f32; slices.len()];
        for (slice, o) in slices.chunks(4 * n).zip(out.chunks_mut(4 * n)) {
            for &c in &available {
                let c = c * n;
                o[c..c + n].copy_from_slice(&slice[c..c + n]);
            }
            let brain = inside(slice, side, &available);
            if brain.is_empty() {
                continue;
            }
            let maps = feature_maps(slice, side, &available);
            let mut x = Vec::with_capacity(brain.len() * available.len() * FEATURES_PER_INPUT);
            for &i in &brain {
                row(&maps, i, &mut x);
            }
            let cols = available.len() * FEATURES_PER_INPUT;
            let Ok(matrix) = DenseMatrix::new(brain.len(), cols, x, false) else {
                continue;
            };
            for e in self.forests.iter().filter(|e| Some(e.scenario) == index) {
                let Ok(pred) = e.forest.predict(&matrix) else {
                    log::warn!("replica: the {} forest failed to predict", e.target.name());
                    continue;
                };
                let c = scenario.channel(e.target) * n;
                for (&i, v) in brain.iter().zip(pred) {
                    o[c + i] = v.max(0.0);
                }
            }
        }
        out
    }

    /// Write the forests (gzipped JSON) to `path`.
    pub fn save_file(&self, path: &Path) -> Result<(), String> {
        let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        serde_json::to_writer(&mut gz, self).map_err(|e| e.to_string())?;
        gz.finish()
            .and_then(|mut f| f.flush())
            .map_err(|e| e.to_string())
    }

    /// Read forests saved by [`Self::save_file`]; refused unless they were fitted with
    /// `config` on the sequences `set` and cover every scenario.
    pub fn load_file(
        config: &ReplicaConfig,
        set: SequenceSet,
        path: &Path,
    ) -> Result<Replica, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut text)
            .map_err(|e| format!("not a gzip file of forests: {e}"))?;
        let r: Replica =
            serde_json::from_slice(&text).map_err(|e| format!("not REPLICA forests: {e}"))?;
        if r.config != *config {
            return Err(format!(
                "the forests were fitted with {:?}, the sidecar says {:?}",
                r.config, config
            ));
        }
        if r.set != set {
            return Err(format!(
                "the forests were fitted on {}, the sidecar says {set}",
                r.set
            ));
        }
        let expected = forest_count();
        if r.forests.len() != expected
            || r.forests.iter().any(|e| {
                Scenario::all(r.set)
                    .get(e.scenario)
                    .is_none_or(|s| !s.missing().contains(&e.target))
            })
        {
            return Err(format!(
                "{} forests where the 14 scenarios need {expected}, one per missing sequence",
                r.forests.len()
            ));
        }
        Ok(r)
    }
}
