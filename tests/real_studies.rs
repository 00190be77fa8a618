//! The real studies in ../shared/data/real open with the right roles, grid and orientation.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use mmgan::io::{Role, Sequence, Study, StudyFiles};

#[test]
fn brats_met_is_ras_int16_with_four_sequences() {
    let s = Study::open(&common::real_data().join("brats-met-00110")).unwrap();
    assert_eq!(s.subject, "brats-met-00110");
    assert_eq!(
        s.present(),
        mmgan::io::SequenceSet::BRATS.sequences().to_vec()
    );
    assert!(s.label.is_none());
    assert_eq!(s.grid.dims, [240, 240, 155]);
    for seq in mmgan::io::SequenceSet::BRATS.sequences() {
        let v = s.volume(seq).unwrap();
        assert_eq!(v.orientation_code(), "RAS", "{seq}");
        assert_eq!(format!("{:?}", v.datatype), "Int16");
        assert!(
            v.stats.max > v.stats.window.1
                && v.stats.window.1 > v.stats.window.0
                && v.stats.window.0 > 0.0
        );
    }
    let name = |q| {
        s.files
            .get(Role::Sequence(q))
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(name(Sequence::T1c), "t1c.nii.gz");
    assert_eq!(name(Sequence::Flair), "flair.nii.gz");
}

#[test]
fn tcga_is_lps_with_negative_background_and_a_label_map() {
    let s = Study::open(&common::real_data().join("tcga-du-7294")).unwrap();
    assert_eq!(
        s.present(),
        mmgan::io::SequenceSet::BRATS.sequences().to_vec()
    );
    let label = s.label.as_ref().expect("seg-isen20 is the label map");
    assert!(label.path.to_string_lossy().contains("seg-isen20"));
    assert_eq!(label.orientation_code(), "LPS");
    let t1 = s.volume(Sequence::T1).unwrap();
    assert!(t1.path.to_string_lossy().ends_with("_t1_bet.nii.gz"));
    assert_eq!(
        s.volume(Sequence::T1c).unwrap().path.file_name().unwrap(),
        "TCGA-DU-7294_t1c_bet.nii.gz"
    );
    assert_eq!(
        s.volume(Sequence::Flair).unwrap().path.file_name().unwrap(),
        "TCGA-DU-7294_fla_bet.nii.gz"
    );
    for seq in mmgan::io::SequenceSet::BRATS.sequences() {
        assert_eq!(s.volume(seq).unwrap().orientation_code(), "LPS", "{seq}");
    }
    // Negative background: present in the data, clipped by the model's normalisation.
    let min = mmgan::io::SequenceSet::BRATS
        .sequences()
        .iter()
        .map(|q| s.volume(*q).unwrap().stats.min)
        .fold(f32::INFINITY, f32::min);
    assert!(min < 0.0, "expected negative background, min {min}");
    // The model's normalisation ignores the negative background and scanner units: the
    // brain maps to [0, 1] with 0.5 % of its voxels clipped at each end.
    let brain = mmgan::data::brain_mask(
        mmgan::io::SequenceSet::BRATS
            .sequences()
            .iter()
            .map(|q| s.volume(*q).unwrap().data.view()),
    );
    let t1 = &s.volume(Sequence::T1).unwrap().data;
    let range = mmgan::io::BrainRange::of(t1.view(), brain.view()).unwrap();
    assert!(range.lo < range.hi, "{range:?}");
    let unit: Vec<f32> = t1
        .iter()
        .zip(brain.iter())
        .filter(|(_, b)| **b)
        .map(|(v, _)| range.to_unit(*v))
        .collect();
    let share =
        |f: &dyn Fn(f32) -> bool| unit.iter().filter(|v| f(**v)).count() as f64 / unit.len() as f64;
    let top = share(&|v| v == 1.0);
    assert!(
        (0.002..0.008).contains(&top),
        "{top} of the brain clipped at 1"
    );
    assert!(
        share(&|v| (0.05..0.95).contains(&v)) > 0.8,
        "the brain spreads over the range"
    );
    // Labels 0, 1, 2 survive as exact integers.
    let mut labels: Vec<i32> = label.data.iter().map(|v| *v as i32).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels, vec![0, 1, 2]);
}

