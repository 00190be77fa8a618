//! What a run trains on: the subjects loaded as model slices and split by subject (the
//! split recorded in the run and the weights), and each epoch's seeded plan of batches
//! (subject, first slice, scenario, mirrored or not).

use std::path::PathBuf;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::{TrainConfig, TrainError};
use crate::data::{discover_subjects, split_subjects, subject_key, Split, SubjectSlices};
use crate::io::Study;
use crate::model::Scenario;

/// One batch of an epoch: `batch` consecutive slices of one subject, a scenario, and
/// whether the slices are mirrored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedBatch {
    pub subject: usize,
    pub start: usize,
    pub scenario: Scenario,
    pub flip: bool,
}

/// The subjects of a run: train and test slices, the split, and the skipped subjects
/// with the reason.
pub struct Subjects {
    pub train: Vec<SubjectSlices>,
    /// Index into `TrainConfig::data` of the folder each training subject came from.
    pub train_folders: Vec<usize>,
    pub test: Vec<SubjectSlices>,
    pub split: Split,
    pub skipped: Vec<String>,
}

/// Load every usable subject of the data folders as model slices, split by subject.
/// Subjects missing a sequence are skipped (they cannot supervise) and reported.
pub fn load_subjects(c: &TrainConfig) -> Result<Subjects, TrainError> {
    let dirs: Vec<PathBuf> = c.data.iter().map(PathBuf::from).collect();
    let subjects = discover_subjects(&dirs).map_err(TrainError::Data)?;
    let mut loaded = Vec::new();
    let mut skipped = Vec::new();
    for path in &subjects {
        match Study::open(path)
            .map_err(|e| e.to_string())
            .and_then(|s| SubjectSlices::from_study(&s, c.sequences, c.side, c.fit))
        {
            Ok(s) => {
                let folder = dirs
                    .iter()
                    .position(|d| path == d || path.parent() == Some(d.as_path()))
                    .unwrap_or(0);
                loaded.push((subject_key(path), folder, s));
            }
            Err(e) => {
                log::warn!("skipping subject {}: {e}", path.display());
                skipped.push(format!("{}: {e}", path.display()));
            }
        }
    }
    if loaded.is_empty() {
        return Err(TrainError::Data(format!(
            "no usable subject in {:?}",
            c.data
        )));
    }
    let usable: Vec<PathBuf> = loaded.iter().map(|(k, ..)| PathBuf::from(k)).collect();
    let held: Vec<PathBuf> = usable
        .iter()
        .filter(|p| c.hold_out.contains(&subject_key(p)))
        .cloned()
        .collect();
    let rest: Vec<PathBuf> = usable
        .iter()
        .filter(|p| !c.hold_out.contains(&subject_key(p)))
        .cloned()
        .collect();
    let mut split = split_subjects(&rest, c.test_fraction, c.seed);
    split.test.extend(held.iter().map(|p| subject_key(p)));
    let (mut train, mut train_folders, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (key, folder, s) in loaded {
        if split.test.contains(&key) {
            test.push(s);
        } else {
            train.push(s);
            train_folders.push(folder);
        }
    }
    if train.is_empty() {
        return Err(TrainError::Data(
            "every subject is held out for testing: nothing to train on".into(),
        ));
    }
    Ok(Subjects {
        train,
        train_folders,
        test,
        split,
        skipped,
    })
}

/// The batches of one epoch, in a seeded order. `folders[i]` is the data folder of
/// `train[i]` (used with `balance_folders`).
pub fn epoch_plan(
    train: &[SubjectSlices],
    folders: &[usize],
    c: &TrainConfig,
    epoch: usize,
) -> Vec<PlannedBatch> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        c.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let mut plan: Vec<(usize, usize)> = train
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            (0..s.len().saturating_sub(c.batch - 1))
                .step_by(c.batch)
                .map(move |z| (i, z))
        })
        .collect();
    plan.shuffle(&mut rng);
    if c.balance_folders {
        // Per folder, its batches in shuffled order, dealt round-robin by random folder.
        let mut by_folder: Vec<Vec<(usize, usize)>> = Vec::new();
        for b in &plan {
            let f = folders.get(b.0).copied().unwrap_or(0);
            if by_folder.len() <= f {
                by_folder.resize(f + 1, Vec::new());
            }
            by_folder[f].push(*b);
        }
        by_folder.retain(|v| !v.is_empty());
        let total = c.max_batches.unwrap_or(plan.len()).min(plan.len());
        let mut next = vec![0usize; by_folder.len()];
        plan = (0..total)
            .map(|_| {
                let f = rng.random_range(0..by_folder.len());
                let b = by_folder[f][next[f] % by_folder[f].len()];
                next[f] += 1;
                b
            })
            .collect();
    } else if let Some(m) = c.max_batches {
        plan.truncate(m);
    }
    plan.into_iter()
        .map(|(subject, start)| PlannedBatch {
            subject,
            start,
            scenario: c.draw_scenario(epoch, &mut rng),
            flip: c.flip && rng.random_bool(0.5),
        })
        .collect()
}
