//! Subjects as model-ready slices, and the seeded train/test split by subject.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::geometry::{brain_mask, Fit, SliceGeometry};
use super::intensity::model_volume;
use crate::io::{BrainRange, SequenceSet, Study};

/// The slices a model with `context` neighbours a side reads for slice `z` of a
/// `depth`-slice stack, in input-group order (`z - context ..= z + context`); `None` past
/// either end, where the input is zeros as a slice without brain is.
pub fn context_slices(
    z: usize,
    context: usize,
    depth: usize,
) -> impl Iterator<Item = Option<usize>> {
    (0..=2 * context).map(move |g| (z + g).checked_sub(context).filter(|&zz| zz < depth))
}

/// One subject's slices in model space: every axial slice with brain in it, each sequence
/// mapped to [0, 1] by its brain percentile range ([`super::model_volume`]).
#[derive(Debug, Clone)]
pub struct SubjectSlices {
    pub name: String,
    pub side: usize,
    /// Indices (z) of the kept slices in the study.
    pub z: Vec<usize>,
    /// `[slice][sequence][row][col]`, row-major.
    pub data: Vec<f32>,
    /// Brain range of each sequence (study units), channel order.
    pub ranges: [BrainRange; 4],
    pub geometry: SliceGeometry,
}

impl SubjectSlices {
    /// Build from a study that has all four sequences of `set`, in its channel order
    /// (else it cannot supervise training).
    pub fn from_study(
        study: &Study,
        set: SequenceSet,
        side: usize,
        fit: Fit,
    ) -> Result<SubjectSlices, String> {
        let vols: Vec<_> = set.sequences().iter().map(|s| study.volume(*s)).collect();
        if let Some(missing) = study.lacking(set).first() {
            return Err(format!(
                "{}: {missing} is missing; a training subject needs all four sequences ({set})",
                study.subject
            ));
        }
        let vols: Vec<_> = vols.into_iter().flatten().collect();
        let brain = brain_mask(vols.iter().map(|v| v.data.view()));
        let geometry = SliceGeometry::new(brain.view(), side, fit);
        let depth = study.grid.dims[2];
        let z: Vec<usize> = (0..depth)
            .filter(|&z| brain.index_axis(ndarray::Axis(2), z).iter().any(|b| *b))
            .collect();
        let n = side * side;
        let mut data = vec![0.0; z.len() * 4 * n];
        let mut ranges = [BrainRange { lo: 0.0, hi: 1.0 }; 4];
        for (c, v) in vols.iter().enumerate() {
            let (model, range) = model_volume(&geometry, v.data.view(), brain.view());
            ranges[c] = range.unwrap_or(ranges[c]);
            for (i, &zi) in z.iter().enumerate() {
                data[(i * 4 + c) * n..(i * 4 + c + 1) * n]
                    .copy_from_slice(&model[zi * n..(zi + 1) * n]);
            }
        }
        Ok(SubjectSlices {
            name: study.subject.clone(),
            side,
            z,
            data,
            ranges,
            geometry,
        })
    }

    pub fn len(&self) -> usize {
        self.z.len()
    }

    pub fn is_empty(&self) -> bool {
        self.z.is_empty()
    }

    /// `count` consecutive slices from `start`: `[count][4][side][side]`.
    pub fn slices(&self, start: usize, count: usize) -> &[f32] {
        let n = 4 * self.side * self.side;
        &self.data[start * n..(start + count) * n]
    }

    /// [`Self::slices`], each slice with `context` neighbours a side among this subject's
    /// slices ([`context_slices`]; the kept slices are the brain's, so past them is
    /// zeros): `[count][4 · (2 · context + 1)][side][side]`, mirrored left-right (along x,
    /// the fast axis) when `flip`.
    pub fn batch(
        &self,
        start: usize,
        count: usize,
        context: usize,
        flip: bool,
    ) -> std::borrow::Cow<'_, [f32]> {
        let mut out = if context == 0 {
            let slices = self.slices(start, count);
            if !flip {
                return std::borrow::Cow::Borrowed(slices);
            }
            slices.to_vec()
        } else {
            let n = 4 * self.side * self.side;
            let mut out = Vec::with_capacity(count * (2 * context + 1) * n);
            for z in start..start + count {
                for zz in context_slices(z, context, self.len()) {
                    match zz {
                        Some(zz) => out.extend_from_slice(self.slices(zz, 1)),
                        None => out.resize(out.len() + n, 0.0),
                    }
                }
            }
            out
        };
        if flip {
            for row in out.chunks_exact_mut(self.side) {
                row.reverse();
            }
        }
        std::borrow::Cow::Owned(out)
    }
}

