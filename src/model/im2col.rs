//! A convolution's weight gradient as tiled im2col GEMMs on plain `f32` slices.
//!
//! `dW[o, c, i, j] = Σ_{b, y, x} dy[b, o, y, x] · xpad[b, c, y·s0 + i, x·s1 + j]`. Per
//! image, a few output rows at a time, the input windows of those rows are gathered into a
//! cache-sized `(c·k0·k1) × pixels` block and one GEMM (`gemm` crate, the kernel flex's
//! own matmul uses) adds `dy_rows · blockᵀ` into that thread's gradient; threads take
//! whole images and their gradients are summed at the end. The whole im2col matrix is
//! never materialised (for the discriminator's first layer it would be 100 MB), which is
//! what made the one-GEMM form slower than burn's op on strided layers.

use rayon::prelude::*;

/// The shapes of one convolution: input `[batch, channels, in_hw]`, output gradient
/// `[batch, out_channels, out_hw]`, kernel, stride, and the padding before each axis
/// (the padding after is implied by the output size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub channels: usize,
    pub in_hw: [usize; 2],
    pub out_channels: usize,
    pub out_hw: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad_begin: [usize; 2],
}

/// Gathered elements per block: 64 Ki floats (256 KiB), about one core's L2.
const BLOCK: usize = 1 << 16;

/// The weight gradient `[out_channels, channels, k0, k1]` (row-major) of the convolution
/// `s`, from its input `x` and output gradient `dy` (both row-major NCHW).
pub fn weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let [h, w] = s.out_hw;
    let ckk = s.channels * s.kernel[0] * s.kernel[1];
    let image_in = s.channels * s.in_hw[0] * s.in_hw[1];
    let image_out = s.out_channels * h * w;
    assert_eq!(x.len(), s.batch * image_in, "input size");
    assert_eq!(dy.len(), s.batch * image_out, "output gradient size");
    let rows = (BLOCK / (ckk * w).max(1)).clamp(1, h.max(1));
    let zero = || vec![0f32; s.out_channels * ckk];
    (0..s.batch)
        .into_par_iter()
        .fold(
            || (zero(), vec![0f32; ckk * rows * w]),
            |(mut dw, mut cols), b| {
                let (xb, dyb) = (
                    &x[b * image_in..][..image_in],
                    &dy[b * image_out..][..image_out],
                );
                for y0 in (0..h).step_by(rows) {
                    let y1 = (y0 + rows).min(h);
                    let pixels = (y1 - y0) * w;
                    let block = &mut cols[..ckk * pixels];
                    gather(xb, block, y0..y1, s);
                    // dw (o × ckk) += dy rows (o × pixels, row stride h·w) · blockᵀ
                    // (pixels × ckk: block is ckk × pixels, row-major).
                    let lhs = Matrix::new(&dyb[y0 * w..], h * w, 1);
                    let rhs = Matrix::new(block, 1, pixels);
                    let dst = MatrixMut::new(&mut dw, ckk, 1);
                    gemm_add(dst, lhs, rhs, [s.out_channels, ckk, pixels]);
                }
                (dw, cols)
            },
        )
        .map(|(dw, _)| dw)
        .reduce(zero, |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            a
        })
}

/// A matrix inside a slice: element (r, c) at `r · row_stride + c · col_stride`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    fn new(data: &'a [f32], row_stride: usize, col_stride: usize) -> Self {
        Matrix {
            data,
            row_stride,
            col_stride,
        }
    }

    /// Panics unless a `rows × cols` matrix with these strides lies inside the slice.
    fn check(&self, rows: usize, cols: usize) {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * self.row_stride + (cols - 1) * self.col_stride;
            assert!(last < self.data.len(), "matrix reaches past its slice");
        }
    }
}

struct MatrixMut<'a> {
    data: &'a mut [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatrixMut<'a> {
    fn new(data: &'a mut [f32], row_stride: usize, col_stride: usize) -> Self {
        MatrixMut {
            data,
            row_stride,
            col_stride,
        }
    }
}

