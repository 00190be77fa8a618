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
        let mut acc = StatsAccumulator::new();
        acc.push(values);
        acc.finish(values)
    }
}

/// Intensity statistics gathered while a volume is decoded: [`Self::push`] each decoded
/// chunk while it is still in cache (range, positive sum and a histogram of the non-zero
/// values in one pass), then [`Self::finish`] with the whole volume. Any voxel order gives
/// the same result, so the file's order will do before reorientation.
pub struct StatsAccumulator {
    min: f32,
    max: f32,
    positive_sum: f64,
    count: usize,
    nz_count: usize,
    hist: Histogram,
}

/// Counts of the non-zero values.
enum Histogram {
    /// By the top 16 bits of their order-preserving bit pattern: no range is needed
    /// beforehand, and a bin spans under 1 % of its values' magnitude; the values of the
    /// bins holding the percentiles are selected in a second pass.
    Bits(Vec<u32>),
    /// One bin per integer from `offset` (8- and 16-bit data without scaling): exact, no
    /// second pass.
    Integers { offset: i32, counts: Vec<u32> },
}

const BINS: usize = 1 << 16;

/// `f32` -> a `u32` whose unsigned order is the float order (negatives flipped), top 16 bits.
fn bin_of(v: f32) -> usize {
    let b = v.to_bits();
    let ordered = if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    };
    (ordered >> 16) as usize
}

/// The smallest and largest finite floats of a bin of [`bin_of`].
fn bin_bounds(bin: usize) -> (f32, f32) {
    let from_ordered = |k: u32| {
        let bits = if k & 0x8000_0000 != 0 {
            k & 0x7fff_ffff
        } else {
            !k
        };
        f32::from_bits(bits)
    };
    let k0 = (bin as u32) << 16;
    let (lo, hi) = (from_ordered(k0), from_ordered(k0 | 0xffff));
    // The bins at the ends of the exponent range also hold NaN and Inf patterns.
    let lo = if lo.is_finite() { lo } else { f32::MIN };
    let hi = if hi.is_finite() { hi } else { f32::MAX };
    (lo, hi)
}

impl Default for StatsAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl StatsAccumulator {
    pub fn new() -> StatsAccumulator {
        StatsAccumulator {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            positive_sum: 0.0,
            count: 0,
            nz_count: 0,
            hist: Histogram::Bits(vec![0; BINS]),
        }
    }

    /// For values known to be integers in `min..=max` (a span of at most 2^16).
    pub fn integers(min: i32, max: i32) -> StatsAccumulator {
        let span = (max - min + 1).clamp(1, 1 << 16) as usize;
        StatsAccumulator {
            hist: Histogram::Integers {
                offset: min,
                counts: vec![0; span],
            },
            ..StatsAccumulator::new()
        }
    }

    pub fn push(&mut self, values: &[f32]) {
        const LANES: usize = 8;
        for chunk in values.chunks(4096) {
            // Eight independent lanes of plain comparisons and f32 partial sums: a float
            // reduction vectorises only when its order is spelled out like this.
            let mut lo = [f32::INFINITY; LANES];
            let mut hi = [f32::NEG_INFINITY; LANES];
            let mut sum = [0f32; LANES];
            let mut zeros = [0u32; LANES];
            let lanes = chunk.chunks_exact(LANES);
            let rest = lanes.remainder();
            for group in lanes {
                for l in 0..LANES {
                    let v = group[l];
                    lo[l] = if v < lo[l] { v } else { lo[l] };
                    hi[l] = if v > hi[l] { v } else { hi[l] };
                    sum[l] += if v > 0.0 { v } else { 0.0 };
                    zeros[l] += u32::from(v == 0.0);
                }
            }
            for (l, &v) in rest.iter().enumerate() {
                lo[l] = lo[l].min(v);
                hi[l] = hi[l].max(v);
                sum[l] += v.max(0.0);
                zeros[l] += u32::from(v == 0.0);
            }
            self.min = lo.iter().fold(self.min, |a, &b| a.min(b));
            self.max = hi.iter().fold(self.max, |a, &b| a.max(b));
            self.positive_sum += sum.iter().map(|&s| f64::from(s)).sum::<f64>();
            if zeros.iter().sum::<u32>() as usize == chunk.len() {
                continue; // background: nothing to count
            }
            match &mut self.hist {
                Histogram::Bits(hist) => {
                    for &v in chunk {
                        if v != 0.0 {
                            hist[bin_of(v)] += 1;
                            self.nz_count += 1;
                        }
                    }
                }
                Histogram::Integers { offset, counts } => {
                    let last = counts.len() - 1;
                    for &v in chunk {
                        if v != 0.0 {
                            // Clamped: values outside the promised type cannot occur.
                            counts[((v as i32 - *offset).max(0) as usize).min(last)] += 1;
                            self.nz_count += 1;
                        }
                    }
                }
            }
        }
        self.count += values.len();
    }

    /// [`Self::push`] for `u8` codes (a label map) into an [`Self::integers`]`(0, 255)`
    /// accumulator, without widening them to `f32`: one count per code value.
    pub fn push_codes(&mut self, codes: &[u8]) {
        let Histogram::Integers { offset: 0, counts } = &mut self.hist else {
            unreachable!("codes go into an integers(0, 255) accumulator");
        };
        let mut seen = [0usize; 256];
        for chunk in codes.chunks(4096) {
            // Counting zeros vectorises; a background chunk needs nothing more.
            let zeros = chunk.iter().filter(|&&c| c == 0).count();
            seen[0] += zeros;
            if zeros < chunk.len() {
                chunk
                    .iter()
                    .filter(|&&c| c != 0)
                    .for_each(|&c| seen[c as usize] += 1);
            }
        }
        for (code, &n) in seen.iter().enumerate().filter(|(_, n)| **n > 0) {
            let v = code as f32;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            self.positive_sum += f64::from(v) * n as f64;
            if code > 0 {
                counts[code] += n as u32;
                self.nz_count += n;
            }
        }
        self.count += codes.len();
    }

