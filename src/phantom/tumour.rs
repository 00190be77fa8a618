//! Random tumours: necrotic core, enhancing rim and surrounding oedema, with irregular
//! shapes, placed in the white matter.

use rand::RngExt;

use super::{Anatomy, Placement, LABEL_ENHANCING, LABEL_NECROSIS, LABEL_OEDEMA};

/// A tumour in grid coordinates (RAS voxels of the output grid).
#[derive(Debug, Clone)]
pub struct Tumour {
    pub centre: [f64; 3],
    /// Outer radii (mm) of the necrotic core, the enhancing rim and the oedema.
    pub radii: [f64; 3],
    lobes: Lobes,
}

/// An irregular outline: the radius in direction u is scaled by
/// 1 + sum(a sin(f pi (u . k) + phase)) over a few random lobes.
#[derive(Debug, Clone)]
pub struct Lobes(Vec<([f64; 3], f64, f64, f64)>);

impl Lobes {
    /// `n` lobes of amplitudes drawn from `amplitude`.
    pub fn random(
        rng: &mut rand::rngs::StdRng,
        n: usize,
        amplitude: std::ops::Range<f64>,
    ) -> Lobes {
        Lobes(
            (0..n)
                .map(|_| {
                    let v = [0, 1, 2].map(|_| rng.random_range(-1.0..1.0f64));
                    let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-6);
                    (
                        v.map(|x| x / norm),
                        rng.random_range(1.0..4.0),
                        rng.random_range(0.0..std::f64::consts::TAU),
                        rng.random_range(amplitude.clone()),
                    )
                })
                .collect(),
        )
    }

    /// The radius scale in the direction of `v` (any length).
    pub fn scale(&self, v: [f64; 3]) -> f64 {
        let r = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-6);
        let u = v.map(|x| x / r);
        1.0 + self
            .0
            .iter()
            .map(|(k, f, phase, amp)| {
                amp * (f * (u[0] * k[0] + u[1] * k[1] + u[2] * k[2]) * std::f64::consts::PI + phase)
                    .sin()
            })
            .sum::<f64>()
    }
}

impl Tumour {
    pub fn random(rng: &mut rand::rngs::StdRng, anatomy: &Anatomy, at: &Placement) -> Tumour {
        let a = anatomy.wm.shape();
        // A seed point deep in the white matter (tries are bounded; the template always
        // has such voxels, the fallback is the template centre).
        let mut q = at.template_centre.map(|c| c.round());
        for _ in 0..10_000 {
            let c = [0, 1, 2].map(|i| rng.random_range(0.15..0.85) * a[i] as f64);
            let idx = c.map(|v| v as usize);
            if anatomy.wm[[idx[0], idx[1], idx[2]]] > 0.6 {
                q = c;
                break;
            }
        }
        let centre = at.to_grid(q);
        let necrosis = if rng.random_range(0.0..1.0) < 0.2 {
            0.0
        } else {
            rng.random_range(2.0..8.0)
        };
        let enhancing = necrosis + rng.random_range(2.0..5.0);
        let oedema = enhancing + rng.random_range(5.0..18.0);
        let lobes = Lobes::random(rng, 5, 0.03..0.09);
        Tumour {
            centre,
            radii: [necrosis, enhancing, oedema],
            lobes,
        }
    }

    /// Tissue fractions [gm, wm, csf, necrosis, enhancing, oedema] and BraTS label at grid
    /// point `p`, given the normal tissue there.
    pub fn compartments(&self, p: [f64; 3], normal: [f32; 3]) -> ([f32; 6], u8) {
        let [gm, wm, csf] = normal;
        let brain = gm + wm + csf;
        let v = [0, 1, 2].map(|i| p[i] - self.centre[i]);
        let r = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if r > self.radii[2] * 1.5 + 1.0 {
            return ([gm, wm, csf, 0.0, 0.0, 0.0], 0);
        }
        let shape = self.lobes.scale(v);
        let rho = r / shape;
        if rho < self.radii[0] {
            ([0.0, 0.0, 0.0, brain, 0.0, 0.0], LABEL_NECROSIS)
        } else if rho < self.radii[1] {
            ([0.0, 0.0, 0.0, 0.0, brain, 0.0], LABEL_ENHANCING)
        } else {
            // Oedema spreads along white matter: it reaches further where WM dominates,
            // and takes over most of the tissue water there, not the CSF spaces.
            let wm_share = if brain > 0.0 {
                f64::from(wm / brain)
            } else {
                0.0
            };
            let reach = self.radii[1] + (self.radii[2] - self.radii[1]) * (0.5 + 0.7 * wm_share);
            if rho < reach && gm + wm > 0.3 * brain {
                let o = 0.8 * (gm + wm);
                ([0.2 * gm, 0.2 * wm, csf, 0.0, 0.0, o], LABEL_OEDEMA)
            } else {
                ([gm, wm, csf, 0.0, 0.0, 0.0], 0)
            }
        }
    }
}
