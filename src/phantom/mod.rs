//! Phantom subjects: real anatomy (the MNI152 2009 template's brain and tissue maps, in
//! `assets/mni`), MR contrast from tissue relaxation times, diffusion and the signal
//! equations, a random lesion (a glioma with BraTS labels for BraTS-like subjects; an
//! ischaemic stroke for ISLES-like ones), and per-subject deformation, bias field, Rician
//! noise and scanner scale. Deterministic for a seed.
//!
//! Owns only the simulation; files are written through [`crate::io`].

mod infarct;
mod physics;
mod tumour;

use std::path::{Path, PathBuf};

use ndarray::{Array3, ShapeBuilder};
use rand::{RngExt, SeedableRng};

use crate::io::{read_volume, write_nifti_atomic, IoError, Reorientation, Sequence, SequenceSet};
pub use infarct::{infarct_tissue, Infarct};
pub use physics::{signal, Tissue, TISSUES};
pub use tumour::Tumour;

/// The output grid: BraTS's 240x240x155 at 1 mm.
pub const GRID: [usize; 3] = [240, 240, 155];

/// BraTS label codes.
pub const LABEL_NECROSIS: u8 = 1;
pub const LABEL_OEDEMA: u8 = 2;
pub const LABEL_ENHANCING: u8 = 4;
/// The stroke lesion's label (ISLES labels are binary).
pub const LABEL_LESION: u8 = 1;

/// Which disease a phantom shows, and so which sequences it is acquired with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A glioma (necrosis, enhancing rim, oedema) in T1, T1c, T2 and FLAIR, as BraTS.
    Glioma,
    /// An ischaemic stroke of random age in T1, T2, DWI and FLAIR, as ISLES 2015.
    Stroke,
}

impl Kind {
    pub fn sequences(self) -> SequenceSet {
        match self {
            Kind::Glioma => SequenceSet::BRATS,
            Kind::Stroke => SequenceSet::ISLES,
        }
    }
}

/// Where the template sits in the output grid: centred, scaled per axis (the smooth
/// deformation comes on top). Lesions are placed by template coordinates.
pub struct Placement {
    pub grid_centre: [f64; 3],
    pub template_centre: [f64; 3],
    pub scale: [f64; 3],
}

impl Placement {
    /// The grid point of template point `q`.
    pub fn to_grid(&self, q: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|i| (q[i] - self.template_centre[i]) * self.scale[i] + self.grid_centre[i])
    }
}

/// A phantom's lesion.
#[derive(Debug, Clone)]
pub enum Lesion {
    Tumour(Tumour),
    Infarct(Infarct),
}

impl Lesion {
    fn compartments(&self, p: [f64; 3], normal: [f32; 3]) -> ([f32; 6], u8) {
        match self {
            Lesion::Tumour(t) => t.compartments(p, normal),
            Lesion::Infarct(i) => i.compartments(p, normal),
        }
    }

    /// The tissues of a voxel's six fractions: normal tissue, then the lesion's.
    fn tissues(&self) -> [Tissue; 6] {
        match self {
            Lesion::Tumour(_) => TISSUES,
            Lesion::Infarct(i) => {
                let [gm, wm, csf, ..] = TISSUES;
                [
                    gm,
                    wm,
                    csf,
                    infarct_tissue(&gm, i.age_hours),
                    infarct_tissue(&wm, i.age_hours),
                    // Unused: an infarct has two compartments.
                    csf,
                ]
            }
        }
    }
}

/// The template's brain mask and grey/white-matter probabilities (RAS, 1 mm, in [0, 1]).
pub struct Anatomy {
    pub brain: Array3<f32>,
    pub gm: Array3<f32>,
    pub wm: Array3<f32>,
}

impl Anatomy {
    /// Read `brain.nii.gz`, `gm.nii.gz`, `wm.nii.gz` from `dir` (see assets/mni/derive.py).
    pub fn load(dir: &Path) -> Result<Anatomy, IoError> {
        let read = |name: &str| -> Result<Array3<f32>, IoError> {
            let v = read_volume(&dir.join(name))?;
            let max = v.stats.max.max(1.0);
            Ok(v.data.mapv(|x| (x / max).clamp(0.0, 1.0)))
        };
        let anatomy = Anatomy {
            brain: read("brain.nii.gz")?,
            gm: read("gm.nii.gz")?,
            wm: read("wm.nii.gz")?,
        };
        let d = anatomy.brain.shape();
        if anatomy.gm.shape() != d
            || anatomy.wm.shape() != d
            || d.iter().zip(GRID).any(|(a, b)| *a > b)
        {
            return Err(IoError::InvalidData {
                what: dir.display().to_string(),
                reason: format!(
                    "anatomy maps must share one grid no larger than {GRID:?}, got {d:?}"
                ),
            });
        }
        Ok(anatomy)
    }
}