/// `dst += lhs · rhs` for `[m, n, k]`: `dst` is m × n, `lhs` m × k, `rhs` k × n; one
/// thread (the caller parallelises over images).
fn gemm_add(dst: MatrixMut, lhs: Matrix, rhs: Matrix, [m, n, k]: [usize; 3]) {
    Matrix::new(dst.data, dst.row_stride, dst.col_stride).check(m, n);
    lhs.check(m, k);
    rhs.check(k, n);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // The crate's one unsafe block (the lint denies the rest): `gemm` takes raw pointers
    // and strides. SAFETY: the checks above keep every element it touches inside the
    // slices, which outlive the call; `dst` is a unique borrow, so it aliases neither input.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst.col_stride as isize,
            dst.row_stride as isize,
            true,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The windows of output rows `ys` of one image into `block` (`ckk` rows of
/// `ys.len() · out_w` pixels), zeros where a window reaches into the padding.
fn gather(x: &[f32], block: &mut [f32], ys: std::ops::Range<usize>, s: &ConvShape) {
    let [hin, win] = s.in_hw;
    let [_, w] = s.out_hw;
    let ([k0, k1], [s0, s1], [p0, p1]) = (s.kernel, s.stride, s.pad_begin);
    let pixels = ys.len() * w;
    for (r, row) in block.chunks_exact_mut(pixels).enumerate() {
        let (c, i, j) = (r / (k0 * k1), r / k1 % k0, r % k1);
        // Output columns whose tap j lands inside the input: p1 <= xo·s1 + j < win + p1.
        let lo = p1.saturating_sub(j).div_ceil(s1).min(w);
        let hi = if win + p1 > j {
            ((win + p1 - j - 1) / s1 + 1).min(w)
        } else {
            0
        }
        .max(lo);
        for (y, dst) in ys.clone().zip(row.chunks_exact_mut(w)) {
            let yy = (y * s0 + i).wrapping_sub(p0);
            if yy >= hin {
                dst.fill(0.0);
                continue;
            }
            let src = &x[(c * hin + yy) * win..][..win];
            dst[..lo].fill(0.0);
            dst[hi..].fill(0.0);
            if hi == lo {
                continue;
            }
            let first = lo * s1 + j - p1;
            if s1 == 1 {
                dst[lo..hi].copy_from_slice(&src[first..first + hi - lo]);
            } else {
                for (d, v) in dst[lo..hi].iter_mut().zip(src[first..].iter().step_by(s1)) {
                    *d = *v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one sum per weight.
    fn naive(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
        let ([hin, win], [h, w]) = (s.in_hw, s.out_hw);
        let ([k0, k1], [s0, s1], [p0, p1]) = (s.kernel, s.stride, s.pad_begin);
        let (c_n, o_n) = (s.channels, s.out_channels);
        let mut dw = vec![0f32; o_n * c_n * k0 * k1];
        for b in 0..s.batch {
            for o in 0..o_n {
                for c in 0..c_n {
                    for i in 0..k0 {
                        for j in 0..k1 {
                            let mut acc = 0f64;
                            for y in 0..h {
                                for xo in 0..w {
                                    let (yy, xx) = (
                                        (y * s0 + i) as isize - p0 as isize,
                                        (xo * s1 + j) as isize - p1 as isize,
                                    );
                                    if yy < 0 || xx < 0 || yy >= hin as isize || xx >= win as isize
                                    {
                                        continue;
                                    }
                                    let xv =
                                        x[((b * c_n + c) * hin + yy as usize) * win + xx as usize];
                                    acc += (dy[((b * o_n + o) * h + y) * w + xo] * xv) as f64;
                                }
                            }
                            dw[((o * c_n + c) * k0 + i) * k1 + j] += acc as f32;
                        }
                    }
                }
            }
        }
        dw
    }

    /// Largest absolute difference relative to the largest magnitude of `slow`.
    fn rel(fast: &[f32], slow: &[f32]) -> f32 {
        assert_eq!(fast.len(), slow.len());
        let scale = slow.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        fast.iter()
            .zip(slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max)
            / scale
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0)
            .collect()
    }

    /// (batch, channels, input size, out channels, kernel, stride, pad begin, pad end).
    type Case = (
        usize,
        usize,
        [usize; 2],
        usize,
        [usize; 2],
        [usize; 2],
        [usize; 2],
        [usize; 2],
    );

    #[test]
    fn matches_the_definition_for_the_networks_layer_shapes() {
        // (batch, c, in, o, k, stride, pad begin, pad end): the MM-GAN 4x4 stride-2 down
        // layers (symmetric pad 1), the discriminator's asymmetric output layer, a 3x3
        // "same" layer, a 1x1 projection, an odd input size with stride 2, a kernel
        // wider than tall with a stride per axis, and outputs so wide that one row
        // overflows a block.
        let cases: [Case; 7] = [
            (3, 4, [16, 16], 5, [4, 4], [2, 2], [1, 1], [1, 1]),
            (2, 6, [8, 8], 4, [4, 4], [1, 1], [2, 2], [1, 1]),
            (2, 5, [9, 12], 6, [3, 3], [1, 1], [1, 1], [1, 1]),
            (1, 8, [10, 10], 3, [1, 1], [1, 1], [0, 0], [0, 0]),
            (2, 3, [11, 13], 4, [4, 4], [2, 2], [1, 1], [1, 1]),
            (2, 2, [7, 9], 3, [2, 3], [1, 2], [0, 1], [1, 1]),
            (1, 300, [3, 300], 2, [3, 3], [1, 1], [1, 1], [1, 1]),
        ];
        for (batch, c, in_hw, o, k, st, pb, pe) in cases {
            let out = |a: usize| (in_hw[a] + pb[a] + pe[a] - k[a]) / st[a] + 1;
            let s = ConvShape {
                batch,
                channels: c,
                in_hw,
                out_channels: o,
                out_hw: [out(0), out(1)],
                kernel: k,
                stride: st,
                pad_begin: pb,
            };
            let x = values(batch * c * in_hw[0] * in_hw[1], 1);
            let dy = values(batch * o * s.out_hw[0] * s.out_hw[1], 2);
            let e = rel(&weight_grad(&x, &dy, &s), &naive(&x, &dy, &s));
            assert!(e < 1e-5, "{s:?}: {e}");
        }
    }
}
