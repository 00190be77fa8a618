//! A study: the four sequences of one subject (any may be absent) and an optional tumour
//! label map, on one shared grid.

use std::path::{Path, PathBuf};

use super::nifti_read::{read_grid, read_label_map, read_volume, Volume};
use super::orientation::{affine_distance, voxel_sizes, Affine, GRID_TOLERANCE_MM};
use super::{IoError, Result, Role, Sequence, SequenceSet};

/// The files of a study, by role. Built by [`StudyFiles::detect`] from a folder and/or
/// given explicitly (explicit files override detection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudyFiles {
    pub sequences: [Option<PathBuf>; Sequence::COUNT],
    pub label: Option<PathBuf>,
    /// The folder the study was detected in, if any.
    pub folder: Option<PathBuf>,
}

impl StudyFiles {
    /// Find the files of each role in `folder` from their names.
    ///
    /// Files whose names mark them as synthetic (our own exports) are ignored so that
    /// exporting into a study folder never turns a synthesized volume into an input.
    pub fn detect(folder: &Path) -> Result<StudyFiles> {
        StudyFiles::detect_except(folder, &[])
    }

    /// [`Self::detect`], leaving out the roles in `given` (files the user names
    /// explicitly): two candidates for such a role are no longer ambiguous.
    ///
    /// A folder entry whose name names a role but that cannot be read as one file (a
    /// directory, a FIFO, a broken or looping link, a `.hdr/.img` pair) is an error naming
    /// it: silently treating that sequence as absent would synthesize it unasked.
    pub fn detect_except(folder: &Path, given: &[Role]) -> Result<StudyFiles> {
        if !folder.is_dir() {
            return Err(if folder.exists() {
                IoError::NotAFolder {
                    path: folder.into(),
                }
            } else {
                IoError::MissingFolder {
                    path: folder.into(),
                }
            });
        }
        let mut entries: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(folder).map_err(|e| IoError::io(folder, e))? {
            let path = entry.map_err(|e| IoError::io(folder, e))?.path();
            if let Some(role) = analyze_pair_role(&path) {
                if !given.contains(&role) {
                    return Err(IoError::Unsupported {
                        path,
                        reason: format!(
                            "a NIfTI .hdr/.img pair for {}; convert it to a single .nii or .nii.gz",
                            role.name()
                        ),
                    });
                }
                continue;
            }
            match role_of_file_name(&path) {
                Some(role) if !given.contains(&role) => {
                    check_regular_file(&path)?;
                    entries.push(path);
                }
                _ => {}
            }
        }
        entries.sort();
        StudyFiles::assign(entries, folder)
    }

    /// The roles of explicitly chosen files (dropped on the viewer, picked in a dialog),
    /// from their names; files that name no role are ignored. The study's folder is the
    /// first file's.
    pub fn from_paths(paths: &[PathBuf]) -> Result<StudyFiles> {
        let folder = paths
            .first()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        StudyFiles::assign(paths.to_vec(), &folder)
    }

    fn assign(entries: Vec<PathBuf>, folder: &Path) -> Result<StudyFiles> {
        let mut files = StudyFiles {
            folder: Some(folder.into()),
            ..Default::default()
        };
        for path in entries {
            let Some(role) = role_of_file_name(&path) else {
                continue;
            };
            let slot = files.slot_mut(role);
            if let Some(first) = slot {
                return Err(IoError::Ambiguous {
                    folder: folder.into(),
                    role: role.name().into(),
                    flag: role.flag().into(),
                    first: first.clone(),
                    second: path,
                });
            }
            *slot = Some(path);
        }
        Ok(files)
    }

    pub fn get(&self, role: Role) -> Option<&PathBuf> {
        match role {
            Role::Sequence(s) => self.sequences[s.slot()].as_ref(),
            Role::Label => self.label.as_ref(),
        }
    }

    pub fn set(&mut self, role: Role, path: PathBuf) {
        *self.slot_mut(role) = Some(path);
    }

    fn slot_mut(&mut self, role: Role) -> &mut Option<PathBuf> {
        match role {
            Role::Sequence(s) => &mut self.sequences[s.slot()],
            Role::Label => &mut self.label,
        }
    }

