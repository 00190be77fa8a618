//! Test helpers: a minimal, independent NIfTI-1 writer (so tests do not only check our
//! reader against our own writer) and paths to the shared real studies.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The real studies beside the checkout (`../shared/data/real`).
pub fn real_data() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    assert!(
        p.is_dir(),
        "{} is missing: the tests need ../shared/data beside the checkout",
        p.display()
    );
    p
}

/// NIfTI datatype codes.
pub const UINT8: i16 = 2;
pub const INT16: i16 = 4;
pub const INT32: i16 = 8;
pub const FLOAT32: i16 = 16;
pub const FLOAT64: i16 = 64;
pub const INT8: i16 = 256;
pub const UINT16: i16 = 512;
pub const UINT32: i16 = 768;
pub const INT64: i16 = 1024;
pub const UINT64: i16 = 1280;

/// Everything a test wants to control in a NIfTI-1 file.
#[derive(Clone, Debug)]
pub struct RawNifti {
    pub dim: [i16; 8],
    pub datatype: i16,
    pub pixdim: [f32; 8],
    pub scl_slope: f32,
    pub scl_inter: f32,
    pub qform_code: i16,
    pub sform_code: i16,
    pub quatern: [f32; 6],
    pub srow: [[f32; 4]; 3],
    pub magic: [u8; 4],
    pub big_endian: bool,
    /// Voxel values in file order (x fastest), encoded as `datatype`.
    pub values: Vec<f64>,
}

impl RawNifti {
    /// A 3D volume with an sform affine.
    pub fn new(dims: [usize; 3], datatype: i16, affine: [[f64; 4]; 3], values: Vec<f64>) -> Self {
        assert_eq!(values.len(), dims.iter().product::<usize>());
        let col = |j: usize| {
            (0..3)
                .map(|i| affine[i][j] * affine[i][j])
                .sum::<f64>()
                .sqrt() as f32
        };
        RawNifti {
            dim: [
                3,
                dims[0] as i16,
                dims[1] as i16,
                dims[2] as i16,
                1,
                1,
                1,
                1,
            ],
            datatype,
            pixdim: [1.0, col(0), col(1), col(2), 1.0, 1.0, 1.0, 1.0],
            scl_slope: 1.0,
            scl_inter: 0.0,
            qform_code: 0,
            sform_code: 1,
            quatern: [0.0; 6],
            srow: affine.map(|r| r.map(|v| v as f32)),
            magic: *b"n+1\0",
            big_endian: false,
            values,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut h: Vec<u8> = Vec::with_capacity(352);
        let be = self.big_endian;
        macro_rules! put {
            ($v:expr) => {
                if be {
                    h.extend_from_slice(&$v.to_be_bytes())
                } else {
                    h.extend_from_slice(&$v.to_le_bytes())
                }
            };
        }
        put!(348i32);
        h.extend_from_slice(&[0u8; 10 + 18]);
        put!(0i32); // extents
        put!(0i16); // session_error
        h.push(b'r'); // regular
        h.push(0); // dim_info
        for d in self.dim {
            put!(d);
        }
        for _ in 0..3 {
            put!(0f32); // intent_p1..3
        }
        put!(0i16); // intent_code
        put!(self.datatype);
        put!(bitpix(self.datatype));
        put!(0i16); // slice_start
        for p in self.pixdim {
            put!(p);
        }
        put!(352f32); // vox_offset
        put!(self.scl_slope);
        put!(self.scl_inter);
        put!(0i16); // slice_end
        h.push(0); // slice_code
        h.push(2); // xyzt_units: mm
        for _ in 0..4 {
            put!(0f32); // cal_max, cal_min, slice_duration, toffset
        }
        put!(0i32);
        put!(0i32); // glmax, glmin
        let mut descrip = [0u8; 80];
        descrip[..9].copy_from_slice(b"test data");
        h.extend_from_slice(&descrip);
        h.extend_from_slice(&[0u8; 24]); // aux_file
        put!(self.qform_code);
        put!(self.sform_code);
        for q in self.quatern {
            put!(q);
        }
        for row in self.srow {
            for v in row {
                put!(v);
            }
        }
        h.extend_from_slice(&[0u8; 16]); // intent_name
        h.extend_from_slice(&self.magic);
        assert_eq!(h.len(), 348);
        h.extend_from_slice(&[0u8; 4]); // no extensions
        for &v in &self.values {
            match self.datatype {
                UINT8 => put!(v as u8),
                INT8 => put!(v as i8),
                INT16 => put!(v as i16),
                UINT16 => put!(v as u16),
                INT32 => put!(v as i32),
                UINT32 => put!(v as u32),
                INT64 => put!(v as i64),
                UINT64 => put!(v as u64),
                FLOAT32 => put!(v as f32),
                FLOAT64 => put!(v),
                other => panic!("test writer: datatype {other}"),
            }
        }
        h
    }

    /// Write as `.nii` or, when the name ends with `.gz`, gzip-compressed.
    pub fn write(&self, path: &Path) {
        let bytes = self.bytes();
        write_maybe_gz(path, &bytes);
    }
}

pub fn write_maybe_gz(path: &Path, bytes: &[u8]) {
    if path.to_string_lossy().ends_with(".gz") {
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
    } else {
        std::fs::write(path, bytes).unwrap();
    }
}

fn bitpix(datatype: i16) -> i16 {
    match datatype {
        UINT8 | INT8 => 8,
        INT16 | UINT16 => 16,
        INT32 | UINT32 | FLOAT32 => 32,
        _ => 64,
    }
}

/// Identity-rotation affine rows with voxel size `s` and origin `o`.
pub fn diag_affine(s: [f64; 3], o: [f64; 3]) -> [[f64; 4]; 3] {
    [
        [s[0], 0.0, 0.0, o[0]],
        [0.0, s[1], 0.0, o[1]],
        [0.0, 0.0, s[2], o[2]],
    ]
}

/// A small 3D study-like volume: `dims`, values `f(i, j, k)` in file order.
pub fn values(dims: [usize; 3], f: impl Fn(usize, usize, usize) -> f64) -> Vec<f64> {
    let mut v = Vec::with_capacity(dims.iter().product());
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                v.push(f(i, j, k));
            }
        }
    }
    v
}

