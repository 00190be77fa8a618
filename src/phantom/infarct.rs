//! Random ischaemic stroke lesions: an infarct in one arterial territory of one hemisphere,
//! cortical and subcortical, whose water diffusion and relaxation follow the lesion's age.

use rand::RngExt;

use super::physics::Tissue;
use super::tumour::Lobes;
use super::{Anatomy, Placement, LABEL_LESION};

/// An infarct in grid coordinates (RAS voxels of the output grid).
#[derive(Debug, Clone)]
pub struct Infarct {
    /// A few overlapping lobulated ellipsoids (centre, semi-axes in mm, outline):
    /// territories are irregular.
    pub blobs: Vec<([f64; 3], [f64; 3], Lobes)>,
    /// Time since onset, hours.
    pub age_hours: f64,
}

/// The lesion's tissue at `age_hours` after onset, from the normal tissue `t` it replaced.
///
/// Diffusion: the ADC drops within minutes of onset (cytotoxic oedema) to about 55 % of
/// normal and stays low for days, then rises through pseudo-normalisation at about 10 days
/// (Schlaug et al., Neurology 1997;49:113-119; Lansberg et al., AJNR 2001;22:637-644,
/// ADC ratio about 0.56 in the first day, back to 1 by about day 10). Relaxation: T2 rises
/// with vasogenic oedema over the first days (Lansberg et al.: the T2 signal ratio grows
/// steadily over the first week), which makes a lesion visible on FLAIR only some hours
/// after onset: the DWI-FLAIR mismatch used to date strokes of unknown onset (Thomalla et
/// al., Lancet Neurol 2011;10:978-986: FLAIR-negative DWI lesions mostly within 4.5 h).
/// T1 lengthens with the same water gain (hypointense on T1).
pub fn infarct_tissue(t: &Tissue, age_hours: f64) -> Tissue {
    let days = age_hours / 24.0;
    let adc_ratio = if days < 4.0 {
        0.55
    } else {
        (0.55 + 0.45 * (days - 4.0) / 6.0).min(1.0)
    };
    // Water gain: nothing in the first hour, half by about one day, complete by ~4 days.
    let oedema = 1.0 - (-(age_hours - 1.0).max(0.0) / 30.0).exp();
    Tissue {
        name: "infarct",
        pd: (t.pd + 0.05 * oedema).min(1.0),
        t1: t.t1 * (1.0 + 0.5 * oedema),
        t2: t.t2 * (1.0 + 0.9 * oedema),
        t1_post: t.t1_post * (1.0 + 0.5 * oedema),
        adc: t.adc * adc_ratio,
    }
}

impl Infarct {
    pub fn random(rng: &mut rand::rngs::StdRng, anatomy: &Anatomy, at: &Placement) -> Infarct {
        let template_centre = at.template_centre;
        let a = anatomy.gm.shape();
        // A seed in tissue (grey or white matter) away from the midline, so the lesion
        // sits in one hemisphere as a territorial infarct does.
        let mut q = template_centre;
        for _ in 0..10_000 {
            let side = if rng.random_range(0.0..1.0) < 0.5 {
                -1.0
            } else {
                1.0
            };
            let c = [
                template_centre[0] + side * rng.random_range(0.12..0.38) * a[0] as f64,
                rng.random_range(0.2..0.8) * a[1] as f64,
                rng.random_range(0.3..0.8) * a[2] as f64,
            ];
            let idx = c.map(|v| v as usize);
            if idx.iter().zip(a).all(|(i, n)| *i < *n)
                && anatomy.gm[[idx[0], idx[1], idx[2]]] + anatomy.wm[[idx[0], idx[1], idx[2]]] > 0.7
            {
                q = c;
                break;
            }
        }
        let centre = at.to_grid(q);
        // Lacunes (a few mm) to large territorial infarcts (several cm).
        let size = rng.random_range(4.0f64.ln()..25.0f64.ln()).exp();
        let blobs = (0..rng.random_range(1..4))
            .map(|k| {
                let spread = if k == 0 { 0.0 } else { size * 0.7 };
                let c = [0, 1, 2].map(|i| centre[i] + rng.random_range(-1.0..1.0) * spread);
                let axes = [0, 1, 2].map(|_| size * rng.random_range(0.5..1.0));
                (c, axes, Lobes::random(rng, 4, 0.05..0.15))
            })
            .collect();
        // Onset from 3 hours to 10 days, uniform in log time.
        let age_hours = rng.random_range(3.0f64.ln()..240.0f64.ln()).exp();
        Infarct { blobs, age_hours }
    }

    /// Tissue fractions [gm, wm, csf, infarcted gm, infarcted wm, 0] and the lesion label
    /// at grid point `p`, given the normal tissue there. CSF is not infarcted.
    pub fn compartments(&self, p: [f64; 3], normal: [f32; 3]) -> ([f32; 6], u8) {
        let [gm, wm, csf] = normal;
        let inside = self.blobs.iter().any(|(c, axes, lobes)| {
            let v = [0, 1, 2].map(|i| (p[i] - c[i]) / axes[i]);
            (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt() < lobes.scale(v)
        });
        if inside && gm + wm > 0.3 * (gm + wm + csf) {
            ([0.0, 0.0, csf, gm, wm, 0.0], LABEL_LESION)
        } else {
            ([gm, wm, csf, 0.0, 0.0, 0.0], 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Sequence;
    use crate::phantom::{signal, TISSUES};

    #[test]
    fn a_young_infarct_shows_on_dwi_before_flair() {
        let wm = TISSUES[1];
        let contrast = |seq, age| signal(seq, &infarct_tissue(&wm, age)) / signal(seq, &wm);
        // Three hours: restricted diffusion already, little water gain (DWI-FLAIR mismatch).
        assert!(
            contrast(Sequence::Dwi, 3.0) > 1.4,
            "{}",
            contrast(Sequence::Dwi, 3.0)
        );
        assert!(contrast(Sequence::Flair, 3.0) < 1.15);
        assert!(contrast(Sequence::Adc, 3.0) < 0.6);
        // Two days: bright on FLAIR and T2, still on DWI; dark on T1.
        assert!(contrast(Sequence::Flair, 48.0) > 1.3);
        assert!(contrast(Sequence::T2, 48.0) > 1.3);
        assert!(contrast(Sequence::Dwi, 48.0) > 1.4);
        assert!(contrast(Sequence::T1, 48.0) < 0.95);
        // Ten days: the ADC has pseudo-normalised.
        assert!((contrast(Sequence::Adc, 240.0) - 1.0).abs() < 0.05);
    }
}
