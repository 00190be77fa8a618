//! Intensity statistics of a volume: range, the model's normalisation and the display window.

use ndarray::ArrayView3;

/// Summary of one volume's intensities, computed once at load time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct IntensityStats {
    pub min: f32,
    pub max: f32,
    /// Mean after clipping negatives to 0: the model's normalisation divisor.
    pub positive_mean: f32,
    /// Default display window: 0.5 and 99.5 percentiles of the non-zero voxels.
    pub window: (f32, f32),
}

impl IntensityStats {
    pub fn of(data: ArrayView3<f32>) -> IntensityStats {
        let (mut min, mut max, mut sum) = (f32::INFINITY, f32::NEG_INFINITY, 0f64);
        for &v in data.iter() {
            min = min.min(v);
            max = max.max(v);
            sum += f64::from(v.max(0.0));
        }
        if data.is_empty() {
            (min, max) = (0.0, 0.0);
        }
        let n = data.len().max(1) as f64;
        IntensityStats {
            min,
            max,
            positive_mean: (sum / n) as f32,
            window: display_window(data),
        }
    }
}

/// The display window of a volume: 0.5 and 99.5 percentiles of its non-zero voxels (the
/// background of skull-stripped studies is zero and would otherwise dominate).
pub fn display_window(data: ArrayView3<f32>) -> (f32, f32) {
    let mut values: Vec<f32> = data.iter().copied().filter(|v| *v != 0.0).collect();
    if values.is_empty() {
        return (0.0, 1.0);
    }
    let lo = percentile_in_place(&mut values, 0.5);
    let hi = percentile_in_place(&mut values, 99.5);
    if hi > lo {
        (lo, hi)
    } else {
        (lo, lo + 1.0)
    }
}

/// The `p`-th percentile (nearest rank on `(n - 1) * p / 100`), reordering `values`.
pub fn percentile_in_place(values: &mut [f32], p: f64) -> f32 {
    let rank = ((values.len() - 1) as f64 * p / 100.0).round() as usize;
    *values.select_nth_unstable_by(rank, |a, b| a.total_cmp(b)).1
}

/// The reference model's normalisation: negatives clipped to 0, then divided by the mean of
/// the clipped volume (`positive_mean`). Returns the normalised copy and the divisor
/// (1 for an all-zero volume, so that the mapping stays invertible).
pub fn model_normalisation(data: ArrayView3<f32>) -> (ndarray::Array3<f32>, f32) {
    let n = data.len().max(1) as f64;
    let mean = (data.iter().map(|v| f64::from(v.max(0.0))).sum::<f64>() / n) as f32;
    let divisor = if mean > 0.0 { mean } else { 1.0 };
    (data.mapv(|v| v.max(0.0) / divisor), divisor)
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
    fn normalisation_clips_negatives_and_divides_by_mean() {
        let a = Array3::from_shape_vec((2, 1, 2), vec![-5.0, 2.0, 4.0, 6.0]).unwrap();
        let (n, mean) = model_normalisation(a.view());
        assert_eq!(mean, 3.0);
        assert_eq!(
            n.iter().copied().collect::<Vec<_>>(),
            vec![0.0, 2.0 / 3.0, 4.0 / 3.0, 2.0]
        );
        let stats = IntensityStats::of(a.view());
        assert_eq!(
            (stats.min, stats.max, stats.positive_mean),
            (-5.0, 6.0, 3.0)
        );
        let zeros = Array3::<f32>::zeros((2, 2, 2));
        assert_eq!(model_normalisation(zeros.view()).1, 1.0);
        assert_eq!(display_window(zeros.view()), (0.0, 1.0));
    }
}