/// Write a plain four-sequence study (`t1 t1c t2 flair` `.nii.gz`, RAS, 1 mm) into `dir`.
pub fn write_small_study(dir: &Path, dims: [usize; 3]) {
    for (n, name) in ["t1", "t1c", "t2", "flair"].iter().enumerate() {
        let vals = values(dims, |i, j, k| (i + 2 * j + 3 * k + n) as f64);
        RawNifti::new(dims, INT16, diag_affine([1.0; 3], [0.0; 3]), vals)
            .write(&dir.join(format!("{name}.nii.gz")));
    }
}

/// A synthetic subject with a brain-like disc and a "tumour" blob, four contrasts that are
/// related but different (so a model can learn one from the others), RAS, 1 mm.
pub fn write_toy_subject(dir: &Path, dims: [usize; 3], seed: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let [nx, ny, nz] = dims;
    let (cx, cy) = (nx as f64 / 2.0, ny as f64 / 2.0);
    let r = nx.min(ny) as f64 * 0.35;
    let (tx, ty) = (cx + 4.0 + (seed % 3) as f64, cy - 3.0 + (seed % 5) as f64);
    let tissue = |i: usize, j: usize, k: usize| -> Option<(f64, f64)> {
        let (x, y) = (i as f64 - cx, j as f64 - cy);
        let d = (x * x + y * y).sqrt();
        let rz = r * (1.0 - ((k as f64 - nz as f64 / 2.0) / nz as f64).powi(2));
        if d > rz || k == 0 || k + 1 == nz {
            return None;
        }
        let wm = ((x * 0.3 + seed as f64).sin() * (y * 0.25).cos() + 1.0) / 2.0; // 0..1
        let tumour =
            (((i as f64 - tx).powi(2) + (j as f64 - ty).powi(2)).sqrt() < 5.0) as u8 as f64;
        Some((wm, tumour))
    };
    let contrast = |n: usize, wm: f64, t: f64| -> f64 {
        match n {
            0 => 300.0 + 400.0 * wm - 100.0 * t, // T1
            1 => 300.0 + 400.0 * wm + 500.0 * t, // T1c: enhancing
            2 => 700.0 - 300.0 * wm + 400.0 * t, // T2
            _ => 500.0 - 150.0 * wm + 600.0 * t, // FLAIR
        }
    };
    for (n, name) in ["t1", "t1c", "t2", "flair"].iter().enumerate() {
        let vals = values(dims, |i, j, k| {
            tissue(i, j, k)
                .map(|(wm, t)| contrast(n, wm, t) * (1.0 + 0.1 * seed as f64))
                .unwrap_or(0.0)
        });
        RawNifti::new(dims, INT16, diag_affine([1.0; 3], [0.0; 3]), vals)
            .write(&dir.join(format!("{name}.nii.gz")));
    }
    let seg = values(dims, |i, j, k| {
        tissue(i, j, k).map(|(_, t)| t).unwrap_or(0.0)
    });
    RawNifti::new(dims, UINT8, diag_affine([1.0; 3], [0.0; 3]), seg).write(&dir.join("seg.nii.gz"));
}

