//! Slice images for the panels: window/level to grey, signed differences to a diverging
//! colormap, in the radiological or neurological display convention.

use eframe::egui::{Color32, ColorImage};
use ndarray::ArrayView2;

/// Screen orientation of an axial RAS slice ([x, y]): anterior at the top; the patient's
/// right on the screen's left (radiological) or right (neurological).
fn screen_index(
    x_len: usize,
    y_len: usize,
    row: usize,
    col: usize,
    radiological: bool,
) -> (usize, usize) {
    let x = if radiological { x_len - 1 - col } else { col };
    (x, y_len - 1 - row)
}

/// Grey image of a slice with the window [lo, hi].
pub fn window_level(slice: ArrayView2<f32>, window: (f32, f32), radiological: bool) -> ColorImage {
    let (nx, ny) = slice.dim();
    let span = (window.1 - window.0).max(1e-6);
    let mut pixels = Vec::with_capacity(nx * ny);
    for row in 0..ny {
        for col in 0..nx {
            let (x, y) = screen_index(nx, ny, row, col, radiological);
            let v = ((slice[[x, y]] - window.0) / span).clamp(0.0, 1.0);
            let g = (v * 255.0).round() as u8;
            pixels.push(Color32::from_gray(g));
        }
    }
    ColorImage::new([nx, ny], pixels)
}

/// Signed difference (a - b) on a blue-white-red colormap centred on 0, saturating at
/// +-`scale`.
pub fn diverging(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    scale: f32,
    radiological: bool,
) -> ColorImage {
    let (nx, ny) = a.dim();
    let scale = scale.max(1e-6);
    let mut pixels = Vec::with_capacity(nx * ny);
    for row in 0..ny {
        for col in 0..nx {
            let (x, y) = screen_index(nx, ny, row, col, radiological);
            let d = ((a[[x, y]] - b[[x, y]]) / scale).clamp(-1.0, 1.0);
            let fade = |t: f32| (255.0 * (1.0 - t)).round() as u8;
            pixels.push(if d >= 0.0 {
                Color32::from_rgb(255, fade(d), fade(d))
            } else {
                Color32::from_rgb(fade(-d), fade(-d), 255)
            });
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
        let img = window_level(s.view(), (0.0, 21.0), true);
        assert_eq!(img.size, [3, 2]);
        // Radiological: top-left shows the most right (x = 2), most anterior (y = 1) voxel.
        assert_eq!(img.pixels[0], Color32::from_gray(255));
        let neuro = window_level(s.view(), (0.0, 21.0), false);
        assert_eq!(
            neuro.pixels[0],
            Color32::from_gray((1.0f32 / 21.0 * 255.0).round() as u8)
        );
    }

    #[test]
    fn diverging_is_white_at_zero_red_positive_blue_negative() {
        let a = Array2::from_shape_vec((3, 1), vec![0.0, 1.0, -1.0]).unwrap();
        let b = Array2::zeros((3, 1));
        let img = diverging(a.view(), b.view(), 1.0, false);
        assert_eq!(
            img.pixels,
            vec![
                Color32::WHITE,
                Color32::from_rgb(255, 0, 0),
                Color32::from_rgb(0, 0, 255)
            ]
        );
    }
}
