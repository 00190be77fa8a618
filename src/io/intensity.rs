//! Intensity statistics of a volume: range, the brain percentile range the model and the
//! challenge metrics normalise with, and the display window.

use ndarray::ArrayView3;

/// Summary of one volume's intensities, computed once at load time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct IntensityStats {
    pub min: f32,
    pub max: f32,
    /// Mean after clipping negatives to 0 (the viewer's difference maps divide by it).
    pub positive_mean: f32,
    /// Default display window: 0.5 and 99.5 percentiles of the non-zero voxels.
    pub window: (f32, f32),
}

impl IntensityStats {
    pub fn of(data: ArrayView3<f32>) -> IntensityStats {
        let owned;
        let values: &[f32] = match data.as_slice_memory_order() {
            Some(s) => s,
            None => {
                owned = data.iter().copied().collect::<Vec<_>>();
                &owned
            }
        };
        let r = ranges(values);
        IntensityStats {
            min: r.min,
            max: r.max,
            positive_mean: (r.positive_sum / values.len().max(1) as f64) as f32,
            window: window_from(values, &r),
        }
    }
}

/// One pass over a volume: its range, positive sum, and the range of its non-zero values.
struct Ranges {
    min: f32,
    max: f32,
    positive_sum: f64,
    nz_min: f32,
    nz_max: f32,
    nz_count: usize,
}

fn ranges(values: &[f32]) -> Ranges {
    let mut r = Ranges {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
        positive_sum: 0.0,
        nz_min: f32::INFINITY,
        nz_max: f32::NEG_INFINITY,
        nz_count: 0,
    };
    for chunk in values.chunks(4096) {
        // Plain comparisons and f32 partial sums keep the loop vectorisable.
        let (mut lo, mut hi, mut s) = (f32::INFINITY, f32::NEG_INFINITY, 0f32);
        let (mut nlo, mut nhi, mut n) = (f32::INFINITY, f32::NEG_INFINITY, 0u32);
        for &v in chunk {
            lo = if v < lo { v } else { lo };
            hi = if v > hi { v } else { hi };
            s += if v > 0.0 { v } else { 0.0 };
            let nz = v != 0.0;
            nlo = if nz && v < nlo { v } else { nlo };
            nhi = if nz && v > nhi { v } else { nhi };
            n += u32::from(nz);
        }
        r.min = r.min.min(lo);
        r.max = r.max.max(hi);
        r.positive_sum += f64::from(s);
        r.nz_min = r.nz_min.min(nlo);
        r.nz_max = r.nz_max.max(nhi);
        r.nz_count += n as usize;
    }
    if values.is_empty() {
        (r.min, r.max) = (0.0, 0.0);
    }
    r
}

/// The display window of a volume: 0.5 and 99.5 percentiles of its non-zero voxels (the
/// background of skull-stripped studies is zero and would otherwise dominate).
pub fn display_window(data: ArrayView3<f32>) -> (f32, f32) {
    IntensityStats::of(data).window
}

fn window_from(values: &[f32], r: &Ranges) -> (f32, f32) {
    match nonzero_percentiles_in(values, r, [0.5, 99.5]) {
        Some([lo, hi]) if hi > lo => (lo, hi),
        Some([lo, _]) => (lo, lo + 1.0),
        None => (0.0, 1.0),
    }
}

/// Exact percentiles (nearest rank on `(n - 1) * p / 100`) of the non-zero values, in
/// linear time: a histogram finds the bin holding each rank, then only the values of those
/// bins are selected. `None` when every value is zero.
fn nonzero_percentiles_in<const K: usize>(
    values: &[f32],
    r: &Ranges,
    ps: [f64; K],
) -> Option<[f32; K]> {
    let (lo, hi, n) = (r.nz_min, r.nz_max, r.nz_count);
    if n == 0 {
        return None;
    }
    const BINS: usize = 1 << 16;
    let scale = if hi > lo {
        (BINS - 1) as f32 / (hi - lo)
    } else {
        0.0
    };
    let bin = |v: f32| (((v - lo) * scale) as usize).min(BINS - 1);
    let mut hist = vec![0u32; BINS];
    for &v in values {
        if v != 0.0 {
            hist[bin(v)] += 1;
        }
    }
    let targets = ps.map(|p| {
        let rank = ((n - 1) as f64 * p / 100.0).round() as usize;
        let (mut below, mut b) = (0usize, 0usize);
        while below + hist[b] as usize <= rank {
            below += hist[b] as usize;
            b += 1;
        }
        (b, rank - below)
    });
    // One pass collects the values of every target bin.
    let mut in_bins: [Vec<f32>; K] = std::array::from_fn(|_| Vec::new());
    for &v in values {
        if v != 0.0 {
            let b = bin(v);
            for (k, (tb, _)) in targets.iter().enumerate() {
                if *tb == b {
                    in_bins[k].push(v);
                }
            }
        }
    }
    let mut k = 0;
    Some(targets.map(|(_, rank)| {
        let v = select_rank(&mut in_bins[k], rank);
        k += 1;
        v
    }))
}