/// A sidecar for small test generators (64x64 slices, pad fit, zeros imputation).
pub fn test_weights_meta(generator: mmgan::model::GeneratorConfig) -> mmgan::model::WeightsMeta {
    mmgan::model::WeightsMeta {
        method: mmgan::model::Method::MmGan,
        generator: Some(generator),
        mmsynthesis: None,
        pgan: None,
        replica: None,
        side: 64,
        fit: mmgan::data::Fit::Pad,
        channel_order: mmgan::io::SequenceSet::BRATS.names(),
        normalisation: mmgan::model::NORMALISATION.into(),
        imputation: mmgan::model::Imputation::Zeros,
        output_scale: mmgan::data::OutputScale {
            log_hi_ratio: [[0.0; 4]; 4],
            lo_fraction: [0.0; 4],
        },
        training: mmgan::model::TrainingInfo::default(),
        validation: None,
        calibration: None,
        expected_error: None,
        test_time_flip: false,
        code_version: mmgan::model::code_version(),
    }
}

/// A tiny training run on toy subjects: 64 x 64 pad, width 8, 3 batches per epoch.
pub fn tiny_config(data: &Path, epochs: usize) -> mmgan::train::TrainConfig {
    mmgan::train::TrainConfig::new(
        mmgan::model::GeneratorConfig::new()
            .with_width(8)
            .with_depth(6),
        mmgan::model::DiscriminatorConfig::new().with_width(8),
        vec![data.display().to_string()],
    )
    .with_side(64)
    .with_fit(mmgan::data::Fit::Pad)
    .with_epochs(epochs)
    .with_test_fraction(0.34)
    .with_max_batches(Some(3))
}

/// `n` toy subjects under `dir/data`.
pub fn toy_data(dir: &Path, n: usize) -> PathBuf {
    let data = dir.join("data");
    for i in 0..n {
        write_toy_subject(&data.join(format!("toy-{i:02}")), [56, 60, 10], i);
    }
    data
}

/// Run a Python script (nibabel, numpy: the independent references) with `args`; fails
/// the test with its stderr unless it succeeds. Returns its stdout.
pub fn python(script: &str, args: &[&Path]) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run the `mmgan` binary with `args`, then each (flag, path) of `paths` (an empty flag:
/// the path alone).
pub fn mmgan(args: &[&str], paths: &[(&str, &Path)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mmgan"));
    c.args(args);
    for (flag, p) in paths {
        if !flag.is_empty() {
            c.arg(flag);
        }
        c.arg(p);
    }
    c.output().unwrap()
}

/// The stdout of a run that must have succeeded (else its stderr fails the test).
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr of a run that must have failed.
pub fn failed(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Replace the sidecar of the weights folder `dir` by `meta`.
pub fn write_sidecar(dir: &Path, meta: &mmgan::model::WeightsMeta) {
    std::fs::write(
        dir.join(mmgan::model::META_FILE),
        serde_json::to_string(meta).unwrap(),
    )
    .unwrap();
}

/// The first toy subject of a fresh toy data set in `dir`, and every missing sequence of
/// `scenario` for it, synthesized with the weights in `weights` on the CPU.
pub fn synthesize_toy(
    dir: &Path,
    weights: &Path,
    scenario: mmgan::model::Scenario,
) -> (mmgan::io::Study, Vec<mmgan::engine::Synthesized>) {
    let data = toy_data(dir, 1);
    let study = mmgan::io::Study::open(&data.join("toy-00")).unwrap();
    let synth =
        mmgan::engine::Synthesizer::load(weights, mmgan::engine::BackendChoice::Cpu).unwrap();
    let prepared = synth.prepare(&study, scenario).unwrap();
    let volumes = synth
        .synthesize_volume(
            &prepared,
            &mut |_, _| {},
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
    (study, volumes)
}

/// The options every command-line training test shares: CPU, 64-pixel slices at native
/// resolution, a third of the toy subjects held out.
pub const TINY_RUN: [&str; 8] = [
    "--backend",
    "cpu",
    "--size",
    "64",
    "--fit",
    "pad",
    "--test-fraction",
    "0.34",
];

/// Stroke phantom `seed`/0 (T1, T2, DWI, FLAIR and its infarct label) written into `dir`;
/// returns its folder.
pub fn stroke_phantom(dir: &Path, seed: u64) -> PathBuf {
    let anatomy = mmgan::phantom::Anatomy::load(&mmgan::shipped::mni().unwrap()).unwrap();
    let kind = mmgan::phantom::Kind::Stroke;
    mmgan::phantom::write_subject(
        &mmgan::phantom::simulate(&anatomy, kind, seed, 0),
        dir,
        &mmgan::phantom::subject_id(kind, seed, 0),
    )
    .unwrap()
}

/// The largest absolute difference between two equally long runs of values.
pub fn max_abs_diff<'a>(
    a: impl IntoIterator<Item = &'a f32>,
    b: impl IntoIterator<Item = &'a f32>,
) -> f32 {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}
