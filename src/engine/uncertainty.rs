//! Where a synthesis is unsure: the spread of several Monte Carlo dropout passes, joined
//! with the error the weights are known to make at the synthesized intensity.
//!
//! The generator was trained with dropout 0.2 on its inner blocks; kept on at inference,
//! each pass draws another sub-network (Gal and Ghahramani, 2016): their standard deviation,
//! smoothed over a pixel (the error it predicts is smooth), is the epistemic part. Alone it
//! ranks the real error poorly (Spearman 0.23 for a T2, below 0 for a FLAIR on a
//! validation subject), because most of the error grows with the signal: the aleatoric
//! part is the error expected at this synthesized intensity, in proportion to it, fitted
//! with the calibration on training subjects ([`ExpectedError`](crate::data::ExpectedError)).
//! The map is `sqrt(sd^2 + expected^2)`, in the study's intensity units. A method without
//! dropout (MM-Synthesis) has no spread: its map is the expected error alone, from one pass.

use std::sync::atomic::AtomicBool;

use ndarray::{Array2, Axis};

use super::synthesizer::{EngineError, SliceSet, Synthesized, Synthesizer};
use super::Prepared;
use crate::metrics::gaussian_blur;

/// Smoothing of the dropout spread, in model pixels.
const SPREAD_SIGMA: f64 = 1.0;

impl Synthesizer {
    /// The uncertainty (see the module doc) from `passes` dropout passes (at least 2) of
    /// every missing sequence on the axial slices `zs`, on the study grid in study units,
    /// zero outside the brain; in [`Scenario::missing`](crate::model::Scenario::missing) order per slice,
    /// slices in `zs` order. The viewer's worker sends these as they come.
    pub fn uncertainty_slices(
        &self,
        prepared: &Prepared,
        zs: &[usize],
        passes: usize,
    ) -> Result<Vec<SliceSet>, EngineError> {
        prepared.check_slices(zs)?;
        // Dropout acts only on an autodiff device with the training flags on; no backward
        // pass is run, the graph is dropped with each output.
        let device = self.device.clone().autodiff();
        let network = self.network.clone().to_device(&device).train();
        let passes = if network.is_stochastic() {
            passes.max(2)
        } else {
            1
        };
        let side = self.meta().side;
        let n = side * side;
        let missing = prepared.scenario.missing();
        let [nx, ny] = prepared.geometry.grid;
        let x = self.input_batch(prepared, zs, &device);
        let mut sum = vec![0f64; zs.len() * 4 * n];
        let mut squares = vec![0f64; zs.len() * 4 * n];
        for _ in 0..passes {
            let y = self.read_output(network.forward(x.clone(), prepared.scenario))?;
            for ((s, q), v) in sum.iter_mut().zip(squares.iter_mut()).zip(&y) {
                let v = f64::from(*v);
                *s += v;
                *q += v * v;
            }
        }
        let k = passes as f64;
        Ok(zs
            .iter()
            .enumerate()
            .map(|(b, &z)| {
                missing
                    .iter()
                    .map(|seq| {
                        let c = prepared.scenario.channel(*seq);
                        let o = (b * 4 + c) * n;
                        let mean = |i: usize| sum[i] / k;
                        let sd: Vec<f64> = (o..o + n)
                            .map(|i| (squares[i] / k - mean(i) * mean(i)).max(0.0).sqrt())
                            .collect();
                        let sd = gaussian_blur(&sd, side, side, SPREAD_SIGMA);
                        let meta = self.meta();
                        let combined: Vec<f32> = (o..o + n)
                            .zip(&sd)
                            .map(|(i, &s)| {
                                let m = mean(i) as f32;
                                let u = meta.calibration.as_ref().map_or(m, |k| k.apply(c, m));
                                let e = meta
                                    .expected_error
                                    .as_ref()
                                    .map_or(0.0, |e| f64::from(e.at(c, u)));
                                (s * s + e * e).sqrt() as f32
                            })
                            .collect();
                        let mut slice = Array2::zeros((nx, ny));
                        prepared.geometry.to_study(&combined, slice.view_mut());
                        let span = Self::output_span(prepared, *seq);
                        let brain = prepared.brain.index_axis(Axis(2), z);
                        ndarray::Zip::from(&mut slice)
                            .and(&brain)
                            .for_each(|v, &inside| *v = if inside { *v * span } else { 0.0 });
                        (*seq, slice)
                    })
                    .collect()
            })
            .collect())
    }

    /// [`Self::uncertainty_slices`] of every brain slice, as volumes. `progress(done,
    /// total)` after each batch; `cancel` is checked between batches.
    pub fn uncertainty_volume(
        &self,
        prepared: &Prepared,
        passes: usize,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<Synthesized>, EngineError> {
        self.assemble(prepared, progress, cancel, |chunk| {
            self.uncertainty_slices(prepared, chunk, passes)
        })
    }
}

/// Spearman's rank correlation of two equally long samples (average ranks for ties).
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    fn ranks(v: &[f32]) -> Vec<f64> {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
                j += 1;
            }
            let rank = (i + j) as f64 / 2.0;
            for &k in &order[i..=j] {
                r[k] = rank;
            }
            i = j + 1;
        }
        r
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::spearman;

    #[test]
    fn spearman_is_one_for_monotonic_and_minus_one_reversed() {
        let a = [1.0, 2.0, 3.0, 10.0, 11.0];
        let b = [0.1, 0.2, 0.25, 5.0, 100.0];
        assert!((spearman(&a, &b) - 1.0).abs() < 1e-12);
        let c: Vec<f32> = b.iter().map(|v| -v).collect();
        assert!((spearman(&a, &c) + 1.0).abs() < 1e-12);
        // Ties get average ranks: scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486833
        assert!((spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]) - 0.9486833).abs() < 1e-6);
    }
}
