//! What a panel shows ([`Look`] over [`SliceLayers`]) and its CPU rendering, [`compose`]:
//! window/level to grey, the difference overlay against the ground truth or the
//! uncertainty overlay, the tumour label overlay, in the radiological or neurological
//! convention.
//!
//! On a wgpu renderer the same look is drawn by `shaders/slice.wgsl` ([`super::gpu`]);
//! `compose` is its reference (a test compares the two) and the fallback elsewhere.

use eframe::egui::{Color32, ColorImage};
use ndarray::ArrayView2;

/// How a synthesized slice is compared with its ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Difference {
    /// The slice alone.
    #[default]
    Off,
    /// Signed difference (synthesized - truth), blue-white-red centred on 0.
    Signed,
    /// Absolute error, black-red-yellow-white.
    Absolute,
    /// The slice and the ground truth next to each other.
    SideBySide,
    /// Not a comparison: the synthesis' per-voxel uncertainty (spread of dropout passes
    /// and expected error) over the slice, in the perceptual "inferno" colour map.
    Uncertainty,
}

impl Difference {
    /// Whether this mode draws a coloured layer over the slice.
    pub fn is_overlay(self) -> bool {
        matches!(
            self,
            Difference::Signed | Difference::Absolute | Difference::Uncertainty
        )
    }
}

/// The uncertainty (in units of the slice's mean brain intensity) at which the overlay's
/// colour map saturates. The expected-error part puts a typical brain voxel near a third
/// of it: dim and half transparent, so the anatomy reads through and only voxels expected
/// to be off by as much as the signal itself glow.
pub const UNCERTAINTY_SCALE: f32 = 1.0;

/// The "inferno" colour map at `t` in [0, 1]: perceptually uniform, dark to bright, legible
/// to colour-blind readers. A degree-6 polynomial fit (Matt Zucker's, public domain), the
/// same constants as `shaders/slice.wgsl`.
pub fn inferno(t: f32) -> [f32; 3] {
    const C: [[f32; 3]; 7] = [
        [0.000_218_94, 0.001_651_005, -0.019_480_9],
        [0.106_513_42, 0.563_956_44, 3.932_712_4],
        [11.602_493, -3.972_854, -15.942_394],
        [-41.703_995, 17.436_4, 44.354_145],
        [77.162_94, -33.402_36, -81.807_31],
        [-71.319_43, 32.626_064, 73.209_52],
        [25.131_126, -12.242_669, -23.070_325],
    ];
    let t = t.clamp(0.0, 1.0);
    std::array::from_fn(|i| {
        C.iter()
            .rev()
            .fold(0.0, |acc, c| acc * t + c[i])
            .clamp(0.0, 1.0)
    })
}

/// How the tumour label map is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum LabelStyle {
    #[default]
    Off,
    Filled,
    Outline,
}

/// Display parameters of one panel (everything but the voxels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// Grey window [lo, hi] in the slice's units.
    pub window: (f32, f32),
    pub radiological: bool,
    /// `Signed` or `Absolute` overlay the difference, `Uncertainty` the uncertainty (other
    /// values draw none).
    pub difference: Difference,
    /// Divisors bringing the slice and the truth to one scale before differencing.
    pub means: (f32, f32),
    /// Difference (in mean units) at which the colormap saturates.
    pub diff_scale: f32,
    pub diff_opacity: f32,
    pub labels: LabelStyle,
    pub label_opacity: f32,
}

impl Look {
    /// Grey only, with `window`.
    pub fn grey(window: (f32, f32), radiological: bool) -> Look {
        Look {
            window,
            radiological,
            difference: Difference::Off,
            means: (1.0, 1.0),
            diff_scale: 1.0,
            diff_opacity: 1.0,
            labels: LabelStyle::Off,
            label_opacity: 0.5,
        }
    }

    pub fn overlays_difference(&self) -> bool {
        matches!(self.difference, Difference::Signed | Difference::Absolute)
    }

    /// How much of the uncertainty colour `t` (in [0, 1]) covers the grey: none where the
    /// model is sure, so that confident tissue stays readable.
    pub fn uncertainty_alpha(&self, t: f32) -> f32 {
        self.diff_opacity * (t * 2.0).clamp(0.0, 1.0)
    }
}