    /// Every file with its role, in role order.
    pub fn iter(&self) -> impl Iterator<Item = (Role, &PathBuf)> {
        Role::ALL
            .into_iter()
            .filter_map(move |r| self.get(r).map(|p| (r, p)))
    }
}

/// Refuse anything but a regular file (links followed) with the reason in words: a FIFO
/// would block the reader forever, a directory or a broken link cannot be read.
pub(crate) fn check_regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let dangling = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if dangling {
            IoError::Unsupported {
                path: path.into(),
                reason: format!("a symbolic link that cannot be followed ({e})"),
            }
        } else {
            IoError::io(path, e)
        }
    })?;
    if meta.is_file() {
        return Ok(());
    }
    let what = if meta.is_dir() {
        "a directory"
    } else {
        "a special file (FIFO, socket or device)"
    };
    Err(IoError::Unsupported {
        path: path.into(),
        reason: format!("{what}, not a NIfTI file"),
    })
}

/// The role of an Analyze-style `.hdr`/`.img` file name, which this reader refuses.
fn analyze_pair_role(path: &Path) -> Option<Role> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let stem = [".hdr.gz", ".img.gz", ".hdr", ".img"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))?;
    role_of_file_name(&path.with_file_name(format!("{stem}.nii")))
}

/// The file name without `.nii` / `.nii.gz`, or `None` for other files.
fn nifti_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    name.strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
        .map(str::to_owned)
}

fn tokens(stem: &str) -> Vec<&str> {
    stem.split(['_', '-', '.', ' '])
        .filter(|t| !t.is_empty())
        .collect()
}

/// The role a file name names: the last token naming a role wins (roles are suffixes in
/// every layout: `BraTS-GLI-00000-000-t1n`, `TCGA-DU-7294_t1_bet`), and two adjacent tokens
/// may spell one (`t2_flair`).
pub(crate) fn role_of_file_name(path: &Path) -> Option<Role> {
    let stem = nifti_stem(path)?;
    let toks = tokens(&stem);
    if toks.contains(&"synthetic") {
        return None;
    }
    for i in (0..toks.len()).rev() {
        if i > 0 {
            if let Some(role) = Role::from_token(&format!("{}{}", toks[i - 1], toks[i])) {
                return Some(role);
            }
        }
        if let Some(role) = Role::from_token(toks[i]) {
            return Some(role);
        }
    }
    None
}

/// The voxel grid shared by every volume of a study (canonical RAS order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub dims: [usize; 3],
    pub affine: Affine,
}

impl Grid {
    pub fn of(volume: &Volume) -> Grid {
        Grid {
            dims: volume.dims(),
            affine: volume.affine,
        }
    }

    pub fn voxel_size(&self) -> [f64; 3] {
        voxel_sizes(&self.affine)
    }

    pub fn matches(&self, other: &Grid) -> bool {
        self.dims == other.dims && affine_distance(&self.affine, &other.affine) < GRID_TOLERANCE_MM
    }

    pub fn describe(&self) -> String {
        let v = self.voxel_size();
        let t = [self.affine[0][3], self.affine[1][3], self.affine[2][3]];
        format!(
            "{}x{}x{} voxels of {:.3}x{:.3}x{:.3} mm, origin ({:.2}, {:.2}, {:.2})",
            self.dims[0], self.dims[1], self.dims[2], v[0], v[1], v[2], t[0], t[1], t[2]
        )
    }
}

/// The sequences of one subject and its optional label map, on one grid, in RAS order.
#[derive(Debug, Clone)]
pub struct Study {
    /// Subject identifier used in export file names.
    pub subject: String,
    pub files: StudyFiles,
    volumes: [Option<Volume>; Sequence::COUNT],
    /// The tumour label map as `u8` codes (BraTS: 1 necrosis, 2 oedema, 4 enhancing).
    pub label: Option<Volume<u8>>,
    pub grid: Grid,
}

impl Study {
    /// Open the study in `folder`, detecting roles from file names.
    pub fn open(folder: &Path) -> Result<Study> {
        Study::open_files(StudyFiles::detect(folder)?)
    }