#[test]
fn preprocessed_case_mixes_float32_and_float64_in_brats_2023_names() {
    let s = Study::open(&common::real_data().join("brats-preprocessed-case")).unwrap();
    assert_eq!(
        s.present(),
        mmgan::io::SequenceSet::BRATS.sequences().to_vec()
    );
    assert!(s.volume(Sequence::T1).unwrap().path.ends_with("t1n.nii.gz"));
    assert!(s
        .volume(Sequence::Flair)
        .unwrap()
        .path
        .ends_with("t2f.nii.gz"));
    assert!(s.volume(Sequence::T2).unwrap().path.ends_with("t2w.nii.gz"));
    assert!(s
        .label
        .as_ref()
        .unwrap()
        .path
        .ends_with("segmentation.nii.gz"));
    let types: Vec<String> = mmgan::io::SequenceSet::BRATS
        .sequences()
        .iter()
        .map(|q| format!("{:?}", s.volume(*q).unwrap().datatype))
        .collect();
    assert!(types.iter().any(|t| t == "Float64"), "{types:?}");
    for seq in mmgan::io::SequenceSet::BRATS.sequences() {
        assert_eq!(s.volume(seq).unwrap().orientation_code(), "LPS");
    }
}

/// Our decode and reorientation agree with the nifti crate's own reader (file order) after
/// flipping the two axes an LPS file reverses.
#[test]
fn lps_reorientation_matches_an_independent_reader() {
    use nifti::{IntoNdArray, NiftiObject, ReaderOptions};
    let path = common::real_data().join("tcga-du-7294/TCGA-DU-7294_t2_bet.nii.gz");
    let ours = mmgan::io::read_volume(&path).unwrap();
    let theirs = ReaderOptions::new()
        .read_file(&path)
        .unwrap()
        .into_volume()
        .into_ndarray::<f32>()
        .unwrap();
    let theirs = theirs.into_dimensionality::<ndarray::Ix3>().unwrap();
    let (nx, ny, nz) = theirs.dim();
    assert_eq!(ours.dims(), [nx, ny, nz]);
    for (x, y, z) in [
        (0, 0, 0),
        (120, 120, 77),
        (100, 140, 60),
        (nx - 1, ny - 1, nz - 1),
        (37, 201, 99),
    ] {
        assert_eq!(
            ours.data[[x, y, z]],
            theirs[[nx - 1 - x, ny - 1 - y, z]],
            "at {x},{y},{z}"
        );
    }
    let sum_ours: f64 = ours.data.iter().map(|v| f64::from(*v)).sum();
    let sum_theirs: f64 = theirs.iter().map(|v| f64::from(*v)).sum();
    assert_eq!(sum_ours, sum_theirs);
}

#[test]
fn chosen_files_open_as_a_study_by_their_names() {
    // As dropped on the viewer: two sequences and the label map, plus a stray file.
    let dir = common::real_data().join("tcga-du-7294");
    let mut picked: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_lowercase();
            n.contains("t2") || n.contains("seg") || n.contains("glistrboost")
        })
        .collect();
    picked.push(dir.join("notes.txt"));
    let files = StudyFiles::from_paths(&picked).unwrap();
    assert_eq!(files.folder.as_deref(), Some(dir.as_path()));
    let s = Study::open_files(files).unwrap();
    assert!(s.has(Sequence::T2));
    assert!(!s.has(Sequence::T1));
    assert!(s.label.is_some(), "the label map is recognised by its name");
    assert_eq!(s.grid.dims, Study::open(&dir).unwrap().grid.dims);

    // Nothing that names a sequence: a clear error, not a panic.
    let err = StudyFiles::from_paths(&[dir.join("notes.txt")])
        .and_then(Study::open_files)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tcga-du-7294"), "{err}");
}