/// Subject folders under each data folder (one sub-folder per subject, any layout the
/// study reader recognises). A data folder that is itself a study counts as one subject.
pub fn discover_subjects(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(format!("{}: data folder does not exist", dir.display()));
        }
        if crate::io::StudyFiles::detect(dir)
            .map(|f| f.iter().next().is_some())
            .unwrap_or(false)
        {
            out.push(dir.clone());
            continue;
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        subs.sort();
        out.extend(subs);
    }
    Ok(out)
}

/// Train/test subjects, by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Split {
    pub seed: u64,
    pub train: Vec<String>,
    pub test: Vec<String>,
}

/// Shuffle subjects with `seed` and hold out `test_fraction` of them (at least one when
/// the fraction is positive and there are two or more subjects).
pub fn split_subjects(paths: &[PathBuf], test_fraction: f64, seed: u64) -> Split {
    let mut names: Vec<String> = paths.iter().map(|p| subject_key(p)).collect();
    names.sort();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    names.shuffle(&mut rng);
    let mut n_test = (names.len() as f64 * test_fraction).round() as usize;
    if names.len() >= 2 && test_fraction > 0.0 {
        n_test = n_test.clamp(1, names.len() - 1);
    } else {
        n_test = n_test.min(names.len().saturating_sub(1));
    }
    let test = names.split_off(names.len() - n_test);
    Split {
        seed,
        train: names,
        test,
    }
}

/// The name a subject folder goes by in splits and logs.
pub fn subject_key(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flipped_batch_mirrors_each_row() {
        let side = 3;
        let brain = ndarray::Array3::from_elem((side, side, 1), true);
        let s = SubjectSlices {
            name: "s".into(),
            side,
            z: vec![0, 1],
            data: (0..2 * 4 * 9).map(|v| v as f32).collect(),
            ranges: [BrainRange { lo: 0.0, hi: 1.0 }; 4],
            geometry: SliceGeometry::new(brain.view(), side, Fit::Pad),
        };
        assert_eq!(&*s.batch(1, 1, 0, false), s.slices(1, 1));
        let f = s.batch(1, 1, 0, true);
        assert_eq!(f.len(), 36);
        assert_eq!(&f[..6], &[38.0, 37.0, 36.0, 41.0, 40.0, 39.0]);
    }

    #[test]
    fn a_batch_with_context_stacks_the_neighbours_with_zeros_past_the_ends() {
        let side = 2;
        let brain = ndarray::Array3::from_elem((side, side, 1), true);
        let n = 4 * side * side;
        let s = SubjectSlices {
            name: "s".into(),
            side,
            z: vec![3, 4, 5],
            data: (0..3 * n).map(|v| v as f32 + 1.0).collect(),
            ranges: [BrainRange { lo: 0.0, hi: 1.0 }; 4],
            geometry: SliceGeometry::new(brain.view(), side, Fit::Pad),
        };
        let b = s.batch(0, 3, 1, false);
        assert_eq!(b.len(), 3 * 3 * n);
        let group = |item: usize, g: usize| &b[(item * 3 + g) * n..][..n];
        let zeros = vec![0.0; n];
        assert_eq!(group(0, 0), &zeros[..]);
        for item in 0..3 {
            assert_eq!(group(item, 1), s.slices(item, 1), "centre of item {item}");
        }
        assert_eq!(group(0, 2), s.slices(1, 1));
        assert_eq!(group(1, 0), s.slices(0, 1));
        assert_eq!(group(2, 2), &zeros[..]);
        assert_eq!(
            context_slices(0, 2, 3).collect::<Vec<_>>(),
            [None, None, Some(0), Some(1), Some(2)]
        );
        // Flipped: every row of every group mirrored.
        let f = s.batch(0, 3, 1, true);
        assert_eq!(&f[n..n + 2], &[2.0, 1.0]);
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let paths: Vec<PathBuf> = (0..10).map(|i| PathBuf::from(format!("/d/s{i}"))).collect();
        let a = split_subjects(&paths, 0.2, 7);
        let b = split_subjects(&paths, 0.2, 7);
        assert_eq!(a, b);
        assert_eq!(a.test.len(), 2);
        assert_eq!(a.train.len(), 8);
        assert!(a.test.iter().all(|t| !a.train.contains(t)));
        let c = split_subjects(&paths, 0.2, 8);
        assert_ne!(a.test, c.test);
    }
}