    /// Open the given files. All volumes are decoded in parallel.
    pub fn open_files(files: StudyFiles) -> Result<Study> {
        let folder = files.folder.clone();
        if files.sequences.iter().all(Option::is_none) {
            return Err(IoError::EmptyStudy {
                path: folder.unwrap_or_else(|| PathBuf::from("(no files given)")),
            });
        }
        let jobs: Vec<(Role, &PathBuf)> = files.iter().collect();
        for (i, (role, path)) in jobs.iter().enumerate() {
            let same = |p: &PathBuf| match (p.canonicalize(), path.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => p == *path,
            };
            if let Some((other, _)) = jobs[..i].iter().find(|(_, p)| same(p)) {
                return Err(IoError::InvalidData {
                    what: path.display().to_string(),
                    reason: format!(
                        "given for both {} and {}; each role needs its own file",
                        other.name(),
                        role.name()
                    ),
                });
            }
        }
        // Every header and the shared grid are checked before any voxel is read: a bad
        // file costs nothing, and no mix of grids makes us decode gigabytes first.
        let grids = jobs
            .iter()
            .map(|&(role, path)| {
                read_grid(path).map(|(dims, affine)| (role, path, Grid { dims, affine }))
            })
            .collect::<Result<Vec<_>>>()?;
        let grid = grids[0].2;
        if grids.iter().any(|(_, _, g)| !grid.matches(g)) {
            let details = grids
                .iter()
                .map(|(r, p, g)| format!("  {:<9} {}: {}", r.name(), p.display(), g.describe()))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(IoError::GridMismatch { details });
        }
        let results: Vec<(Role, Result<Decoded>)> = std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|&(role, path)| {
                    let read = move || match role {
                        Role::Sequence(seq) => read_volume(path).map(|v| Decoded::Image(seq, v)),
                        Role::Label => read_label_map(path).map(Decoded::Labels),
                    };
                    (role, s.spawn(read))
                })
                .collect();
            handles
                .into_iter()
                .map(|(role, h)| {
                    let result = h.join().unwrap_or_else(|_| {
                        Err(IoError::InvalidData {
                            what: role.name().into(),
                            reason: "the reader thread panicked".into(),
                        })
                    });
                    (role, result)
                })
                .collect()
        });
        let mut volumes: [Option<Volume>; Sequence::COUNT] = Default::default();
        let mut label = None;
        for (_, result) in results {
            match result? {
                Decoded::Image(seq, v) => volumes[seq.slot()] = Some(v),
                Decoded::Labels(v) => label = Some(check_labels(v)),
            }
        }
        let subject = subject_name(&files);
        Ok(Study {
            subject,
            files,
            volumes,
            label,
            grid,
        })
    }

    pub fn volume(&self, seq: Sequence) -> Option<&Volume> {
        self.volumes[seq.slot()].as_ref()
    }

    pub fn has(&self, seq: Sequence) -> bool {
        self.volumes[seq.slot()].is_some()
    }

    /// The sequences present in the study, in [`Sequence::ALL`] order.
    pub fn present(&self) -> Vec<Sequence> {
        Sequence::ALL.into_iter().filter(|&s| self.has(s)).collect()
    }

    /// The sequences of `set` the study does not have, in the set's channel order.
    pub fn lacking(&self, set: SequenceSet) -> Vec<Sequence> {
        set.sequences()
            .into_iter()
            .filter(|&s| !self.has(s))
            .collect()
    }

    /// The volume whose header defines the grid for exports (the first present sequence).
    pub fn reference_volume(&self) -> &Volume {
        self.volumes
            .iter()
            .flatten()
            .next()
            .expect("a study has at least one sequence")
    }

    /// Every input file of the study (never overwritten by an export).
    pub fn input_paths(&self) -> Vec<&Path> {
        self.files.iter().map(|(_, p)| p.as_path()).collect()
    }
}

/// A file as decoded for its role.
enum Decoded {
    Image(Sequence, Volume),
    Labels(Volume<u8>),
}

/// Warn about label values other than the BraTS codes 0-4 (they are drawn as tumour, as
/// are the fractions and negatives the reader holds as [`super::NOT_A_LABEL`]).
fn check_labels(mut label: Volume<u8>) -> Volume<u8> {
    // The reader's statistics are of the codes: the usual map, all 0-4, needs no pass.
    if label.stats.max <= 4.0 {
        return label;
    }
    // fold walks memory order (iter() would stride across the Fortran-order volume).
    let odd = label.data.fold(0usize, |n, &v| n + usize::from(v > 4));
    if odd > 0 {
        let w = format!(
            "{odd} label voxels are not one of the BraTS codes 0-4; they are drawn as tumour"
        );
        log::warn!("{}: {w}", label.path.display());
        label.warnings.push(w);
    }
    label
}

