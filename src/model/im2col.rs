//! A convolution's weight gradient, its forward pass (inference) and a transposed
//! convolution's forward pass (training's custom op), as tiled im2col / col2im GEMMs on
//! plain `f32` slices.
//!
//! `dW[o, c, i, j] = Σ_{b, y, x} dy[b, o, y, x] · xpad[b, c, y·s0 + i, x·s1 + j]`. Per
//! image, a few output rows at a time (or, on maps too small for that, a few whole images
//! at a time), the input windows of those pixels are gathered into a cache-sized
//! `(c·k0·k1) × pixels` block and one GEMM (`gemm` crate, the kernel flex's own matmul
//! uses) adds `dy · blockᵀ` into that thread's gradient; the threads' gradients are
//! summed at the end. The whole im2col matrix is
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

/// The fewest pixels one weight-gradient GEMM takes: each GEMM reads and writes the whole
/// `out_channels × c·k0·k1` gradient, so on small maps with many channels (the decoders'
/// inner transposed layers, 8x8 maps of 512 channels) a block of a few rows made it a
/// memory-bound pass per 16 pixels.
const MIN_PIXELS: usize = 256;

/// `n` zeros, written by every thread: `vec![0f32; n]` is one `memset` on the calling
/// thread (glibc's `calloc` clears reused heap memory), which left the other core idle
/// for the outputs of the convolutions and norms in training.
pub fn zeros(n: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    v.par_extend(rayon::iter::repeat_n(0f32, n).with_min_len(1 << 16));
    v
}

/// The weight gradient `[out_channels, channels, k0, k1]` (row-major) of the convolution
/// `s`, from its input `x` and output gradient `dy` (both row-major NCHW).
pub fn weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let [h, w] = s.out_hw;
    let (o, plane) = (s.out_channels, h * w);
    let ckk = s.channels * s.kernel[0] * s.kernel[1];
    let image_in = s.channels * s.in_hw[0] * s.in_hw[1];
    let image_out = o * plane;
    assert_eq!(x.len(), s.batch * image_in, "input size");
    assert_eq!(dy.len(), s.batch * image_out, "output gradient size");
    if plane == 0 {
        return vec![0f32; o * ckk];
    }
    // Pixels per GEMM: a cache-sized block, but never fewer than MIN_PIXELS. A unit is
    // a block of rows of one image or, where a whole image is smaller than that, a group
    // of whole images side by side.
    let want = (BLOCK / ckk.max(1)).max(MIN_PIXELS);
    let rows = (want / w.max(1)).clamp(1, h);
    // Groups are no larger than keeps every thread busy.
    let per_thread = s.batch.div_ceil(rayon::current_num_threads());
    let images = if plane >= want {
        1
    } else {
        (want / plane).clamp(1, per_thread.max(1))
    };
    let units: Vec<(usize, usize, usize)> = if images == 1 {
        (0..s.batch)
            .flat_map(|b| (0..h).step_by(rows).map(move |y0| (b, 1, y0)))
            .collect()
    } else {
        (0..s.batch)
            .step_by(images)
            .map(|b| (b, images.min(s.batch - b), 0))
            .collect()
    };
    let most = if images == 1 {
        rows * w
    } else {
        images * plane
    };
    let zero = || vec![0f32; o * ckk];
    units
        .into_par_iter()
        .fold(
            || (zero(), vec![0f32; ckk * most], Vec::new()),
            |(mut dw, mut cols, mut dys), (b, n, y0)| {
                let y1 = if n == 1 { (y0 + rows).min(h) } else { h };
                let per_image = (y1 - y0) * w;
                let pixels = n * per_image;
                let block = &mut cols[..ckk * pixels];
                for i in 0..n {
                    let xb = &x[(b + i) * image_in..][..image_in];
                    gather(xb, &mut block[i * per_image..], pixels, y0..y1, s);
                }
                // dw (o × ckk) += dy (o × pixels) · blockᵀ (pixels × ckk: block is
                // ckk × pixels, row-major). One image's rows are read in place (row stride
                // h·w); a group's are copied side by side first.
                let lhs = if n == 1 {
                    Matrix::new(&dy[b * image_out + y0 * w..], plane, 1)
                } else {
                    dys.clear();
                    for oc in 0..o {
                        for i in 0..n {
                            dys.extend_from_slice(&dy[(b + i) * image_out + oc * plane..][..plane]);
                        }
                    }
                    Matrix::new(&dys, pixels, 1)
                };
                let rhs = Matrix::new(block, 1, pixels);
                let dst = MatrixMut::new(&mut dw, ckk, 1);
                gemm_add(dst, lhs, rhs, [o, ckk, pixels]);
                (dw, cols, dys)
            },
        )
        .map(|(dw, _, _)| dw)
        .reduce(zero, |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            a
        })
}

