//! SSIM (Wang et al. 2004) with an 11x11 Gaussian window (sigma 1.5), computed by a
//! separable filter, matching scikit-image's
//! `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`.

/// Stability constants and data range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SsimParams {
    pub k1: f64,
    pub k2: f64,
    pub data_range: f64,
    pub sigma: f64,
}

impl SsimParams {
    /// K1 0.01, K2 0.03, sigma 1.5, data range 1 (images scaled to [0, 1]).
    pub fn unit_range() -> SsimParams {
        SsimParams {
            k1: 0.01,
            k2: 0.03,
            data_range: 1.0,
            sigma: 1.5,
        }
    }

    /// Half-width of the window: scikit-image's `int(3.5 * sigma + 0.5)` (5 for 1.5).
    pub fn radius(&self) -> usize {
        (3.5 * self.sigma + 0.5) as usize
    }

    /// The normalised 1-D Gaussian window (`2 * radius + 1` taps).
    pub fn kernel(&self) -> Vec<f64> {
        let r = self.radius() as i64;
        let k: Vec<f64> = (-r..=r)
            .map(|x| (-(x * x) as f64 / (2.0 * self.sigma * self.sigma)).exp())
            .collect();
        let s: f64 = k.iter().sum();
        k.into_iter().map(|v| v / s).collect()
    }
}

/// Per-pixel SSIM of two row-major `h` x `w` images, borders handled by reflection
/// (scipy's "reflect": d c b a | a b c d), as scikit-image's `full=True` map.
pub fn ssim_map_2d(a: &[f32], b: &[f32], w: usize, h: usize, p: SsimParams) -> Vec<f32> {
    assert_eq!(a.len(), w * h);
    assert_eq!(b.len(), w * h);
    let k = p.kernel();
    let moments = |f: &dyn Fn(usize) -> f64| -> Vec<f64> {
        let img: Vec<f64> = (0..w * h).map(f).collect();
        blur(&img, w, h, &k)
    };
    let ma = moments(&|i| f64::from(a[i]));
    let mb = moments(&|i| f64::from(b[i]));
    let maa = moments(&|i| f64::from(a[i]) * f64::from(a[i]));
    let mbb = moments(&|i| f64::from(b[i]) * f64::from(b[i]));
    let mab = moments(&|i| f64::from(a[i]) * f64::from(b[i]));
    let c1 = (p.k1 * p.data_range).powi(2);
    let c2 = (p.k2 * p.data_range).powi(2);
    (0..w * h)
        .map(|i| {
            let (ua, ub) = (ma[i], mb[i]);
            let va = maa[i] - ua * ua;
            let vb = mbb[i] - ub * ub;
            let cov = mab[i] - ua * ub;
            let num = (2.0 * ua * ub + c1) * (2.0 * cov + c2);
            let den = (ua * ua + ub * ub + c1) * (va + vb + c2);
            (num / den) as f32
        })
        .collect()
}

/// Mean SSIM of two row-major images: the map's mean over the pixels whose window lies
/// inside the image (scikit-image crops the window half-width from each border).
pub fn ssim_2d(a: &[f32], b: &[f32], w: usize, h: usize, p: SsimParams) -> f64 {
    let map = ssim_map_2d(a, b, w, h, p);
    let r = p.radius();
    if w <= 2 * r || h <= 2 * r {
        return map.iter().map(|v| f64::from(*v)).sum::<f64>() / map.len().max(1) as f64;
    }
    let mut s = 0.0;
    for y in r..h - r {
        for x in r..w - r {
            s += f64::from(map[y * w + x]);
        }
    }
    s / ((w - 2 * r) * (h - 2 * r)) as f64
}

/// A row-major `w` x `h` image smoothed by a Gaussian of `sigma` pixels (the SSIM window's
/// filter: truncated at 3.5 sigma, reflected borders).
pub fn gaussian_blur(img: &[f64], w: usize, h: usize, sigma: f64) -> Vec<f64> {
    assert_eq!(img.len(), w * h);
    let p = SsimParams {
        sigma,
        ..SsimParams::unit_range()
    };
    blur(img, w, h, &p.kernel())
}

/// Separable blur with reflected borders.
fn blur(img: &[f64], w: usize, h: usize, k: &[f64]) -> Vec<f64> {
    let r = (k.len() / 2) as i64;
    let reflect = |i: i64, n: usize| -> usize {
        let n = n as i64;
        let mut i = i;
        // Half-sample symmetric reflection, repeated for tiny images.
        loop {
            if i < 0 {
                i = -i - 1;
            } else if i >= n {
                i = 2 * n - i - 1;
            } else {
                return i as usize;
            }
        }
    };
    let mut tmp = vec![0.0; w * h];
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        for x in 0..w {
            let mut s = 0.0;
            for (t, kv) in k.iter().enumerate() {
                s += kv * row[reflect(x as i64 + t as i64 - r, w)];
            }
            tmp[y * w + x] = s;
        }
    }
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for (t, kv) in k.iter().enumerate() {
            let src = reflect(y as i64 + t as i64 - r, h);
            let src_row = &tmp[src * w..(src + 1) * w];
            let dst = &mut out[y * w..(y + 1) * w];
            for x in 0..w {
                dst[x] += kv * src_row[x];
            }
        }
    }
    out
}
