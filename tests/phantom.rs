//! Phantom subjects: deterministic, MRI-like contrasts, BraTS labels, readable as studies.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use mmgan::io::{Sequence, Study};
use mmgan::phantom::{
    simulate, subject_id, write_subject, Anatomy, Kind, LABEL_ENHANCING, LABEL_OEDEMA,
};

fn mean_where(v: &ndarray::Array3<f32>, keep: impl Fn(usize, usize, usize) -> bool) -> f64 {
    let (mut s, mut n) = (0f64, 0usize);
    for ((x, y, z), val) in v.indexed_iter() {
        if keep(x, y, z) {
            s += f64::from(*val);
            n += 1;
        }
    }
    assert!(n > 50, "too few voxels ({n})");
    s / n as f64
}

#[test]
fn same_seed_writes_byte_identical_files_and_reads_as_a_study() {
    let anatomy = Anatomy::load(&mmgan::shipped::mni().unwrap()).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let id = subject_id(Kind::Glioma, 5, 0);
    let pa = write_subject(&simulate(&anatomy, Kind::Glioma, 5, 0), a.path(), &id).unwrap();
    let pb = write_subject(&simulate(&anatomy, Kind::Glioma, 5, 0), b.path(), &id).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&pa)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5);
    for n in &names {
        assert_eq!(
            std::fs::read(pa.join(n)).unwrap(),
            std::fs::read(pb.join(n)).unwrap(),
            "{n:?}"
        );
    }
    // Another subject differs.
    let pc = write_subject(
        &simulate(&anatomy, Kind::Glioma, 5, 1),
        b.path(),
        &subject_id(Kind::Glioma, 5, 1),
    )
    .unwrap();
    let f = |p: &std::path::Path, s: &str| {
        std::fs::read(p.join(format!(
            "{}_{s}.nii.gz",
            p.file_name().unwrap().to_string_lossy()
        )))
        .unwrap()
    };
    assert_ne!(f(&pa, "t1"), f(&pc, "t1"));

    let study = Study::open(&pa).unwrap();
    assert_eq!(
        study.present(),
        mmgan::io::SequenceSet::BRATS.sequences().to_vec()
    );
    assert_eq!(study.grid.dims, [240, 240, 155]);
    assert_eq!(
        study.volume(Sequence::T1).unwrap().orientation_code(),
        "LPS"
    );
    assert_eq!(
        format!("{:?}", study.volume(Sequence::T2).unwrap().datatype),
        "Int16"
    );
    let mut labels: Vec<u8> = study.label.as_ref().unwrap().data.iter().copied().collect();
    labels.sort_unstable();
    labels.dedup();
    assert!(
        labels.iter().all(|l| [0, 1, 2, 4].contains(l)),
        "{labels:?}"
    );
    assert!(labels.contains(&LABEL_ENHANCING) && labels.contains(&LABEL_OEDEMA));
}

#[test]
fn contrasts_behave_like_mri() {
    let anatomy = Anatomy::load(&mmgan::shipped::mni().unwrap()).unwrap();
    let p = simulate(&anatomy, Kind::Glioma, 11, 3);
    let (f, label) = (&p.fractions, &p.label);
    let pure = |i: usize| {
        move |x: usize, y: usize, z: usize| f[[x, y, z]][i] > 0.9 && label[[x, y, z]] == 0
    };
    let [t1, t1c, t2, flair] = &p.sequences;
    let (wm, csf) = (1, 2);
    // CSF dark on T1 and FLAIR, bright on T2 (relative to white matter).
    assert!(mean_where(t1, pure(csf)) < 0.6 * mean_where(t1, pure(wm)));
    assert!(mean_where(flair, pure(csf)) < 0.3 * mean_where(flair, pure(wm)));
    assert!(mean_where(t2, pure(csf)) > 1.5 * mean_where(t2, pure(wm)));
    // Enhancing rim bright on T1c only.
    let enh = |x: usize, y: usize, z: usize| label[[x, y, z]] == LABEL_ENHANCING;
    let ratio = |v: &ndarray::Array3<f32>| mean_where(v, enh) / mean_where(v, pure(wm));
    assert!(ratio(t1c) > 1.3, "T1c enhancing/WM {}", ratio(t1c));
    assert!(ratio(t1) < 1.0, "T1 enhancing/WM {}", ratio(t1));
    // Oedema bright on FLAIR and T2.
    let oed = |x: usize, y: usize, z: usize| label[[x, y, z]] == LABEL_OEDEMA;
    assert!(mean_where(flair, oed) > 1.2 * mean_where(flair, pure(wm)));
    assert!(mean_where(t2, oed) > 1.2 * mean_where(t2, pure(wm)));
    // Skull-stripped: zero background.
    assert_eq!(t1[[0, 0, 0]], 0.0);
}

#[test]
fn stroke_phantoms_are_isles_studies_with_a_bright_dwi_lesion() {
    let anatomy = Anatomy::load(&mmgan::shipped::mni().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = simulate(&anatomy, Kind::Stroke, 4, 1);
    assert_eq!(p.set, mmgan::io::SequenceSet::ISLES);
    let id = subject_id(Kind::Stroke, 4, 1);
    assert_eq!(id, "Stroke-4-001");
    let folder = write_subject(&p, dir.path(), &id).unwrap();
    let study = Study::open(&folder).unwrap();
    for seq in mmgan::io::SequenceSet::ISLES.sequences() {
        assert!(study.has(seq), "{seq} written and recognised");
    }
    assert!(!study.has(Sequence::T1c));
    // The infarct is labelled 1, and only tissue is infarcted.
    let label = study.label.as_ref().unwrap();
    let lesion = label.data.iter().filter(|v| **v == 1).count();
    assert!(lesion > 50, "{lesion} lesion voxels");
    assert!(label.data.iter().all(|v| *v <= 1));

    // Infarcted white matter against normal white matter: bright on DWI (restricted
    // diffusion), and the CSF dark on DWI.
    let (f, l) = (&p.fractions, &p.label);
    let [_, _, dwi, _] = &p.sequences;
    let infarct_wm = |x: usize, y: usize, z: usize| f[[x, y, z]][4] > 0.9;
    let wm = |x: usize, y: usize, z: usize| f[[x, y, z]][1] > 0.9 && l[[x, y, z]] == 0;
    let csf = |x: usize, y: usize, z: usize| f[[x, y, z]][2] > 0.9;
    assert!(mean_where(dwi, infarct_wm) > 1.3 * mean_where(dwi, wm));
    assert!(mean_where(dwi, csf) < 0.6 * mean_where(dwi, wm));
}