/// The voxels of a panel: its slice ([x, y], RAS), and the ground truth (or, with
/// [`Difference::Uncertainty`], the uncertainty) and label slices when the look uses them.
#[derive(Debug, Clone, Copy)]
pub struct SliceLayers<'a> {
    pub base: ArrayView2<'a, f32>,
    pub truth: Option<ArrayView2<'a, f32>>,
    pub label: Option<ArrayView2<'a, f32>>,
}

/// Screen orientation of an axial RAS slice ([x, y]): anterior at the top; the patient's
/// right on the screen's left (radiological) or right (neurological).
pub fn voxel_of_pixel(
    dims: [usize; 2],
    row: usize,
    col: usize,
    radiological: bool,
) -> (usize, usize) {
    let x = if radiological { dims[0] - 1 - col } else { col };
    (x, dims[1] - 1 - row)
}

/// The colour of a tumour label (BraTS codes: 1 necrosis, 2 oedema, 3/4 enhancing).
pub fn label_colour(label: i32) -> [f32; 3] {
    match label {
        1 => [1.0, 0.2, 0.2],
        2 => [0.2, 0.9, 0.2],
        3 | 4 => [1.0, 0.9, 0.1],
        _ => [0.3, 0.6, 1.0],
    }
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    std::array::from_fn(|i| a[i] * (1.0 - t) + b[i] * t)
}

