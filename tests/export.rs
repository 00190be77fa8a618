//! Exporting a synthetic volume: source grid, marked synthetic, atomic, inputs never
//! overwritten, checked with nibabel as an independent reader.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::*;
use mmgan::io::{export_synthetic, read_volume, ExportRequest, Sequence, Study};

/// A small LPS study whose voxel values encode their world position.
fn lps_study(dir: &std::path::Path) -> Study {
    let n = [6usize, 5, 4];
    let affine = [
        [-1.0, 0.0, 0.0, 10.0],
        [0.0, -2.0, 0.0, 20.0],
        [0.0, 0.0, 3.0, -7.0],
    ];
    for name in ["t1", "t1c", "t2"] {
        RawNifti::new(
            n,
            INT16,
            affine,
            values(n, |i, j, k| (i + 10 * j + 100 * k) as f64),
        )
        .write(&dir.join(format!("subj_{name}.nii.gz")));
    }
    Study::open(dir).unwrap()
}

#[test]
fn export_lands_on_the_source_grid_and_says_synthetic() {
    let d = tempfile::tempdir().unwrap();
    let s = lps_study(d.path());
    assert!(!s.has(Sequence::Flair));
    // A synthetic FLAIR: the T1 values plus 0.25, in canonical order.
    let data = s.volume(Sequence::T1).unwrap().data.mapv(|v| v + 0.25);
    let out = tempfile::tempdir().unwrap();
    let req = ExportRequest {
        sequence: Sequence::Flair,
        data: data.view(),
        sources: &[Sequence::T1, Sequence::T1c, Sequence::T2],
        method: "MM-GAN",
    };
    let path = export_synthetic(&s, &[req], out.path()).unwrap().remove(0);
    let subject = d.path().file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        path.file_name().unwrap().to_string_lossy(),
        format!("{subject}_flair_synthetic.nii.gz")
    );
    // No temp file left behind.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);

    let back = read_volume(&path).unwrap();
    assert_eq!(back.data, data);
    assert_eq!(back.orientation_code(), "LPS");
    assert_eq!(
        back.source_affine,
        s.volume(Sequence::T1).unwrap().source_affine
    );
    assert_eq!(format!("{:?}", back.datatype), "Float32");
    let descrip = String::from_utf8_lossy(&back.header.descrip);
    assert!(
        descrip.starts_with("SYNTHETIC FLAIR, MM-GAN from T1,T1c,T2"),
        "{descrip}"
    );

    // nibabel, an independent reader: shape, affine and each voxel's value by world position.
    let script = r#"
import sys, nibabel as nib, numpy as np
img = nib.load(sys.argv[1])
a = np.asarray(img.dataobj)
assert a.dtype == np.float32, a.dtype
assert a.shape == (6, 5, 4), a.shape
want = np.array([[-1,0,0,10],[0,-2,0,20],[0,0,3,-7],[0,0,0,1]], float)
assert np.allclose(img.affine, want), img.affine
assert nib.aff2axcodes(img.affine) == ('L','P','S')
assert img.header['descrip'].tobytes().startswith(b'SYNTHETIC FLAIR'), img.header['descrip']
i, j, k = np.meshgrid(np.arange(6), np.arange(5), np.arange(4), indexing='ij')
assert np.array_equal(a, (i + 10*j + 100*k).astype(np.float32) + 0.25)
print('ok')
"#;
    assert_eq!(python(script, &[&path]).trim(), "ok");
}

#[test]
fn export_names_are_forced_synthetic_and_inputs_are_never_overwritten() {
    let d = tempfile::tempdir().unwrap();
    let s = lps_study(d.path());
    let data = s.volume(Sequence::T1).unwrap().data.clone();
    let req = ExportRequest {
        sequence: Sequence::T2,
        data: data.view(),
        sources: &[Sequence::T1],
        method: "MM-GAN",
    };

    let p = export_synthetic(&s, &[req], &d.path().join("mine.nii.gz"))
        .unwrap()
        .remove(0);
    assert!(p.ends_with("mine_synthetic.nii.gz"), "{}", p.display());

    // An input file whose name already says synthetic (given explicitly) is still never
    // overwritten by an export aimed at it.
    let input = d.path().join("subj_t2.nii.gz");
    let before = std::fs::read(&input).unwrap();
    std::fs::copy(&input, d.path().join("subj_t2_synthetic.nii.gz")).unwrap();
    let mut files = s.files.clone();
    files.set(
        mmgan::io::Role::Sequence(Sequence::T2),
        d.path().join("subj_t2_synthetic.nii.gz"),
    );
    let s2 = Study::open_files(files).unwrap();
    let err =
        export_synthetic(&s2, &[req], &d.path().join("subj_t2_synthetic.nii.gz")).unwrap_err();
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), before);

    // Unwritable or missing folder: a clear error naming it, nothing written.
    let err = export_synthetic(&s, &[req], &d.path().join("nope/out.nii.gz")).unwrap_err();
    assert!(
        err.to_string().contains("nope") && err.to_string().contains("does not exist"),
        "{err}"
    );

    // Wrong grid or NaN: refused, nothing written.
    let small = ndarray::Array3::<f32>::zeros((2, 2, 2));
    let bad = ExportRequest {
        data: small.view(),
        ..req
    };
    assert!(export_synthetic(&s, &[bad], &d.path().join("x.nii.gz")).is_err());
    let mut nan = data.clone();
    nan[[1, 1, 1]] = f32::NAN;
    let bad = ExportRequest {
        data: nan.view(),
        ..req
    };
    assert!(export_synthetic(&s, &[bad], &d.path().join("y.nii.gz")).is_err());
    assert!(
        !d.path().join("x_synthetic.nii.gz").exists()
            && !d.path().join("y_synthetic.nii.gz").exists()
    );
}