fn select_rank(values: &mut [f32], rank: usize) -> f32 {
    *values.select_nth_unstable_by(rank, |a, b| a.total_cmp(b)).1
}

/// The `p`-th percentile (nearest rank on `(n - 1) * p / 100`), reordering `values`.
pub fn percentile_in_place(values: &mut [f32], p: f64) -> f32 {
    let rank = ((values.len() - 1) as f64 * p / 100.0).round() as usize;
    select_rank(values, rank)
}

/// The intensity range of a volume inside the brain: its 0.5 and 99.5 percentiles over
/// the brain voxels. The challenge (BraSyn) normalisation maps it to [0, 1], and so does
/// the model's: raw scanner units differ up to 100x between sites, these percentiles do
/// not care, and the clip keeps a few hot voxels from setting the scale.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BrainRange {
    pub lo: f32,
    pub hi: f32,
}

impl BrainRange {
    /// Percentiles of `volume` over the voxels where `brain` is true; `None` when the
    /// brain is empty.
    pub fn of(volume: ArrayView3<f32>, brain: ArrayView3<bool>) -> Option<BrainRange> {
        // Zip walks both in memory order (iter() would stride across a Fortran-order study).
        let mut inside: Vec<f32> = Vec::new();
        ndarray::Zip::from(&volume).and(&brain).for_each(|&x, &b| {
            if b {
                inside.push(x);
            }
        });
        if inside.is_empty() {
            return None;
        }
        let lo = percentile_in_place(&mut inside, 0.5);
        let hi = percentile_in_place(&mut inside, 99.5);
        Some(BrainRange { lo, hi })
    }

    fn span(&self) -> f32 {
        if self.hi > self.lo {
            self.hi - self.lo
        } else {
            1.0
        }
    }

    /// `x` clipped to the range and scaled to [0, 1].
    pub fn to_unit(&self, x: f32) -> f32 {
        ((x - self.lo) / self.span()).clamp(0.0, 1.0)
    }

    /// The inverse of [`Self::to_unit`] inside the range.
    pub fn from_unit(&self, u: f32) -> f32 {
        self.lo + u * self.span()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn window_ignores_background_and_outliers() {
        let mut a = Array3::<f32>::zeros((10, 10, 10));
        for (i, v) in a.iter_mut().enumerate().take(200) {
            *v = (i + 1) as f32; // 1..=200
        }
        a[[9, 9, 9]] = 1e6; // one hot pixel
        let (lo, hi) = display_window(a.view());
        assert_eq!(lo, 2.0);
        assert_eq!(hi, 200.0);
    }

    #[test]
    fn brain_range_clips_to_the_brain_percentiles() {
        // 1000 brain voxels 1..=1000 (one a hot 1e6), 1000 background voxels at -5.
        let a = Array3::from_shape_fn((2000, 1, 1), |(i, _, _)| match i {
            999 => 1e6,
            i if i < 1000 => (i + 1) as f32,
            _ => -5.0,
        });
        let brain = Array3::from_shape_fn((2000, 1, 1), |(i, _, _)| i < 1000);
        let r = BrainRange::of(a.view(), brain.view()).unwrap();
        // Nearest rank on 999 * p: ranks 5 and 994 of 1..=999 plus the hot voxel.
        assert_eq!((r.lo, r.hi), (6.0, 995.0));
        assert_eq!(r.to_unit(-5.0), 0.0);
        assert_eq!(r.to_unit(1e6), 1.0);
        assert!((r.to_unit(500.5) - 0.5).abs() < 1e-6);
        assert!((r.from_unit(r.to_unit(321.0)) - 321.0).abs() < 1e-3);
        let zeros = Array3::<f32>::zeros((2, 2, 2));
        let nobody = Array3::from_elem((2, 2, 2), false);
        assert_eq!(BrainRange::of(zeros.view(), nobody.view()), None);
        assert_eq!(display_window(zeros.view()), (0.0, 1.0));
        let stats = IntensityStats::of(a.view());
        assert_eq!((stats.min, stats.max), (-5.0, 1e6));
    }
}
