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
