//! `mmgan bench fuzz`: a deterministic mutation fuzzer for the NIfTI reader and the weights
//! sidecar. Each iteration mutates a valid seed (bit flips, header fields set to extremes,
//! truncation, gzip streams whose trailer or header lies about the size), runs it through
//! the same code the commands use, and counts panics (caught) and peak memory. Errors are
//! the expected outcome; a panic is a bug.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rand::{Rng, RngExt, SeedableRng};

#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    /// Iterations (NIfTI and sidecar cases alternate)
    #[arg(long, default_value_t = 10_000)]
    pub iterations: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder for the mutated files (default: a fresh temp folder, removed afterwards)
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Header offsets (NIfTI-1) and field widths worth setting to extremes.
const FIELDS: &[(usize, Width)] = &[
    (0, Width::I32),   // sizeof_hdr
    (40, Width::I16),  // dim[0]
    (42, Width::I16),  // dim[1]
    (44, Width::I16),  // dim[2]
    (46, Width::I16),  // dim[3]
    (48, Width::I16),  // dim[4]
    (70, Width::I16),  // datatype
    (72, Width::I16),  // bitpix
    (76, Width::F32),  // pixdim[0] (qfac)
    (80, Width::F32),  // pixdim[1]
    (84, Width::F32),  // pixdim[2]
    (88, Width::F32),  // pixdim[3]
    (108, Width::F32), // vox_offset
    (112, Width::F32), // scl_slope
    (116, Width::F32), // scl_inter
    (252, Width::I16), // qform_code
    (254, Width::I16), // sform_code
    (256, Width::F32), // quatern_b
    (260, Width::F32), // quatern_c
    (264, Width::F32), // quatern_d
    (268, Width::F32), // qoffset_x
    (280, Width::F32), // srow_x[0]
    (292, Width::F32), // srow_x[3]
    (300, Width::F32), // srow_y[1]
    (324, Width::F32), // srow_z[3]
];

#[derive(Clone, Copy)]
enum Width {
    I16,
    I32,
    F32,
}

pub fn run(a: &FuzzArgs) -> anyhow::Result<()> {
    let temp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            temp = std::env::temp_dir().join(format!("mmgan-fuzz-{}", std::process::id()));
            temp
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    let nifti_seed = seed_nifti(&dir)?;
    let sidecar_seed = seed_sidecar();
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
    // Hostile files warn on every read: only errors of the harness itself are printed.
    log::set_max_level(log::LevelFilter::Error);
    // Panics are counted, not printed one by one.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let (mut panics, mut errors, mut accepted) = (0u64, 0u64, 0u64);
    let mut first_panics: Vec<String> = Vec::new();
    let bar = super::progress_bar(a.iterations, "iterations");
    let path = dir.join("case.nii.gz");
    for i in 0..a.iterations {
        let outcome = if i % 2 == 0 {
            let bytes = mutate_nifti(&nifti_seed, &mut rng);
            std::fs::write(&path, &bytes).with_context(|| format!("{}", path.display()))?;
            catch_unwind(|| {
                mmgan::io::read_volume(&path)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        } else {
            let text = mutate_sidecar(&sidecar_seed, &mut rng);
            catch_unwind(AssertUnwindSafe(|| check_sidecar(&text)))
        };
        match outcome {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(_)) => errors += 1,
            Err(payload) => {
                panics += 1;
                if first_panics.len() < 5 {
                    let msg = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let kind = if i % 2 == 0 { "nifti" } else { "sidecar" };
                    first_panics.push(format!("iteration {i} ({kind}): {msg}"));
                }
            }
        }
        if i % 1000 == 0 {
            bar.set_position(i);
        }
    }
    bar.finish_and_clear();
    std::panic::set_hook(previous_hook);
    if a.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {} iterations in {secs:.1} s ({:.0}/s): {accepted} accepted, {errors} refused with an error, {panics} panics; peak memory {}",
        a.iterations,
        a.iterations as f64 / secs.max(1e-9),
        peak_memory().unwrap_or_else(|| "unknown".into())
    );
    for p in &first_panics {
        println!("  panic: {p}");
    }
    anyhow::ensure!(panics == 0, "{panics} inputs made the code panic");
    Ok(())
}