    /// The statistics of `values`, which must be every value pushed (in any order); only
    /// a `Bits` histogram reads them again, so an [`Self::integers`] accumulator may be
    /// given an empty slice.
    pub fn finish(self, values: &[f32]) -> IntensityStats {
        debug_assert!(
            values.len() == self.count || matches!(self.hist, Histogram::Integers { .. })
        );
        let window = match self.nonzero_percentiles(values, [0.5, 99.5]) {
            Some([lo, hi]) if hi > lo => (lo, hi),
            Some([lo, _]) => (lo, lo + 1.0),
            None => (0.0, 1.0),
        };
        let (min, max) = if self.count == 0 {
            (0.0, 0.0)
        } else {
            (self.min, self.max)
        };
        IntensityStats {
            min,
            max,
            positive_mean: (self.positive_sum / self.count.max(1) as f64) as f32,
            window,
        }
    }

    /// Exact percentiles (nearest rank on `(n - 1) * p / 100`) of the non-zero values, in
    /// linear time: the histogram finds the bin holding each rank, then one pass collects
    /// only the values of those bins for selection. `None` when every value is zero.
    fn nonzero_percentiles<const K: usize>(
        &self,
        values: &[f32],
        ps: [f64; K],
    ) -> Option<[f32; K]> {
        let n = self.nz_count;
        if n == 0 {
            return None;
        }
        let counts = match &self.hist {
            Histogram::Bits(hist) => hist,
            Histogram::Integers { counts, .. } => counts,
        };
        let targets = ps.map(|p| {
            let rank = ((n - 1) as f64 * p / 100.0).round() as usize;
            let (mut below, mut b) = (0usize, 0usize);
            while below + counts[b] as usize <= rank {
                below += counts[b] as usize;
                b += 1;
            }
            (b, rank - below)
        });
        if let Histogram::Integers { offset, .. } = self.hist {
            return Some(targets.map(|(b, _)| (b as i32 + offset) as f32));
        }
        // A bin is a closed float interval: plain comparisons find its values.
        let bounds = targets.map(|(b, _)| bin_bounds(b));
        let mut in_bins: [Vec<f32>; K] = std::array::from_fn(|_| Vec::new());
        for &v in values {
            for (k, &(lo, hi)) in bounds.iter().enumerate() {
                if v >= lo && v <= hi && v != 0.0 {
                    in_bins[k].push(v);
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
}

/// The display window of a volume: 0.5 and 99.5 percentiles of its non-zero voxels (the
/// background of skull-stripped studies is zero and would otherwise dominate).
pub fn display_window(data: ArrayView3<f32>) -> (f32, f32) {
    IntensityStats::of(data).window
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

    #[test]
    fn streamed_statistics_equal_a_sort_whatever_the_chunks() {
        // Mixed signs, magnitudes over six decades, zeros, and repeated values.
        let values: Vec<f32> = (0..50_000u32)
            .map(|i| {
                let h = i.wrapping_mul(2_654_435_761) >> 8;
                match h % 7 {
                    0 => 0.0,
                    1 => -((h % 1000) as f32) * 0.37,
                    2 => (h % 5) as f32,
                    _ => (h % 100_000) as f32 * 10f32.powi((h % 4) as i32 - 2),
                }
            })
            .collect();
        let mut nz: Vec<f32> = values.iter().copied().filter(|&v| v != 0.0).collect();
        nz.sort_by(f32::total_cmp);
        let rank = |p: f64| nz[((nz.len() - 1) as f64 * p / 100.0).round() as usize];
        let mut acc = StatsAccumulator::new();
        for piece in values.chunks(7_777) {
            acc.push(piece);
        }
        let stats = acc.finish(&values);
        assert_eq!(stats.window, (rank(0.5), rank(99.5)));
        let ints: Vec<f32> = values
            .iter()
            .map(|v| (v.round() % 30_000.0).abs())
            .collect();
        let mut exact = StatsAccumulator::integers(-32768, 32767);
        exact.push(&ints);
        let mut general = StatsAccumulator::new();
        general.push(&ints);
        assert_eq!(exact.finish(&ints), general.finish(&ints));
        for v in [
            -f32::MAX,
            -3.5,
            -1e-30,
            1e-30,
            0.37,
            255.0,
            4097.0,
            f32::MAX,
        ] {
            let (lo, hi) = bin_bounds(bin_of(v));
            assert!(lo <= v && v <= hi, "{v} outside its bin [{lo}, {hi}]");
        }
        assert_eq!(
            stats.min,
            values.iter().copied().fold(f32::INFINITY, f32::min)
        );
        assert_eq!(
            stats.max,
            values.iter().copied().fold(f32::NEG_INFINITY, f32::max)
        );
        let positive: f64 = values.iter().map(|&v| f64::from(v.max(0.0))).sum();
        let mean = positive / values.len() as f64;
        assert!((f64::from(stats.positive_mean) - mean).abs() < 1e-4 * mean);
    }
}
