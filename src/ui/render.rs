//! What a panel shows ([`Look`] over [`SliceLayers`]) and its CPU rendering, [`compose`]:
//! window/level to grey, the difference overlay against the ground truth, the tumour label
//! overlay, in the radiological or neurological convention.
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
    /// `Signed` or `Absolute` overlay the difference (other values draw none).
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
}

/// The voxels of a panel: its slice ([x, y], RAS), and the ground truth and label slices
/// when the look uses them.
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
