//! SSIM against scikit-image on fixed arrays (expected numbers from
//! tests/reference/ssim_skimage.py), to 1e-4.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use mmgan::metrics::{ssim_2d, ssim_map_2d, SsimParams};

fn image(w: usize, h: usize, phase: f64) -> Vec<f32> {
    let mut v = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (x, y) = (x as f64, y as f64);
            let p = 0.5
                + 0.25 * (0.31 * x + phase).sin() * (0.17 * y - phase).cos()
                + 0.2 * (0.05 * x * y).sin();
            v.push(p.clamp(0.0, 1.0) as f32);
        }
    }
    v
}

fn noisy(img: &[f32], w: usize, mul: f64) -> Vec<f32> {
    img.iter()
        .enumerate()
        .map(|(i, &p)| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            let n = 0.1 * (12.9898 * x * mul + 78.233 * y).sin();
            (f64::from(p) + n).clamp(0.0, 1.0) as f32
        })
        .collect()
}

#[test]
fn ssim_matches_scikit_image() {
    // (w, h, phase, mul, mean, map[0,0], map[h/2,0], map[h/2,w/2]) from scikit-image 0.26.
    let expected = [
        (
            48, 40, 0.0, 1.0, 0.90060436, 0.87051541, 0.76535577, 0.90349227,
        ),
        (
            64, 64, 0.7, 2.0, 0.90264290, 0.55434161, 0.88441461, 0.89618224,
        ),
        (
            23, 31, 1.3, 0.5, 0.89825858, 0.77817661, 0.72084451, 0.83591652,
        ),
    ];
    for (w, h, phase, mul, mean, corner, edge, centre) in expected {
        let a = image(w, h, phase);
        let b = noisy(&a, w, mul);
        let p = SsimParams::unit_range();
        let got = ssim_2d(&a, &b, w, h, p);
        assert!((got - mean).abs() < 1e-4, "{w}x{h}: mean {got} vs {mean}");
        let map = ssim_map_2d(&a, &b, w, h, p);
        for (idx, want) in [
            (0, corner),
            ((h / 2) * w, edge),
            ((h / 2) * w + w / 2, centre),
        ] {
            assert!(
                (f64::from(map[idx]) - want).abs() < 1e-4,
                "{w}x{h} map[{idx}]: {} vs {want}",
                map[idx]
            );
        }
    }
}

/// The challenge definition (percentile clip in the brain, region averages, tumour and
/// non-tumour) against numpy and scikit-image on a small labelled volume (expected numbers
/// from tests/reference/challenge_numpy.py, which defines the same arrays).
#[test]
fn challenge_metrics_match_numpy_and_scikit_image() {
    use ndarray::Array3;
    let (w, h, d) = (21, 17, 3);
    let brain = Array3::from_shape_fn((w, h, d), |(x, y, _)| {
        ((x as f64 - 10.0) / 9.5).powi(2) + ((y as f64 - 8.0) / 7.5).powi(2) <= 1.0
    });
    let tumour = |x: usize, y: usize| (x as f64 - 13.0).powi(2) + (y as f64 - 7.0).powi(2) <= 9.0;
    let truth_at =
        |x: f64, y: f64, z: f64| 100.0 + 40.0 * (0.4 * x + z).sin() * (0.3 * y).cos() + 3.0 * x;
    let truth = Array3::from_shape_fn((w, h, d), |(x, y, z)| {
        if brain[[x, y, z]] {
            truth_at(x as f64, y as f64, z as f64) as f32
        } else {
            0.0
        }
    });
    let pred = Array3::from_shape_fn((w, h, d), |(x, y, z)| {
        if brain[[x, y, z]] {
            let (fx, fy, fz) = (x as f64, y as f64, z as f64);
            (truth_at(fx, fy, fz) * 1.7 + 25.0 * (1.1 * fx * fy + fz).sin() + 10.0) as f32
        } else {
            0.0
        }
    });
    let label = Array3::from_shape_fn((w, h, d), |(x, y, z)| {
        u8::from(brain[[x, y, z]] && tumour(x, y))
    });
    let q = mmgan::metrics::challenge_volume(
        pred.view(),
        truth.view(),
        brain.view(),
        Some(label.view()),
    );
    let expected = [
        ("brain", q.brain, 21.135665, 0.871520),
        ("tumour", q.tumour.unwrap(), 20.672985, 0.764654),
        ("non-tumour", q.non_tumour.unwrap(), 21.207041, 0.887016),
    ];
    for (name, got, psnr, ssim) in expected {
        assert!(
            (got.psnr - psnr).abs() < 1e-3,
            "{name} PSNR {} vs {psnr}",
            got.psnr
        );
        assert!(
            (got.ssim - ssim).abs() < 1e-3,
            "{name} SSIM {} vs {ssim}",
            got.ssim
        );
    }
}