/// The output `[batch, out_channels, out_hw]` of the convolution `s` of `x` (row-major
/// NCHW) by `weight` (`[out_channels, channels, k0, k1]`), without bias. Each block of
/// output rows gathers its windows into a cache-sized block and multiplies `weight ·
/// block`: into the output itself where the batch has an image for every thread, else
/// (so a single image still uses every core) into a part of its own per block, copied
/// into place after.
pub fn forward(x: &[f32], weight: &[f32], s: &ConvShape) -> Vec<f32> {
    let [h, w] = s.out_hw;
    let ckk = s.channels * s.kernel[0] * s.kernel[1];
    let image_in = s.channels * s.in_hw[0] * s.in_hw[1];
    let plane = h * w;
    assert_eq!(x.len(), s.batch * image_in, "input size");
    assert_eq!(weight.len(), s.out_channels * ckk, "weight size");
    if s.out_channels * plane == 0 {
        return vec![0f32; s.batch * s.out_channels * plane];
    }
    let rows = (BLOCK / (ckk * w).max(1)).clamp(1, h.max(1));
    // Output rows y0..y1 of image b: its windows gathered into `cols`, then `weight ·
    // block` into `dst` (out_channels rows of the block's pixels, `row_stride` apart).
    let block_rows = |cols: &mut [f32], b: usize, y0: usize, dst: &mut [f32], row_stride| {
        let y1 = (y0 + rows).min(h);
        let pixels = (y1 - y0) * w;
        let block = &mut cols[..ckk * pixels];
        gather(&x[b * image_in..][..image_in], block, pixels, y0..y1, s);
        let dst = MatrixMut::new(dst, row_stride, 1);
        let (lhs, rhs) = (Matrix::new(weight, ckk, 1), Matrix::new(block, pixels, 1));
        gemm_set(dst, lhs, rhs, [s.out_channels, pixels, ckk]);
    };
    let mut y = zeros(s.batch * s.out_channels * plane);
    if s.batch >= rayon::current_num_threads() {
        // An image for every thread (training): each image's blocks straight into its
        // planes.
        y.par_chunks_mut(s.out_channels * plane)
            .enumerate()
            .for_each_init(
                || vec![0f32; ckk * rows * w],
                |cols, (b, image)| {
                    for y0 in (0..h).step_by(rows) {
                        block_rows(cols, b, y0, &mut image[y0 * w..], plane);
                    }
                },
            );
        return y;
    }
    // Fewer images than threads (inference): one image's blocks in parallel, each into a
    // part of its own, copied into place after.
    let units: Vec<(usize, usize)> = (0..s.batch)
        .flat_map(|b| (0..h).step_by(rows).map(move |y0| (b, y0)))
        .collect();
    let parts: Vec<Vec<f32>> = units
        .par_iter()
        .map_init(
            || vec![0f32; ckk * rows * w],
            |cols, &(b, y0)| {
                let pixels = ((y0 + rows).min(h) - y0) * w;
                let mut part = vec![0f32; s.out_channels * pixels];
                block_rows(cols, b, y0, &mut part, pixels);
                part
            },
        )
        .collect();
    for (&(b, y0), part) in units.iter().zip(&parts) {
        let pixels = part.len() / s.out_channels;
        for (o, src) in part.chunks_exact(pixels).enumerate() {
            y[(b * s.out_channels + o) * plane + y0 * w..][..pixels].copy_from_slice(src);
        }
    }
    y
}

