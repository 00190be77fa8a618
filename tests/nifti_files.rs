//! NIfTI files written by the tests (with an independent writer): every datatype, scaling,
//! byte order, orientation handling and the errors bad files give.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::*;
use mmgan::io::{read_volume, IoError, Study, StudyFiles};
use std::path::Path;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn every_datatype_reads_back_exactly() {
    let d = dir();
    let dims = [5, 4, 3];
    let vals = values(dims, |i, j, k| (i + 5 * j + 20 * k) as f64); // 0..59 fits every type
    for dt in [
        UINT8, INT8, INT16, UINT16, INT32, UINT32, INT64, UINT64, FLOAT32, FLOAT64,
    ] {
        for ext in ["nii", "nii.gz"] {
            let p = d.path().join(format!("v{dt}.{ext}"));
            RawNifti::new(dims, dt, diag_affine([1.0; 3], [0.0; 3]), vals.clone()).write(&p);
            let v = read_volume(&p).unwrap_or_else(|e| panic!("datatype {dt} {ext}: {e}"));
            assert_eq!(v.dims(), dims);
            let got: Vec<f64> = v.data.t().iter().map(|&x| f64::from(x)).collect();
            assert_eq!(got, vals, "datatype {dt} {ext}");
        }
    }
}

#[test]
fn scaling_and_byte_order_are_applied() {
    let d = dir();
    let dims = [3, 3, 2];
    let vals = values(dims, |i, j, k| (i + 3 * j + 9 * k) as f64 - 5.0);
    let mut raw = RawNifti::new(dims, INT16, diag_affine([1.0; 3], [0.0; 3]), vals.clone());
    raw.scl_slope = 2.5;
    raw.scl_inter = 100.0;
    raw.big_endian = true;
    let p = d.path().join("scaled.nii.gz");
    raw.write(&p);
    let v = read_volume(&p).unwrap();
    let got: Vec<f32> = v.data.t().iter().copied().collect();
    let want: Vec<f32> = vals.iter().map(|x| (x * 2.5 + 100.0) as f32).collect();
    assert_eq!(got, want);
    assert_eq!(v.stats.min, -5.0 * 2.5 + 100.0);
}

#[test]
fn nan_and_inf_become_zero_with_a_warning() {
    let d = dir();
    let dims = [2, 2, 2];
    let mut vals = vec![1.0; 8];
    vals[3] = f64::NAN;
    vals[5] = f64::INFINITY;
    let p = d.path().join("nan.nii");
    RawNifti::new(dims, FLOAT32, diag_affine([1.0; 3], [0.0; 3]), vals).write(&p);
    let v = read_volume(&p).unwrap();
    assert_eq!(v.data.iter().filter(|x| **x == 0.0).count(), 2);
    assert!(v.data.iter().all(|x| x.is_finite()));
    assert!(
        v.warnings.iter().any(|w| w.contains("2 NaN")),
        "{:?}",
        v.warnings
    );
}

/// One image in world space, stored three ways: RAS, LPS and a permuted axis order
/// (with a qform instead of an sform). All must load to the same RAS array and affine.
#[test]
fn ras_lps_and_permuted_files_load_to_the_same_canonical_array() {
    let d = dir();
    let n = [6usize, 5, 4]; // RAS extent
    let world_value = |x: usize, y: usize, z: usize| (x + 10 * y + 100 * z) as f64;

    let ras = RawNifti::new(
        n,
        INT16,
        diag_affine([1.0, 2.0, 3.0], [-3.0, -4.0, -5.0]),
        values(n, world_value),
    );
    ras.write(&d.path().join("ras.nii.gz"));

    // LPS: voxel i runs R->L, j runs A->P. World x = -3 + (5 - i).
    let lps_affine = [
        [-1.0, 0.0, 0.0, -3.0 + 5.0],
        [0.0, -2.0, 0.0, -4.0 + 2.0 * 4.0],
        [0.0, 0.0, 3.0, -5.0],
    ];
    let lps = RawNifti::new(
        n,
        INT16,
        lps_affine,
        values(n, |i, j, k| world_value(5 - i, 4 - j, k)),
    );
    lps.write(&d.path().join("lps.nii.gz"));

    // Permuted (S, R, A) voxel axes, expressed as a qform: rotation mapping voxel axes to
    // world axes (i->z, j->x, k->y) is a proper rotation (det +1): quaternion a = 0.5, (b, c, d) = -0.5.
    let pdims = [n[2], n[0], n[1]];
    let mut perm = RawNifti::new(
        pdims,
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        values(pdims, |i, j, k| world_value(j, k, i)),
    );
    perm.sform_code = 0;
    perm.qform_code = 1;
    perm.pixdim = [1.0, 3.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0];
    perm.quatern = [-0.5, -0.5, -0.5, -3.0, -4.0, -5.0];
    perm.write(&d.path().join("perm.nii"));

    let a = read_volume(&d.path().join("ras.nii.gz")).unwrap();
    let b = read_volume(&d.path().join("lps.nii.gz")).unwrap();
    let c = read_volume(&d.path().join("perm.nii")).unwrap();
    assert_eq!(a.orientation_code(), "RAS");
    assert_eq!(b.orientation_code(), "LPS");
    assert_eq!(c.orientation_code(), "SRA");
    for v in [&b, &c] {
        assert_eq!(v.data, a.data, "{}", v.path.display());
        for i in 0..3 {
            for j in 0..4 {
                assert!(
                    (v.affine[i][j] - a.affine[i][j]).abs() < 1e-5,
                    "{}: {:?} vs {:?}",
                    v.path.display(),
                    v.affine,
                    a.affine
                );
            }
        }
    }
    // Spot-check: canonical index (x, y, z) holds world_value(x, y, z).
    assert_eq!(a.data[[4, 3, 2]], world_value(4, 3, 2) as f32);
    assert_eq!(b.voxel_size(), [1.0, 2.0, 3.0]);
}

