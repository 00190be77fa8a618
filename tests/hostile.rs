//! Hostile inputs (issue 10): each gets one clear error naming the file and the problem, or
//! a warning where it is harmless; never a panic, an abort, a hang or silent nonsense. The
//! tests build the hostile files themselves.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use mmgan::io::{read_volume, Role, Sequence, Study, StudyFiles};

fn mmgan(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mmgan"))
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.code().unwrap_or(-1), text)
}

/// A tiny weights folder whose sidecar is `edit`ed JSON.
fn weights_with(dir: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let meta = test_weights_meta(
        mmgan::model::GeneratorConfig::new()
            .with_width(4)
            .with_depth(3),
    );
    let mut json = serde_json::to_value(&meta).unwrap();
    edit(&mut json);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("generator.json"), json.to_string()).unwrap();
    std::fs::write(dir.join("generator.bpk"), b"not read").unwrap();
}

#[test]
fn edited_sidecars_are_refused_naming_the_file_and_field() {
    let d = tempfile::tempdir().unwrap();
    let study = d.path().join("study");
    std::fs::create_dir(&study).unwrap();
    write_small_study(&study, [24, 24, 6]);
    let cases: [(&str, serde_json::Value, &str); 9] = [
        ("/channel_order/2", "T1".into(), "channel_order"),
        ("/channel_order/0", "PD".into(), "channel_order"),
        ("/generator/depth", 0.into(), "generator.depth"),
        ("/generator/depth", 64.into(), "generator.depth"),
        ("/generator/dropout", 5.0.into(), "generator.dropout"),
        ("/generator/width", 0.into(), "generator.width"),
        ("/side", 0.into(), "side"),
        ("/side", 2_097_152.into(), "side"),
        (
            "/output_scale/lo_fraction/1",
            1e30.into(),
            "output_scale.lo_fraction",
        ),
    ];
    for (i, (pointer, value, field)) in cases.into_iter().enumerate() {
        let w = d.path().join(format!("w{i}"));
        weights_with(&w, |j| *j.pointer_mut(pointer).unwrap() = value.clone());
        let err = mmgan::model::WeightsMeta::load(&w).unwrap_err().to_string();
        assert!(
            err.contains("generator.json") && err.contains(field),
            "{pointer}: {err}"
        );
        // The same through the binary: exit code 1, one line, no panic.
        let (code, text) = mmgan(&[
            "synthesize",
            study.to_str().unwrap(),
            "--missing",
            "flair",
            "--out",
            d.path().join("o").to_str().unwrap(),
            "--weights",
            w.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{text}");
        assert!(
            text.contains("generator.json") && text.contains(field),
            "{text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    let d = tempfile::tempdir().unwrap();
    // A header claiming 1290^3 uint8 with a few bytes of data: refused before reading.
    let mut bomb = RawNifti::new(
        [2, 2, 2],
        UINT8,
        diag_affine([1.0; 3], [0.0; 3]),
        vec![0.0; 8],
    );
    bomb.dim = [3, 1290, 1290, 1290, 1, 1, 1, 1];
    let p = d.path().join("flair.nii.gz");
    bomb.write(&p);
    let err = read_volume(&p).unwrap_err().to_string();
    assert!(
        err.contains("flair.nii.gz") && err.contains("limit"),
        "{err}"
    );
    // In a study, a file on a bigger grid is refused before any voxel is decoded.
    let small = [8, 8, 8];
    RawNifti::new(
        small,
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        values(small, |i, _, _| i as f64),
    )
    .write(&d.path().join("t1.nii.gz"));
    let big = [200, 200, 200];
    RawNifti::new(
        big,
        FLOAT32,
        diag_affine([1.0; 3], [0.0; 3]),
        vec![0.0; 8_000_000],
    )
    .write(&d.path().join("flair.nii.gz"));
    let err = Study::open(d.path()).unwrap_err().to_string();
    assert!(
        err.contains("not on one grid") && err.contains("200x200x200"),
        "{err}"
    );
}

#[test]
fn non_finite_affines_are_refused_and_odd_headers_warned() {
    let d = tempfile::tempdir().unwrap();
    let n = [6, 6, 6];
    for (name, bad) in [("nan.nii", f32::NAN), ("inf.nii", f32::INFINITY)] {
        let mut v = RawNifti::new(
            n,
            INT16,
            diag_affine([1.0; 3], [0.0; 3]),
            values(n, |i, _, _| i as f64),
        );
        v.srow[1][3] = bad;
        let p = d.path().join(name);
        v.write(&p);
        let err = read_volume(&p).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains("non-finite"), "{err}");
    }
    // qform with pixdim NaN: read, with a warning saying what was assumed.
    let mut q = RawNifti::new(
        n,
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        values(n, |i, _, _| i as f64),
    );
    (q.sform_code, q.qform_code) = (0, 1);
    q.pixdim[2] = f32::NAN;
    let p = d.path().join("q.nii");
    q.write(&p);
    let v = read_volume(&p).unwrap();
    assert!(
        v.warnings
            .iter()
            .any(|w| w.contains("pixdim[2]") && w.contains("1 mm")),
        "{:?}",
        v.warnings
    );
    // bitpix disagreeing with the datatype, and scl_inter NaN: read, warned.
    let ramp = || {
        RawNifti::new(
            n,
            INT16,
            diag_affine([1.0; 3], [0.0; 3]),
            values(n, |i, _, _| i as f64),
        )
    };
    let mut bytes = ramp().bytes();
    bytes[72..74].copy_from_slice(&8i16.to_le_bytes());
    bytes[112..116].copy_from_slice(&2f32.to_le_bytes());
    bytes[116..120].copy_from_slice(&f32::NAN.to_le_bytes());
    let p = d.path().join("odd.nii");
    std::fs::write(&p, &bytes).unwrap();
    let v = read_volume(&p).unwrap();
    assert!(
        v.warnings.iter().any(|w| w.contains("bitpix 8")),
        "{:?}",
        v.warnings
    );
    assert!(
        v.warnings.iter().any(|w| w.contains("scl_inter")),
        "{:?}",
        v.warnings
    );
    // dim[0] out of range is reported as written, not byte-swapped.
    let mut bytes = ramp().bytes();
    bytes[40..42].copy_from_slice(&8i16.to_le_bytes());
    let p = d.path().join("dim0.nii");
    std::fs::write(&p, &bytes).unwrap();
    let err = read_volume(&p).unwrap_err().to_string();
    assert!(err.contains("dim[0] = 8"), "{err}");
}

#[test]
fn the_ambiguity_advice_works_when_followed() {
    let d = tempfile::tempdir().unwrap();
    write_small_study(d.path(), [8, 8, 8]);
    let second = d.path().join("other_flair.nii.gz");
    std::fs::copy(d.path().join("flair.nii.gz"), &second).unwrap();
    let folder = d.path().to_str().unwrap();
    let (code, text) = mmgan(&["info", folder]);
    assert_eq!(code, 1);
    assert!(text.contains("--flair"), "{text}");
    let (code, text) = mmgan(&["info", folder, "--flair", second.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("other_flair.nii.gz"), "{text}");
    let f = StudyFiles::detect_except(d.path(), &[Role::Sequence(Sequence::Flair)]).unwrap();
    assert!(f.get(Role::Sequence(Sequence::Flair)).is_none());
}

#[test]
fn broken_role_files_are_errors_not_absent_sequences() {
    let d = tempfile::tempdir().unwrap();
    type Make = fn(&Path);
    let cases: [(&str, Make); 4] = [
        ("dangling", |p| {
            std::os::unix::fs::symlink("/nonexistent/flair.nii.gz", p).unwrap()
        }),
        ("loop", |p| std::os::unix::fs::symlink(p, p).unwrap()),
        ("dir", |p| std::fs::create_dir(p).unwrap()),
        ("fifo", |p| {
            assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
        }),
    ];
    for (what, make) in cases {
        let study = d.path().join(what);
        std::fs::create_dir(&study).unwrap();
        write_small_study(&study, [8, 8, 8]);
        std::fs::remove_file(study.join("flair.nii.gz")).unwrap();
        let flair = study.join("flair.nii.gz");
        make(&flair);
        let err = Study::open(&study).unwrap_err().to_string();
        assert!(err.contains("flair.nii.gz"), "{what}: {err}");
    }
    // An explicit FIFO must not hang the reader.
    let fifo = d.path().join("fifo/flair.nii.gz");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mmgan"))
        .args(["info", "--flair", fifo.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("mmgan info on a FIFO hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(child.wait().unwrap().code(), Some(1));
    // A .hdr/.img pair named for a role is refused, not ignored.
    let pair = d.path().join("pair");
    std::fs::create_dir(&pair).unwrap();
    write_small_study(&pair, [8, 8, 8]);
    std::fs::remove_file(pair.join("flair.nii.gz")).unwrap();
    std::fs::write(pair.join("flair.hdr"), [0u8; 348]).unwrap();
    let err = Study::open(&pair).unwrap_err().to_string();
    assert!(
        err.contains("flair.hdr") && err.contains(".hdr/.img"),
        "{err}"
    );
}

#[test]
fn stale_temporaries_are_cleaned_and_live_ones_removed_on_interrupt() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("out.bin");
    // A temp file left by a process that no longer runs (pid far above pid_max).
    let stale = d.path().join(".out.bin.partial-4999999");
    std::fs::write(&stale, b"half").unwrap();
    let pending = mmgan::io::write_pending(&target, "", |t| {
        std::fs::write(t, b"new").map_err(|e| e.to_string())
    })
    .unwrap();
    assert!(!stale.exists(), "a stale temp file stays");
    // What a signal handler does mid-write: the live temp file goes, the target is untouched.
    mmgan::io::remove_live_temporaries();
    assert!(!target.exists());
    assert!(
        std::fs::read_dir(d.path()).unwrap().next().is_none(),
        "temp file left"
    );
    drop(pending);
}

#[test]
fn messages_are_for_people() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("study.txt");
    std::fs::write(&file, b"x").unwrap();
    let (code, text) = mmgan(&["info", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(text.contains("not a study folder"), "{text}");
    // An OS error is said once.
    let (code, text) = mmgan(&["info", "--t1", "/nonexistent/t1.nii.gz"]);
    assert_eq!(code, 1);
    assert_eq!(text.matches("No such file").count(), 1, "{text}");
}

#[test]
fn the_output_folder_is_checked_before_inference() {
    let d = tempfile::tempdir().unwrap();
    write_small_study(d.path(), [24, 24, 6]);
    let blocked = d.path().join("a-file");
    std::fs::write(&blocked, b"x").unwrap();
    let started = Instant::now();
    let (code, text) = mmgan(&[
        "synthesize",
        d.path().to_str().unwrap(),
        "--missing",
        "flair",
        "--out",
        blocked.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        text.contains("a-file") && text.contains("not a folder"),
        "{text}"
    );
    assert!(!text.contains("MM-GAN from"), "inference ran first: {text}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn odd_studies_are_refused_or_warned() {
    let d = tempfile::tempdir().unwrap();
    write_small_study(d.path(), [24, 24, 6]);
    // The same file for two roles.
    let t1 = d.path().join("t1.nii.gz");
    let (code, text) = mmgan(&[
        "info",
        "--t1",
        t1.to_str().unwrap(),
        "--t2",
        t1.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(text.contains("both T1 and T2"), "{text}");
    // Label values outside the BraTS codes: a warning on the label volume.
    let n = [24, 24, 6];
    RawNifti::new(
        n,
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        values(n, |i, _, _| (i % 7) as f64),
    )
    .write(&d.path().join("seg.nii.gz"));
    let s = Study::open(d.path()).unwrap();
    let label = s.label.as_ref().unwrap();
    assert!(
        label.warnings.iter().any(|w| w.contains("0-4")),
        "{:?}",
        label.warnings
    );
    // Codes 0-6 held as they are (in RAS order: the file is RAS).
    assert_eq!(label.data[[5, 0, 0]], 5);
    assert_eq!(label.data[[6, 3, 2]], 6);
    // A float label map with fractions, negatives and huge values: each of those is held
    // as NOT_A_LABEL (drawn as tumour, counted in the warning), codes as they are; NaN is
    // 0, as in any volume, with its own warning.
    let odd = [-1.0, 2.5, 1e6, 255.0];
    RawNifti::new(
        n,
        FLOAT32,
        diag_affine([1.0; 3], [0.0; 3]),
        values(n, |i, _, _| match i {
            _ if i < odd.len() => odd[i],
            4 => f64::NAN,
            _ => (i % 5) as f64,
        }),
    )
    .write(&d.path().join("seg.nii.gz"));
    let s = Study::open(d.path()).unwrap();
    let label = s.label.as_ref().unwrap();
    for (i, v) in odd.iter().enumerate() {
        assert_eq!(label.data[[i, 1, 1]], mmgan::io::NOT_A_LABEL, "value {v}");
    }
    assert_eq!(label.data[[4, 1, 1]], 0);
    assert_eq!(label.data[[7, 1, 1]], 2);
    assert!(label.warnings.iter().any(|w| w.contains("NaN")));
    let expected = odd.len() * n[1] * n[2];
    assert!(
        label
            .warnings
            .iter()
            .any(|w| w.starts_with(&format!("{expected} label voxels"))),
        "{:?}",
        label.warnings
    );
    // An all-zero input sequence is not used as if acquired.
    RawNifti::new(
        n,
        INT16,
        diag_affine([1.0; 3], [0.0; 3]),
        vec![0.0; 24 * 24 * 6],
    )
    .write(&d.path().join("t2.nii.gz"));
    let w = d.path().join("weights");
    let meta = test_weights_meta(
        mmgan::model::GeneratorConfig::new()
            .with_width(4)
            .with_depth(3),
    );
    let device = burn::tensor::Device::flex();
    let config = meta.generator.clone().expect("an MM-GAN sidecar");
    mmgan::model::save_generator(&w, &config.init(&device), &meta).unwrap();
    let synth = mmgan::engine::Synthesizer::load(&w, mmgan::engine::BackendChoice::Cpu).unwrap();
    let s = Study::open(d.path()).unwrap();
    let scenario =
        mmgan::model::Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair])
            .unwrap();
    let err = synth.prepare(&s, scenario).unwrap_err().to_string();
    assert!(
        err.contains("t2.nii.gz") && err.contains("all zeros"),
        "{err}"
    );
}

/// A short run of the mutation fuzzer (`mmgan bench fuzz`): no mutated NIfTI file or
/// sidecar makes the reader or the weights loader panic. (1,000,000 iterations were run
/// for the issue; CI runs this slice of them.)
#[test]
fn a_short_fuzzing_run_finds_no_panic() {
    let (code, text) = mmgan(&["bench", "fuzz", "--iterations", "20000", "--seed", "7"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 panics"), "{text}");
    assert!(text.contains("refused with an error"), "{text}");
}