/// The subject id: the folder name, else the first file's name without its role token.
fn subject_name(files: &StudyFiles) -> String {
    if let Some(name) = files
        .folder
        .as_ref()
        .and_then(|f| f.canonicalize().ok().or(Some(f.clone())))
        .and_then(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty() && n != ".")
    {
        return name;
    }
    let Some((_, first)) = files.iter().next() else {
        return "study".into();
    };
    let Some(name) = first.file_name().and_then(|n| n.to_str()) else {
        return "study".into();
    };
    let stem = name
        .strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
        .unwrap_or(name);
    // Keep the part before the role token, e.g. "TCGA-DU-7294" of "TCGA-DU-7294_t1_bet".
    let parts: Vec<&str> = stem.split(['_', '-', '.']).collect();
    let cut = parts
        .iter()
        .position(|t| Role::from_token(&t.to_ascii_lowercase()).is_some())
        .unwrap_or(parts.len());
    let prefix_len: usize = parts[..cut].iter().map(|p| p.len() + 1).sum::<usize>();
    let subject =
        stem[..prefix_len.saturating_sub(1).min(stem.len())].trim_matches(['_', '-', '.']);
    if subject.is_empty() {
        "study".into()
    } else {
        subject.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Option<Role> {
        role_of_file_name(Path::new(name))
    }

    #[test]
    fn roles_from_every_layout() {
        use Sequence::*;
        let s = |q| Some(Role::Sequence(q));
        assert_eq!(role("BraTS19_2013_10_1_t1ce.nii.gz"), s(T1c));
        assert_eq!(role("BraTS19_2013_10_1_t1.nii.gz"), s(T1));
        assert_eq!(role("BraTS19_2013_10_1_flair.nii"), s(Flair));
        assert_eq!(role("BraTS19_2013_10_1_seg.nii.gz"), Some(Role::Label));
        assert_eq!(role("BraTS-GLI-00000-000-t1n.nii.gz"), s(T1));
        assert_eq!(role("BraTS-GLI-00000-000-t2f.nii.gz"), s(Flair));
        assert_eq!(role("BraTS-GLI-00000-000-t2w.nii.gz"), s(T2));
        assert_eq!(role("TCGA-DU-7294_fla_bet.nii.gz"), s(Flair));
        assert_eq!(role("TCGA-DU-7294_seg-isen20.nii.gz"), Some(Role::Label));
        assert_eq!(role("T1GD.nii.gz"), s(T1c));
        assert_eq!(role("patient_t2_flair.nii.gz"), s(Flair));
        assert_eq!(role("segmentation.nii.gz"), Some(Role::Label));
        assert_eq!(role("x_flair_synthetic.nii.gz"), None);
        assert_eq!(role("notes.txt"), None);
        assert_eq!(role("brainmask.nii.gz"), None);
        // ISLES 2015 (SISS) and ISLES 2022 names.
        assert_eq!(role("VSD.Brain.XX.O.MR_DWI.70613.nii"), s(Dwi));
        assert_eq!(role("VSD.Brain.XX.O.MR_Flair.70614.nii"), s(Flair));
        assert_eq!(role("VSD.Brain.XX.O.MR_T1.70612.nii"), s(T1));
        assert_eq!(role("VSD.Brain.XX.O.OT.70618.nii"), Some(Role::Label));
        assert_eq!(role("sub-strokecase0001_ses-0001_adc.nii.gz"), s(Adc));
        assert_eq!(role("sub-strokecase0001_ses-0001_dwi.nii.gz"), s(Dwi));
    }

    #[test]
    fn subject_from_file_names() {
        let mut f = StudyFiles::default();
        f.set(
            Role::Sequence(Sequence::T1),
            "/x/TCGA-DU-7294_t1_bet.nii.gz".into(),
        );
        assert_eq!(subject_name(&f), "TCGA-DU-7294");
        let mut g = StudyFiles::default();
        g.set(Role::Sequence(Sequence::T2), "/x/t2.nii".into());
        assert_eq!(subject_name(&g), "study");
    }
}