fn assert_error_names(err: IoError, path: &Path, needle: &str) {
    let msg = err.to_string();
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(&*name), "error does not name {name}: {msg}");
    assert!(
        msg.to_lowercase().contains(needle),
        "error lacks '{needle}': {msg}"
    );
}

#[test]
fn truncated_gzip_is_reported() {
    let d = dir();
    let dims = [40, 40, 30];
    let p = d.path().join("t1.nii.gz");
    RawNifti::new(
        dims,
        FLOAT32,
        diag_affine([1.0; 3], [0.0; 3]),
        values(dims, |i, j, k| (i * j + k) as f64 * 0.37),
    )
    .write(&p);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_error_names(read_volume(&p).unwrap_err(), &p, "truncated");
}

#[test]
fn corrupt_gzip_is_reported() {
    let d = dir();
    let dims = [20, 20, 20];
    let p = d.path().join("t2.nii.gz");
    RawNifti::new(
        dims,
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        values(dims, |i, j, k| (i * 7 + j * 3 + k) as f64),
    )
    .write(&p);
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 40] {
        *b ^= 0x5a;
    }
    std::fs::write(&p, &bytes).unwrap();
    let msg = read_volume(&p).unwrap_err().to_string();
    assert!(
        msg.contains("t2.nii.gz") && (msg.contains("corrupt") || msg.contains("truncated")),
        "{msg}"
    );
}

#[test]
fn wrong_magic_and_non_nifti_files_are_refused() {
    let d = dir();
    let dims = [2, 2, 2];
    let mut raw = RawNifti::new(dims, INT16, diag_affine([1.0; 3], [0.0; 3]), vec![0.0; 8]);
    raw.magic = *b"xyz\0";
    let p = d.path().join("magic.nii");
    raw.write(&p);
    assert_error_names(read_volume(&p).unwrap_err(), &p, "not a nifti");

    let q = d.path().join("notes.nii.gz");
    write_maybe_gz(&q, b"these are not the voxels you are looking for");
    assert_error_names(read_volume(&q).unwrap_err(), &q, "truncated");

    let r = d.path().join("text.nii");
    std::fs::write(&r, vec![b'a'; 2000]).unwrap();
    assert_error_names(read_volume(&r).unwrap_err(), &r, "not a nifti");
}

#[test]
fn header_larger_than_data_is_refused() {
    let d = dir();
    let dims = [10, 10, 10];
    for name in ["big.nii", "big.nii.gz"] {
        let mut raw = RawNifti::new(
            dims,
            INT16,
            diag_affine([1.0; 3], [0.0; 3]),
            vec![1.0; 1000],
        );
        raw.dim = [3, 20, 20, 20, 1, 1, 1, 1];
        let p = d.path().join(name);
        raw.write(&p);
        assert_error_names(read_volume(&p).unwrap_err(), &p, "truncated");
    }
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    let d = dir();
    let mut raw = RawNifti::new(
        [2, 2, 2],
        FLOAT64,
        diag_affine([1.0; 3], [0.0; 3]),
        vec![1.0; 8],
    );
    raw.dim = [3, 30000, 30000, 30000, 1, 1, 1, 1];
    for name in ["huge.nii", "huge.nii.gz"] {
        let p = d.path().join(name);
        raw.write(&p);
        let msg = read_volume(&p).unwrap_err().to_string();
        assert!(
            msg.contains(name) && msg.contains("over the limit"),
            "{msg}"
        );
    }
    // Within the voxel limit but far more than a small gzip file can hold.
    raw.dim = [3, 400, 400, 400, 1, 1, 1, 1];
    let p = d.path().join("liar.nii.gz");
    raw.write(&p);
    assert_error_names(read_volume(&p).unwrap_err(), &p, "implausible header");
    // Negative dimension.
    raw.dim = [3, -4, 2, 2, 1, 1, 1, 1];
    let p = d.path().join("negative.nii");
    raw.write(&p);
    assert_error_names(read_volume(&p).unwrap_err(), &p, "non-positive");
}