/// One simulated subject on [`GRID`], RAS order.
pub struct Phantom {
    /// The sequences simulated, in the order of `sequences`.
    pub set: SequenceSet,
    /// Each sequence in scanner units (already scaled, noisy, non-negative).
    pub sequences: [Array3<f32>; 4],
    pub label: Array3<u8>,
    /// Tissue fractions used (for tests): [gm, wm, csf] and the lesion's compartments.
    pub fractions: Array3<[f32; 6]>,
    pub lesion: Lesion,
}

/// A small deterministic generator of standard normals (Box-Muller on the seeded stream).
struct Normal<'a> {
    rng: &'a mut rand::rngs::StdRng,
    spare: Option<f64>,
}

impl Normal<'_> {
    fn sample(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random_range(0.0..1.0);
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }
}

/// A smooth random field: a sum of a few low-frequency 3D cosines, amplitude ~1.
struct SmoothField {
    terms: Vec<([f64; 3], f64, f64)>, // (wave vector rad/mm, phase, weight)
}

impl SmoothField {
    fn new(rng: &mut rand::rngs::StdRng, terms: usize, max_cycles_per_brain: f64) -> SmoothField {
        let terms = (0..terms)
            .map(|_| {
                let k = [0, 1, 2].map(|_| {
                    rng.random_range(-max_cycles_per_brain..max_cycles_per_brain)
                        * std::f64::consts::TAU
                        / 160.0
                });
                (
                    k,
                    rng.random_range(0.0..std::f64::consts::TAU),
                    rng.random_range(0.5..1.0),
                )
            })
            .collect::<Vec<_>>();
        let norm: f64 = terms.iter().map(|t| t.2).sum();
        SmoothField {
            terms: terms
                .into_iter()
                .map(|(k, p, w)| (k, p, w / norm))
                .collect(),
        }
    }

    fn at(&self, p: [f64; 3]) -> f64 {
        self.terms
            .iter()
            .map(|(k, phase, w)| w * (k[0] * p[0] + k[1] * p[1] + k[2] * p[2] + phase).cos())
            .sum()
    }
}

fn trilinear(v: &Array3<f32>, p: [f64; 3]) -> f32 {
    let d = v.shape();
    let f = p.map(f64::floor);
    let t = [0, 1, 2].map(|i| (p[i] - f[i]) as f32);
    let mut acc = 0.0;
    for corner in 0..8 {
        let o = [corner & 1, (corner >> 1) & 1, (corner >> 2) & 1];
        let idx = [0, 1, 2].map(|i| f[i] as i64 + o[i] as i64);
        if (0..3).any(|i| idx[i] < 0 || idx[i] >= d[i] as i64) {
            continue;
        }
        let w: f32 = (0..3)
            .map(|i| if o[i] == 1 { t[i] } else { 1.0 - t[i] })
            .product();
        acc += w * v[[idx[0] as usize, idx[1] as usize, idx[2] as usize]];
    }
    acc
}

/// Simulate subject `index` of the run seeded `seed`.
pub fn simulate(anatomy: &Anatomy, kind: Kind, seed: u64, index: u64) -> Phantom {
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_add(1),
    );
    let [nx, ny, nz] = GRID;
    let a = anatomy.brain.shape();
    // Template centred in the grid; a random global scale and a smooth deformation.
    let centre = [nx as f64 / 2.0, ny as f64 / 2.0, nz as f64 / 2.0];
    let tcentre = [a[0] as f64 / 2.0, a[1] as f64 / 2.0, a[2] as f64 / 2.0];
    let scale = [0, 1, 2].map(|_| rng.random_range(0.93..1.05));
    let fields = [0, 1, 2].map(|_| SmoothField::new(&mut rng, 4, 2.0));
    let amplitude = rng.random_range(2.0..4.0);
    let at = Placement {
        grid_centre: centre,
        template_centre: tcentre,
        scale,
    };
    let lesion = match kind {
        Kind::Glioma => Lesion::Tumour(Tumour::random(&mut rng, anatomy, &at)),
        Kind::Stroke => Lesion::Infarct(Infarct::random(&mut rng, anatomy, &at)),
    };
    let tissues = lesion.tissues();

    let mut fractions = Array3::from_elem((nx, ny, nz).f(), [0f32; 6]);
    let mut label = Array3::<u8>::zeros((nx, ny, nz).f());
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let p = [x as f64, y as f64, z as f64];
                let d = [0, 1, 2].map(|i| p[i] - centre[i]);
                let mut q = [0, 1, 2].map(|i| d[i] / scale[i] + tcentre[i]);
                if (0..3).any(|i| q[i] < -8.0 || q[i] > a[i] as f64 + 8.0) {
                    continue;
                }
                for (i, f) in fields.iter().enumerate() {
                    q[i] += amplitude * f.at(p);
                }
                let brain = trilinear(&anatomy.brain, q);
                if brain < 0.05 {
                    continue;
                }
                let gm = trilinear(&anatomy.gm, q).min(brain);
                let wm = trilinear(&anatomy.wm, q).min(brain - gm);
                let csf = (brain - gm - wm).max(0.0);
                let (tissue, code) = lesion.compartments(p, [gm, wm, csf]);
                fractions[[x, y, z]] = tissue;
                label[[x, y, z]] = code;
            }
        }
    }

    // Per-tissue signal of each sequence, then per-voxel mixing (partial volume).
    let set = kind.sequences();
    let sequences = set.sequences().map(|seq| {
        let per_tissue = tissues.map(|t| signal(seq, &t));
        let bias = SmoothField::new(&mut rng, 3, 1.0);
        let bias_amp = rng.random_range(0.05..0.2);
        // Scanner scale: the WM signal lands between ~400 and ~1600 units.
        let gain = rng.random_range(400.0..1600.0) / signal(seq, &TISSUES[1]).max(1e-3);
        let noise = rng.random_range(0.015..0.035) * signal(seq, &TISSUES[1]).max(0.05) * gain;
        let mut normal = Normal {
            rng: &mut rng,
            spare: None,
        };
        let mut out = Array3::<f32>::zeros((nx, ny, nz).f());
        for ((x, y, z), f) in fractions.indexed_iter() {
            let total: f32 = f.iter().sum();
            if total <= 0.0 {
                continue;
            }
            let clean: f64 = f
                .iter()
                .zip(&per_tissue)
                .map(|(f, s)| f64::from(*f) * s)
                .sum();
            let b = (bias_amp * bias.at([x as f64, y as f64, z as f64])).exp();
            let s = clean * b * gain;
            // Rician: magnitude of the complex signal with Gaussian noise on both channels.
            let (n1, n2) = (normal.sample() * noise, normal.sample() * noise);
            let v = ((s + n1).powi(2) + n2.powi(2)).sqrt();
            // Partial-volume edge of the skull-stripped brain fades to the zero background.
            out[[x, y, z]] = (v * f64::from(total.min(1.0))) as f32;
        }
        out
    });
    Phantom {
        set,
        sequences,
        label,
        fractions,
        lesion,
    }
}