/// The transposed convolution of `x`, shaped as the output of the convolution `s`
/// (`[batch, out_channels, out_hw]`, row-major), back to `s`'s input shape: the input
/// gradient of `s`, and a decoder's up layer. `weight` is `s`'s kernel,
/// `[out_channels, channels, k0, k1]`, which is burn's and PyTorch's layout for a
/// transposed convolution from `out_channels` to `channels`. No bias. Per image and
/// group of result channels, one GEMM makes every input pixel's contribution
/// (`weightᵀ · x`, `channels·k0·k1 × pixels`) and col2im adds them into that group's
/// planes, which no other unit writes.
pub fn transposed(x: &[f32], weight: &[f32], s: &ConvShape) -> Vec<f32> {
    let kk = s.kernel[0] * s.kernel[1];
    let (pixels, plane) = (s.out_hw[0] * s.out_hw[1], s.in_hw[0] * s.in_hw[1]);
    let (c_in, c_out) = (s.out_channels, s.channels);
    let okk = c_out * kk;
    assert_eq!(x.len(), s.batch * c_in * pixels, "input size");
    assert_eq!(weight.len(), c_in * okk, "weight size");
    let mut y = zeros(s.batch * c_out * plane);
    if c_out * plane == 0 {
        return y;
    }
    let group = (BLOCK / (kk * pixels).max(1)).clamp(1, c_out);
    y.par_chunks_mut(c_out * plane)
        .enumerate()
        .flat_map(|(b, image)| {
            image
                .par_chunks_mut(group * plane)
                .enumerate()
                .map(move |(g, out)| (b, g * group, out))
        })
        .for_each_init(Vec::new, |cols, (b, o0, out)| {
            let n_o = out.len() / plane;
            cols.resize(n_o * kk * pixels, 0.0);
            // cols (n_o·kk × pixels) = weightᵀ rows of o0.. (weight is c_in × okk) · x
            let lhs = Matrix::new(&weight[o0 * kk..], 1, okk);
            let rhs = Matrix::new(&x[b * c_in * pixels..], pixels, 1);
            let dst = MatrixMut::new(cols, pixels, 1);
            gemm_set(dst, lhs, rhs, [n_o * kk, pixels, c_in]);
            scatter(cols, out, s);
        });
    y
}

/// col2im: add each tap's row of contributions (`n·k0·k1` rows over `s`'s output
/// pixels) into the planes `out` (`n` of `s`'s input size) where the tap reads them,
/// skipping what falls in the padding.
fn scatter(cols: &[f32], out: &mut [f32], s: &ConvShape) {
    let ([h, w], [k0, k1], s1) = (s.in_hw, s.kernel, s.stride[1]);
    let pixels = s.out_hw[0] * s.out_hw[1];
    for (r, row) in cols.chunks_exact(pixels).enumerate() {
        let (o, i, j) = (r / (k0 * k1), r / k1 % k0, r % k1);
        let dst = &mut out[o * h * w..][..h * w];
        let (inside, first) = tap_columns(s, j);
        if inside.is_empty() {
            continue;
        }
        for (yi, src) in row.chunks_exact(s.out_hw[1]).enumerate() {
            let Some(yo) = tap_row(s, yi, i) else {
                continue;
            };
            let line = &mut dst[yo * w..][..w];
            for (d, v) in line[first..]
                .iter_mut()
                .step_by(s1)
                .zip(&src[inside.clone()])
            {
                *d += v;
            }
        }
    }
}

/// The output columns `xo` whose tap `j` reads inside the input row (`0 <= xo·s1 + j -
/// p1 < in width`), and the input column the first of them reads: what [`gather`] copies
/// and [`scatter`] adds back.
fn tap_columns(s: &ConvShape, j: usize) -> (std::ops::Range<usize>, usize) {
    let ([_, win], [_, w], s1, p1) = (s.in_hw, s.out_hw, s.stride[1], s.pad_begin[1]);
    let lo = p1.saturating_sub(j).div_ceil(s1).min(w);
    let hi = if win + p1 > j {
        ((win + p1 - j - 1) / s1 + 1).min(w)
    } else {
        0
    }
    .max(lo);
    // Only used when the range is not empty, where lo·s1 + j >= p1.
    (lo..hi, (lo * s1 + j).saturating_sub(p1))
}