/// A small valid volume (12x10x8 int16, LPS sform), gzipped, as the NIfTI seed.
fn seed_nifti(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let data = ndarray::Array3::from_shape_fn((12, 10, 8), |(x, y, z)| {
        ((x * 7 + y * 3 + z * 11) % 200) as i16
    });
    let h = nifti::NiftiHeader {
        sform_code: 1,
        srow_x: [-1.0, 0.0, 0.0, 10.0],
        srow_y: [0.0, -1.0, 0.0, 12.0],
        srow_z: [0.0, 0.0, 1.0, -4.0],
        pixdim: [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        ..Default::default()
    };
    let path = dir.join("seed.nii.gz");
    nifti::writer::WriterOptions::new(&path)
        .reference_header(&h)
        .write_nifti(&data)
        .map_err(|e| anyhow::anyhow!("writing the fuzz seed: {e}"))?;
    let bytes = std::fs::read(&path)?;
    mmgan::io::read_volume(&path).context("the fuzz seed itself must read")?;
    Ok(bytes)
}

/// The uncompressed NIfTI inside a gzip seed.
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// One mutation of the seed: on the raw NIfTI (then gzipped or not) or on the gzip stream.
fn mutate_nifti(seed_gz: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    let mut raw = gunzip(seed_gz);
    let rounds = rng.random_range(1..=3);
    for _ in 0..rounds {
        match rng.random_range(0..4) {
            0 => flip_bits(&mut raw, rng, 348),
            1 | 2 => set_extreme(&mut raw, rng),
            _ => {
                let keep = rng.random_range(0..=raw.len());
                raw.truncate(keep);
            }
        }
    }
    match rng.random_range(0..5) {
        0 => raw,
        1 => {
            // A gzip stream whose size trailer lies.
            let mut gz = gzip(&raw);
            let n = gz.len();
            if n >= 4 {
                let lie: u32 = rng.random();
                gz[n - 4..].copy_from_slice(&lie.to_le_bytes());
            }
            gz
        }
        2 => {
            // A gzip stream damaged or cut short.
            let mut gz = gzip(&raw);
            if rng.random_bool(0.5) {
                let n = gz.len();
                flip_bits(&mut gz, rng, n);
            } else {
                let keep = rng.random_range(0..=gz.len());
                gz.truncate(keep);
            }
            gz
        }
        _ => gzip(&raw),
    }
}

/// Flip 1-8 random bits among the first `limit` bytes.
fn flip_bits(bytes: &mut [u8], rng: &mut impl Rng, limit: usize) {
    let limit = limit.min(bytes.len());
    if limit == 0 {
        return;
    }
    for _ in 0..rng.random_range(1..=8) {
        let i = rng.random_range(0..limit);
        bytes[i] ^= 1 << rng.random_range(0..8);
    }
}

/// Set one header field to an extreme value (little-endian, as the seed is).
fn set_extreme(bytes: &mut [u8], rng: &mut impl Rng) {
    let (offset, width) = FIELDS[rng.random_range(0..FIELDS.len())];
    let value: Vec<u8> = match width {
        Width::I16 => {
            let v = [0i16, -1, 1, 2, 7, 8, i16::MAX, i16::MIN, 1290, 16, 64, 2048];
            v[rng.random_range(0..v.len())].to_le_bytes().to_vec()
        }
        Width::I32 => {
            let v = [0i32, -1, 348, 540, i32::MAX, i32::MIN, 0x5C01_0000];
            v[rng.random_range(0..v.len())].to_le_bytes().to_vec()
        }
        Width::F32 => {
            let v = [
                0.0f32,
                -1.0,
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                1e30,
                -1e30,
                1e-30,
                348.0,
                352.0,
                1e9,
            ];
            v[rng.random_range(0..v.len())].to_le_bytes().to_vec()
        }
    };
    if offset + value.len() <= bytes.len() {
        bytes[offset..offset + value.len()].copy_from_slice(&value);
    }
}

/// The sidecar seed: a small valid generator's JSON.
fn seed_sidecar() -> serde_json::Value {
    serde_json::json!({
        "generator": {"channels": 4, "width": 4, "depth": 3, "dropout": 0.2},
        "side": 32,
        "fit": "pad",
        "channel_order": ["T1", "T1c", "T2", "FLAIR"],
        "normalisation": mmgan::model::NORMALISATION,
        "imputation": "zeros",
        "output_scale": {
            "log_hi_ratio": [[0.0, 0.1, 0.7, 0.2], [-0.1, 0.0, 0.6, 0.1], [-0.7, -0.6, 0.0, -0.5], [-0.2, -0.1, 0.5, 0.0]],
            "lo_fraction": [0.0, 0.01, 0.0, 0.02]
        },
        "training": {"data": [], "train_subjects": [], "test_subjects": [], "epochs": 1, "curriculum": false, "seed": 1},
        "code_version": "fuzz"
    })
}

/// Numbers a hostile or careless edit puts into a sidecar.
fn extreme_number(rng: &mut impl Rng) -> serde_json::Value {
    let v: [serde_json::Value; 12] = [
        0.into(),
        (-1).into(),
        1.into(),
        64.into(),
        2_097_152.into(),
        u64::MAX.into(),
        i64::MIN.into(),
        5.0.into(),
        (-0.5).into(),
        1e300.into(),
        1e-300.into(),
        "NaN".into(),
    ];
    v[rng.random_range(0..v.len())].clone()
}

/// One mutation of the sidecar: a numeric leaf set to an extreme, a field removed, or the
/// text flipped or cut.
fn mutate_sidecar(seed: &serde_json::Value, rng: &mut impl Rng) -> String {
    let mut v = seed.clone();
    let mut leaves = Vec::new();
    collect_pointers(&v, String::new(), &mut leaves);
    for _ in 0..rng.random_range(1..=3) {
        let pointer = &leaves[rng.random_range(0..leaves.len())];
        if let Some(slot) = v.pointer_mut(pointer) {
            *slot = if rng.random_bool(0.9) {
                extreme_number(rng)
            } else {
                serde_json::Value::Null
            };
        }
    }
    let mut text = v.to_string().into_bytes();
    match rng.random_range(0..6) {
        0 => flip_bits(&mut text, rng, usize::MAX),
        1 => {
            let keep = rng.random_range(0..=text.len());
            text.truncate(keep);
        }
        _ => {}
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn collect_pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                collect_pointers(x, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// What loading weights does with a sidecar: parse, validate, and, for a valid one, build
/// the generator and run one slice through it (small sizes only, to keep iterations fast).
fn check_sidecar(text: &str) -> Result<(), String> {
    let meta: mmgan::model::WeightsMeta = serde_json::from_str(text).map_err(|e| e.to_string())?;
    meta.validate()?;
    let network = meta.network()?;
    let small = match &network {
        mmgan::model::NetworkConfig::MmGan(g) => g.width <= 8,
        mmgan::model::NetworkConfig::MmSynthesis(m) => m.width <= 4 && m.latent <= 16,
        // Unfitted forests: the features are computed, nothing is predicted.
        mmgan::model::NetworkConfig::Replica(_) => true,
        mmgan::model::NetworkConfig::PGan(p) => p.width <= 4 && p.blocks <= 2,
    };
    if small && meta.side <= 64 {
        use burn::tensor::{Tensor, TensorData};
        let device = burn::tensor::Device::flex();
        let g = network.init(&device);
        let channels = g.input_channels();
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![0.5f32; channels * meta.side * meta.side],
                [1, channels, meta.side, meta.side],
            ),
            &device,
        );
        let y = g.forward(
            x,
            mmgan::model::Scenario::all(mmgan::io::SequenceSet::BRATS)[0],
        );
        if y.dims() != [1, 4, meta.side, meta.side] {
            return Err(format!("output {:?}", y.dims()));
        }
    }
    Ok(())
}

/// Peak resident memory of this process (Linux `VmHWM`).
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
}