/// BraTS-like header: LPS 1 mm grid (as the BraTS files), sform and qform set.
fn brats_header(description: &str) -> nifti::NiftiHeader {
    let mut h = nifti::NiftiHeader {
        pixdim: [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        xyzt_units: 2, // mm
        sform_code: 1,
        qform_code: 1,
        srow_x: [-1.0, 0.0, 0.0, 0.0],
        srow_y: [0.0, -1.0, 0.0, 239.0],
        srow_z: [0.0, 0.0, 1.0, 0.0],
        // 180 degrees about z: quaternion (0, 0, 0, 1).
        quatern_b: 0.0,
        quatern_c: 0.0,
        quatern_d: 1.0,
        quatern_x: 0.0,
        quatern_y: 239.0,
        quatern_z: 0.0,
        ..Default::default()
    };
    let mut d = description.as_bytes().to_vec();
    d.resize(80, 0);
    h.descrip = d;
    h
}

/// Write a phantom as a BraTS 2018-2021 layout subject `<dir>/<id>/<id>_{t1,t1ce,t2,flair,seg}.nii.gz`
/// (int16 images, uint8 labels, LPS). Returns the subject folder.
pub fn write_subject(p: &Phantom, dir: &Path, id: &str) -> Result<PathBuf, IoError> {
    let folder = dir.join(id);
    std::fs::create_dir_all(&folder).map_err(|e| IoError::Write {
        path: folder.clone(),
        reason: e.to_string(),
    })?;
    let lps = Reorientation {
        perm: [0, 1, 2],
        flip: [true, true, false],
        source_dims: GRID,
    };
    for (seq, data) in p.set.sequences().iter().zip(&p.sequences) {
        // BraTS 2018's token for T1c; the others are the sequences' own.
        let name = match seq {
            Sequence::T1c => "t1ce",
            s => s.slug(),
        };
        let file = lps
            .to_source(data.view())
            .mapv(|v| v.round().clamp(0.0, f32::from(i16::MAX)) as i16);
        let header = brats_header(&format!(
            "MM-GAN Studio phantom {} (simulated, MNI152 anatomy)",
            seq.name()
        ));
        write_nifti_atomic(&folder.join(format!("{id}_{name}.nii.gz")), &header, &file)?;
    }
    let label = lps.to_source(p.label.view());
    write_nifti_atomic(
        &folder.join(format!("{id}_seg.nii.gz")),
        &brats_header(match p.lesion {
            Lesion::Tumour(_) => "MM-GAN Studio phantom tumour labels (BraTS codes)",
            Lesion::Infarct(_) => "MM-GAN Studio phantom stroke lesion label (1: infarct)",
        }),
        &label,
    )?;
    Ok(folder)
}

/// The subject id of phantom `index` of a run.
pub fn subject_id(kind: Kind, seed: u64, index: u64) -> String {
    match kind {
        Kind::Glioma => format!("Phantom-{seed}-{index:03}"),
        Kind::Stroke => format!("Stroke-{seed}-{index:03}"),
    }
}