#[test]
fn four_d_with_several_volumes_is_refused_but_one_volume_is_fine() {
    let d = dir();
    let mut raw = RawNifti::new(
        [2, 2, 2],
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        vec![1.0; 8],
    );
    raw.dim = [4, 2, 2, 1, 2, 1, 1, 1];
    let p = d.path().join("dwi.nii");
    raw.write(&p);
    assert_error_names(read_volume(&p).unwrap_err(), &p, "2 volumes");
    raw.dim = [4, 2, 2, 2, 1, 1, 1, 1];
    let q = d.path().join("single.nii");
    raw.write(&q);
    assert_eq!(read_volume(&q).unwrap().dims(), [2, 2, 2]);
}

#[test]
fn mismatched_grids_name_every_file() {
    let d = dir();
    write_small_study(d.path(), [6, 6, 4]);
    // FLAIR on a shifted grid.
    RawNifti::new(
        [6, 6, 4],
        INT16,
        diag_affine([1.0; 3], [0.0, 0.5, 0.0]),
        vec![1.0; 144],
    )
    .write(&d.path().join("flair.nii.gz"));
    let msg = Study::open(d.path()).unwrap_err().to_string();
    for f in ["t1.nii.gz", "t1c.nii.gz", "t2.nii.gz", "flair.nii.gz"] {
        assert!(msg.contains(f), "{msg}");
    }
    assert!(msg.contains("not on one grid"), "{msg}");
    // Different dimensions.
    RawNifti::new(
        [6, 6, 5],
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        vec![1.0; 180],
    )
    .write(&d.path().join("flair.nii.gz"));
    let msg = Study::open(d.path()).unwrap_err().to_string();
    assert!(msg.contains("6x6x5") && msg.contains("6x6x4"), "{msg}");
}

#[test]
fn ambiguous_missing_and_empty_folders_are_clear_errors() {
    let d = dir();
    write_small_study(d.path(), [4, 4, 2]);
    RawNifti::new(
        [4, 4, 2],
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        vec![1.0; 32],
    )
    .write(&d.path().join("patient_T1.nii"));
    let msg = Study::open(d.path()).unwrap_err().to_string();
    assert!(
        msg.contains("patient_T1.nii") && msg.contains("t1.nii.gz") && msg.contains("T1"),
        "{msg}"
    );

    let missing = d.path().join("no-such-study");
    let msg = Study::open(&missing).unwrap_err().to_string();
    assert!(
        msg.contains("no-such-study") && msg.contains("does not exist"),
        "{msg}"
    );

    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("README.txt"), "nothing").unwrap();
    let msg = Study::open(&empty).unwrap_err().to_string();
    assert!(
        msg.contains("empty") && msg.contains("no MRI sequence"),
        "{msg}"
    );
}

#[test]
fn study_with_absent_sequences_and_explicit_files() {
    let d = dir();
    write_small_study(d.path(), [4, 4, 2]);
    std::fs::remove_file(d.path().join("t2.nii.gz")).unwrap();
    let s = Study::open(d.path()).unwrap();
    use mmgan::io::Sequence::*;
    assert_eq!(s.present(), vec![T1, T1c, Flair]);
    assert!(!s.has(T2));
    // An explicit file overrides detection (a file of its own: one file for two roles is
    // refused, see tests/hostile.rs).
    let mut files = StudyFiles::detect(d.path()).unwrap();
    let copy = d.path().join("copy-of-t1.nii.gz");
    std::fs::copy(d.path().join("t1.nii.gz"), &copy).unwrap();
    files.set(mmgan::io::Role::Sequence(T2), copy);
    let s = Study::open_files(files).unwrap();
    assert_eq!(s.volume(T2).unwrap().data, s.volume(T1).unwrap().data);
}