#[cfg(unix)]
#[test]
fn a_failed_write_names_the_file_and_leaves_nothing() {
    // Root ignores permissions, so the write is made to fail another way: a directory
    // sits where the FLAIR file would go.
    let d = tempfile::tempdir().unwrap();
    let s = lps_study(d.path());
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let blocker = format!("{}_flair_synthetic.nii.gz", s.subject);
    std::fs::create_dir(out.join(&blocker)).unwrap();
    let data = s.volume(Sequence::T1).unwrap().data.clone();
    let req = |sequence| ExportRequest {
        sequence,
        data: data.view(),
        sources: &[Sequence::T1],
        method: "MM-GAN",
    };
    let err = export_synthetic(&s, &[req(Sequence::T2), req(Sequence::Flair)], &out)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot write")
            && err.contains("flair_synthetic")
            && err.contains("not a file"),
        "{err}"
    );
    assert!(!err.contains("Os {"), "a Debug dump: {err}");
    // All or nothing: the T2 that was written fine is not left behind either.
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| *n != blocker)
        .collect();
    assert!(
        left.is_empty(),
        "a partial export (or its temp files) left {left:?}"
    );
}

/// An oblique study written by nibabel (an independent writer) with an sform and a
/// different qform: loaded with a warning, the sform taking precedence; an export restores
/// the affine, both codes, the quaternion, pixdim and units exactly, and each voxel stays
/// at its world position (checked with nibabel).
#[test]
fn oblique_mixed_sform_qform_round_trips_exactly() {
    let d = tempfile::tempdir().unwrap();
    let make = r#"
import sys, numpy as np, nibabel as nib
out = sys.argv[1]
c, s = np.cos(0.3), np.sin(0.3)
sform = np.array([[-0.9*c, 0.0, 1.1*s, 12.5], [0.0, -1.2, 0.0, 30.25], [0.9*s, 0.0, 1.1*c, -8.0], [0, 0, 0, 1]])
qform = np.diag([-0.9, -1.2, 1.1, 1.0]); qform[:3, 3] = [12.0, 30.0, -8.5]
i, j, k = np.meshgrid(np.arange(7), np.arange(6), np.arange(5), indexing='ij')
data = (i + 10*j + 100*k).astype(np.int16)
for name in ['t1', 't1c', 't2']:
    img = nib.Nifti1Image(data, sform)
    img.set_sform(sform, code=2)
    img.set_qform(qform, code=1)
    img.header.set_xyzt_units('mm', 'sec')
    nib.save(img, f'{out}/obl_{name}.nii.gz')
print('ok')
"#;
    python(make, &[d.path()]);
    let s = Study::open(d.path()).unwrap();
    let t1 = s.volume(Sequence::T1).unwrap();
    assert!(
        t1.warnings.iter().any(|w| w.contains("oblique")),
        "{:?}",
        t1.warnings
    );
    assert_eq!(format!("{}", t1.affine_source), "sform");
    let data = t1.data.mapv(|v| v + 0.25);
    let req = ExportRequest {
        sequence: Sequence::Flair,
        data: data.view(),
        sources: &[Sequence::T1, Sequence::T1c, Sequence::T2],
        method: "MM-GAN",
    };
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let path = export_synthetic(&s, &[req], &out).unwrap().remove(0);
    let check = r#"
import sys, numpy as np, nibabel as nib
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
ha, hb = a.header, b.header
assert np.array_equal(ha.get_sform(), hb.get_sform()), (ha.get_sform(), hb.get_sform())
assert int(ha['sform_code']) == int(hb['sform_code']) == 2
assert int(ha['qform_code']) == int(hb['qform_code']) == 1
for f in ['quatern_b', 'quatern_c', 'quatern_d', 'qoffset_x', 'qoffset_y', 'qoffset_z', 'pixdim', 'xyzt_units']:
    assert np.array_equal(ha[f], hb[f]), (f, ha[f], hb[f])
assert np.array_equal(np.asarray(b.dataobj), np.asarray(a.dataobj).astype(np.float32) + 0.25)
print('ok')
"#;
    python(check, &[&d.path().join("obl_t1.nii.gz"), &path]);
}

/// Without sform or qform the pixdim diagonal is the affine; two files whose origins differ
/// by less than 1e-3 mm share a grid, by more they do not.
#[test]
fn pixdim_fallback_and_the_grid_tolerance() {
    let d = tempfile::tempdir().unwrap();
    let n = [5, 4, 3];
    let mut v = RawNifti::new(
        n,
        INT16,
        diag_affine([2.0, 3.0, 4.0], [0.0; 3]),
        values(n, |i, _, _| i as f64),
    );
    (v.sform_code, v.qform_code) = (0, 0);
    let p = d.path().join("plain.nii");
    v.write(&p);
    let back = read_volume(&p).unwrap();
    assert_eq!(back.voxel_size(), [2.0, 3.0, 4.0]);
    for (shift, same) in [(5e-4f64, true), (2e-3, false)] {
        let dir = d.path().join(format!("shift-{shift}"));
        std::fs::create_dir(&dir).unwrap();
        for (name, o) in [("t1", 0.0), ("t2", shift)] {
            RawNifti::new(
                n,
                INT16,
                diag_affine([1.0; 3], [o, 0.0, 0.0]),
                values(n, |i, _, _| i as f64),
            )
            .write(&dir.join(format!("{name}.nii.gz")));
        }
        assert_eq!(Study::open(&dir).is_ok(), same, "origin shift {shift} mm");
    }
}