/// Draw a panel on the CPU: one pixel per voxel, rows from anterior to posterior.
pub fn compose(layers: &SliceLayers<'_>, look: &Look) -> ColorImage {
    let (nx, ny) = layers.base.dim();
    let span = (look.window.1 - look.window.0).max(1e-6);
    let scale = look.diff_scale.max(1e-6);
    let label = |x: usize, y: usize| -> i32 {
        layers
            .label
            .map(|l| l[[x, y]].round() as i32)
            .unwrap_or_default()
    };
    let mut pixels = Vec::with_capacity(nx * ny);
    for row in 0..ny {
        for col in 0..nx {
            let (x, y) = voxel_of_pixel([nx, ny], row, col, look.radiological);
            let v = layers.base[[x, y]];
            let g = ((v - look.window.0) / span).clamp(0.0, 1.0);
            let mut rgb = [g, g, g];
            let t = layers.truth.map(|truth| truth[[x, y]]);
            // Outside the head (both empty) there is nothing to compare: left black.
            if let (true, Some(t)) = (
                look.overlays_difference() && (v != 0.0 || t != Some(0.0)),
                t,
            ) {
                let d = ((v / look.means.0 - t / look.means.1) / scale).clamp(-1.0, 1.0);
                let c = if look.difference == Difference::Signed {
                    if d >= 0.0 {
                        [1.0, 1.0 - d, 1.0 - d]
                    } else {
                        [1.0 + d, 1.0 + d, 1.0]
                    }
                } else {
                    let a = d.abs() * 3.0;
                    [
                        a.clamp(0.0, 1.0),
                        (a - 1.0).clamp(0.0, 1.0),
                        (a - 2.0).clamp(0.0, 1.0),
                    ]
                };
                rgb = mix(rgb, c, look.diff_opacity);
            }
            if let (Difference::Uncertainty, Some(u)) = (look.difference, t) {
                if u > 0.0 {
                    let t = u / look.means.0 / scale;
                    rgb = mix(rgb, inferno(t), look.uncertainty_alpha(t.clamp(0.0, 1.0)));
                }
            }
            if look.labels != LabelStyle::Off && layers.label.is_some() {
                let l = label(x, y);
                let show = l > 0
                    && (look.labels == LabelStyle::Filled
                        || label(x.saturating_sub(1), y) != l
                        || label((x + 1).min(nx - 1), y) != l
                        || label(x, y.saturating_sub(1)) != l
                        || label(x, (y + 1).min(ny - 1)) != l);
                if show {
                    rgb = mix(rgb, label_colour(l), look.label_opacity);
                }
            }
            let [r, g, b] = rgb.map(|c| (c * 255.0).round() as u8);
            pixels.push(Color32::from_rgb(r, g, b));
        }
    }
    ColorImage::new([nx, ny], pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn uncertainty_overlays_inferno_where_unsure_and_leaves_sure_tissue_grey() {
        assert!(inferno(0.0).iter().all(|c| *c < 0.02), "black at 0");
        let top = inferno(1.0);
        assert!(top[0] > 0.95 && top[1] > 0.95 && top[2] > 0.5, "{top:?}");
        let mid = inferno(0.5);
        assert!(
            mid[0] > mid[1] && mid[0] > mid[2],
            "red-orange in the middle: {mid:?}"
        );
        // Luminance rises monotonically (perceptual order).
        let lum = |c: [f32; 3]| 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        for i in 0..20 {
            let (a, b) = (i as f32 / 20.0, (i + 1) as f32 / 20.0);
            assert!(lum(inferno(b)) > lum(inferno(a)), "{a}");
        }
        let base = Array2::from_elem((3, 1), 0.5f32);
        let u = Array2::from_shape_vec((3, 1), vec![0.0, 0.5, 10.0]).unwrap();
        let look = Look {
            difference: Difference::Uncertainty,
            means: (1.0, 1.0),
            diff_scale: UNCERTAINTY_SCALE,
            ..Look::grey((0.0, 1.0), false)
        };
        let layers = SliceLayers {
            base: base.view(),
            truth: Some(u.view()),
            label: None,
        };
        let img = compose(&layers, &look);
        assert_eq!(img.pixels[0], Color32::from_gray(128), "sure: grey");
        let saturated = img.pixels[2];
        assert!(saturated.r() > 200 && saturated.g() > 150, "{saturated:?}");
        assert_ne!(img.pixels[1], img.pixels[0]);
    }

    #[test]
    fn window_and_orientation() {
        // x = 0 is the patient's left; y = 0 posterior.
        let s = Array2::from_shape_fn((3, 2), |(x, y)| (x * 10 + y) as f32);
        let layers = SliceLayers {
            base: s.view(),
            truth: None,
            label: None,
        };
        let img = compose(&layers, &Look::grey((0.0, 21.0), true));
        assert_eq!(img.size, [3, 2]);
        // Radiological: top-left shows the most right (x = 2), most anterior (y = 1) voxel.
        assert_eq!(img.pixels[0], Color32::from_gray(255));
        let neuro = compose(&layers, &Look::grey((0.0, 21.0), false));
        assert_eq!(
            neuro.pixels[0],
            Color32::from_gray((1.0f32 / 21.0 * 255.0).round() as u8)
        );
    }

    #[test]
    fn signed_difference_is_white_at_zero_red_positive_blue_negative() {
        let a = Array2::from_shape_vec((4, 1), vec![0.5, 1.5, -0.5, 0.0]).unwrap();
        let b = Array2::from_shape_vec((4, 1), vec![0.5, 0.5, 0.5, 0.0]).unwrap();
        let look = Look {
            difference: Difference::Signed,
            ..Look::grey((0.0, 1.0), false)
        };
        let layers = SliceLayers {
            base: a.view(),
            truth: Some(b.view()),
            label: None,
        };
        assert_eq!(
            compose(&layers, &look).pixels,
            vec![
                Color32::WHITE,
                Color32::from_rgb(255, 0, 0),
                Color32::from_rgb(0, 0, 255),
                // Outside the head: nothing to compare, black.
                Color32::BLACK,
            ]
        );
        // Absolute error: black at 0, white at saturation whatever the sign.
        let abs = Look {
            difference: Difference::Absolute,
            ..look
        };
        assert_eq!(
            compose(&layers, &abs).pixels,
            vec![
                Color32::BLACK,
                Color32::WHITE,
                Color32::WHITE,
                Color32::BLACK
            ]
        );
        // Half opacity blends with the grey image.
        let half = Look {
            diff_opacity: 0.5,
            ..look
        };
        assert_eq!(
            compose(&layers, &half).pixels[2],
            Color32::from_rgb(0, 0, 128)
        );
    }

    #[test]
    fn labels_fill_or_outline() {
        // A 3x3 tumour (label 2) in a 5x5 slice: the outline is its ring, the fill all 9.
        let base = Array2::zeros((5, 5));
        let label = Array2::from_shape_fn((5, 5), |(x, y)| {
            if (1..4).contains(&x) && (1..4).contains(&y) {
                2.0
            } else {
                0.0
            }
        });
        let layers = SliceLayers {
            base: base.view(),
            truth: None,
            label: Some(label.view()),
        };
        let count = |style| {
            let look = Look {
                labels: style,
                label_opacity: 1.0,
                ..Look::grey((0.0, 1.0), false)
            };
            compose(&layers, &look)
                .pixels
                .iter()
                .filter(|p| **p != Color32::BLACK)
                .count()
        };
        assert_eq!(count(LabelStyle::Filled), 9);
        assert_eq!(count(LabelStyle::Outline), 8);
        assert_eq!(count(LabelStyle::Off), 0);
    }
}