/// The input row tap `i` of output row `y` reads, or `None` in the padding.
fn tap_row(s: &ConvShape, y: usize, i: usize) -> Option<usize> {
    let row = (y * s.stride[0] + i).wrapping_sub(s.pad_begin[0]);
    (row < s.in_hw[0]).then_some(row)
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
fn gemm_add(dst: MatrixMut, lhs: Matrix, rhs: Matrix, mnk: [usize; 3]) {
    gemm(dst, lhs, rhs, mnk, true);
}

/// `dst = lhs · rhs`, whatever `dst` held: no pass to zero it first.
fn gemm_set(dst: MatrixMut, lhs: Matrix, rhs: Matrix, mnk: [usize; 3]) {
    gemm(dst, lhs, rhs, mnk, false);
}

/// `dst = lhs · rhs`, plus what `dst` held when `accumulate`.
fn gemm(dst: MatrixMut, lhs: Matrix, rhs: Matrix, [m, n, k]: [usize; 3], accumulate: bool) {
    Matrix::new(dst.data, dst.row_stride, dst.col_stride).check(m, n);
    lhs.check(m, k);
    rhs.check(k, n);
    if k == 0 && !accumulate {
        // An empty sum: the product is zero.
        for r in 0..m {
            for c in 0..n {
                dst.data[r * dst.row_stride + c * dst.col_stride] = 0.0;
            }
        }
    }
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
            accumulate,
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
/// `ys.len() · out_w` pixels, each row starting `stride` floats after the one before),
/// zeros where a window reaches into the padding.
///
/// Strided convolutions first split each input row into its `s1` phases (every `s1`-th
/// column), once for all `k1` taps of the row: each tap's columns are then one contiguous
/// copy instead of a strided loop per tap, which profiles put at an eighth of a
/// training step.
fn gather(x: &[f32], block: &mut [f32], stride: usize, ys: std::ops::Range<usize>, s: &ConvShape) {
    let [hin, win] = s.in_hw;
    let ([_, w], [k0, k1], s1) = (s.out_hw, s.kernel, s.stride[1]);
    // Per tap j: the output columns it fills and where in the phased row it reads.
    let taps: Vec<(usize, usize, usize)> = (0..k1)
        .map(|j| {
            let (cols, first) = tap_columns(s, j);
            (
                cols.start,
                cols.end,
                phase_offset(win, s1, first % s1) + first / s1,
            )
        })
        .collect();
    let mut phased = vec![0f32; win];
    for c in 0..s.channels {
        for i in 0..k0 {
            let r0 = (c * k0 + i) * k1;
            for (t, y) in ys.clone().enumerate() {
                let at = |j: usize| (r0 + j) * stride + t * w;
                let Some(yy) = tap_row(s, y, i) else {
                    (0..k1).for_each(|j| block[at(j)..][..w].fill(0.0));
                    continue;
                };
                let src = &x[(c * hin + yy) * win..][..win];
                let row: &[f32] = if s1 == 1 {
                    src
                } else {
                    split_phases(src, s1, &mut phased);
                    &phased
                };
                for (j, &(lo, hi, from)) in taps.iter().enumerate() {
                    let dst = &mut block[at(j)..][..w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if hi > lo {
                        dst[lo..hi].copy_from_slice(&row[from..from + hi - lo]);
                    }
                }
            }
        }
    }
}

/// Where phase `p` (columns `p, p + s1, ...`) of a `win`-wide row starts in
/// [`split_phases`]'s output.
fn phase_offset(win: usize, s1: usize, p: usize) -> usize {
    (0..p).map(|q| (win - q.min(win)).div_ceil(s1)).sum()
}

/// `row` rearranged as its `s1` phases one after the other: columns 0, s1, 2·s1, ...,
/// then 1, 1 + s1, ..., and so on.
fn split_phases(row: &[f32], s1: usize, out: &mut [f32]) {
    if s1 == 2 {
        // The layers that matter: written as pairs so the compiler vectorises it.
        let half = row.len().div_ceil(2);
        let (even, odd) = out.split_at_mut(half);
        for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
            *e = pair[0];
            *o = pair[1];
        }
        if row.len() % 2 == 1 {
            even[half - 1] = row[row.len() - 1];
        }
        return;
    }
    let mut k = 0;
    for p in 0..s1 {
        for &v in row.iter().skip(p).step_by(s1) {
            out[k] = v;
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index in `x` of input `c` of image `b` under tap (i, j) of output pixel
    /// (yo, xo), or `None` in the padding: by the definition, not by the kernels' helpers.
    #[allow(clippy::too_many_arguments)]
    fn input_index(
        s: &ConvShape,
        b: usize,
        c: usize,
        yo: usize,
        xo: usize,
        i: usize,
        j: usize,
    ) -> Option<usize> {
        let [hin, win] = s.in_hw;
        let yy = (yo * s.stride[0] + i).checked_sub(s.pad_begin[0])?;
        let xx = (xo * s.stride[1] + j).checked_sub(s.pad_begin[1])?;
        (yy < hin && xx < win).then(|| ((b * s.channels + c) * hin + yy) * win + xx)
    }

    /// Every (b, o, c, i, j, yo, xo) of the convolution `s`, in order.
    fn each_term(s: &ConvShape, mut f: impl FnMut([usize; 7])) {
        let [h, w] = s.out_hw;
        for b in 0..s.batch {
            for o in 0..s.out_channels {
                for c in 0..s.channels {
                    for i in 0..s.kernel[0] {
                        for j in 0..s.kernel[1] {
                            for yo in 0..h {
                                for xo in 0..w {
                                    f([b, o, c, i, j, yo, xo]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The weight gradient by its definition, one sum per weight.
    fn naive(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
        let ([h, w], [k0, k1], c_n) = (s.out_hw, s.kernel, s.channels);
        let mut dw = vec![0f64; s.out_channels * c_n * k0 * k1];
        each_term(s, |[b, o, c, i, j, yo, xo]| {
            let g = dy[((b * s.out_channels + o) * h + yo) * w + xo] as f64;
            if let Some(k) = input_index(s, b, c, yo, xo, i, j) {
                dw[((o * c_n + c) * k0 + i) * k1 + j] += g * x[k] as f64;
            }
        });
        dw.into_iter().map(|v| v as f32).collect()
    }

    /// The convolution by its definition.
    fn naive_forward(x: &[f32], wt: &[f32], s: &ConvShape) -> Vec<f32> {
        let ([h, w], [k0, k1], c_n) = (s.out_hw, s.kernel, s.channels);
        let mut y = vec![0f64; s.batch * s.out_channels * h * w];
        each_term(s, |[b, o, c, i, j, yo, xo]| {
            let wv = wt[((o * c_n + c) * k0 + i) * k1 + j] as f64;
            if let Some(k) = input_index(s, b, c, yo, xo, i, j) {
                y[((b * s.out_channels + o) * h + yo) * w + xo] += wv * x[k] as f64;
            }
        });
        y.into_iter().map(|v| v as f32).collect()
    }

    /// The transposed convolution by its definition: the adjoint of `s`, every term of
    /// the convolution run backwards.
    fn naive_transposed(x: &[f32], wt: &[f32], s: &ConvShape) -> Vec<f32> {
        let ([hin, win], [h, w], [k0, k1]) = (s.in_hw, s.out_hw, s.kernel);
        let (c_n, o_n) = (s.channels, s.out_channels);
        let mut y = vec![0f64; s.batch * c_n * hin * win];
        each_term(s, |[b, o, c, i, j, yo, xo]| {
            if let Some(k) = input_index(s, b, c, yo, xo, i, j) {
                y[k] += x[((b * o_n + o) * h + yo) * w + xo] as f64
                    * wt[((o * c_n + c) * k0 + i) * k1 + j] as f64;
            }
        });
        y.into_iter().map(|v| v as f32).collect()
    }

    #[test]
    fn transposed_matches_the_definition() {
        // The convolutions whose transposes are MM-GAN's 4x4 stride-2 pad-1 up layer
        // (8 -> 4 channels onto 16x16; from the 1x1 bottleneck), pGAN's 3x3 stride-2
        // layer with output padding, a kernel and stride per axis, and enough result
        // channels for several groups per image.
        let cases: [Case; 5] = [
            (1, 4, [16, 16], 8, [4, 4], [2, 2], [1, 1], [1, 1]),
            (2, 5, [2, 2], 6, [4, 4], [2, 2], [1, 1], [1, 1]),
            (2, 4, [10, 14], 3, [3, 3], [2, 2], [1, 1], [1, 1]),
            (1, 3, [4, 10], 2, [2, 3], [1, 2], [0, 1], [0, 1]),
            (2, 40, [128, 128], 4, [4, 4], [2, 2], [1, 1], [1, 1]),
        ];
        for case in cases {
            let s = conv_shape(case);
            let x = values(s.batch * s.out_channels * s.out_hw[0] * s.out_hw[1], 5);
            let wt = values(s.out_channels * s.channels * s.kernel[0] * s.kernel[1], 6);
            let e = rel(&transposed(&x, &wt, &s), &naive_transposed(&x, &wt, &s));
            assert!(e < 1e-5, "{s:?}: {e}");
        }
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

    fn conv_shape((batch, c, in_hw, o, k, st, pb, pe): Case) -> ConvShape {
        let out = |a: usize| (in_hw[a] + pb[a] + pe[a] - k[a]) / st[a] + 1;
        ConvShape {
            batch,
            channels: c,
            in_hw,
            out_channels: o,
            out_hw: [out(0), out(1)],
            kernel: k,
            stride: st,
            pad_begin: pb,
        }
    }

    #[test]
    fn weight_grad_and_forward_match_the_definition_for_the_networks_layer_shapes() {
        // (batch, c, in, o, k, stride, pad begin, pad end): the MM-GAN 4x4 stride-2 down
        // layers (symmetric pad 1; one image as at inference, and several), the
        // discriminator's asymmetric output layer, a 3x3 "same" layer, a 1x1
        // projection, an odd input size with stride 2, a kernel wider than tall with a
        // stride per axis, and outputs so wide that one row overflows a block.
        let cases: [Case; 11] = [
            (1, 4, [32, 32], 8, [4, 4], [2, 2], [1, 1], [1, 1]),
            (3, 4, [16, 16], 5, [4, 4], [2, 2], [1, 1], [1, 1]),
            (2, 6, [8, 8], 4, [4, 4], [1, 1], [2, 2], [1, 1]),
            (2, 5, [9, 12], 6, [3, 3], [1, 1], [1, 1], [1, 1]),
            (1, 8, [10, 10], 3, [1, 1], [1, 1], [0, 0], [0, 0]),
            (2, 3, [11, 13], 4, [4, 4], [2, 2], [1, 1], [1, 1]),
            (2, 2, [7, 9], 3, [2, 3], [1, 2], [0, 1], [1, 1]),
            (1, 2, [10, 11], 3, [3, 3], [3, 3], [1, 1], [1, 1]),
            (1, 300, [3, 300], 2, [3, 3], [1, 1], [1, 1], [1, 1]),
            // Weight gradient units: blocks of rows of one image (the last block short),
            // and groups of whole images (the last group short).
            (2, 2, [64, 64], 3, [3, 3], [1, 1], [1, 1], [1, 1]),
            (5, 64, [16, 16], 7, [4, 4], [2, 2], [1, 1], [1, 1]),
        ];
        for case in cases {
            let s = conv_shape(case);
            let x = values(s.batch * s.channels * s.in_hw[0] * s.in_hw[1], 1);
            let dy = values(s.batch * s.out_channels * s.out_hw[0] * s.out_hw[1], 2);
            let e = rel(&weight_grad(&x, &dy, &s), &naive(&x, &dy, &s));
            assert!(e < 1e-5, "weight gradient {s:?}: {e}");
            let wt = values(s.out_channels * s.channels * s.kernel[0] * s.kernel[1], 4);
            let e = rel(&forward(&x, &wt, &s), &naive_forward(&x, &wt, &s));
            assert!(e < 1e-5, "forward {s:?}: {e}");
        }
    }
}
