//! Voxel-to-world affines and the reorientation of a volume to canonical RAS voxel order.
//!
//! As nibabel does: the affine comes from the sform when its code is set, else the qform,
//! else the pixdim diagonal; each voxel axis is matched to the world axis it runs closest
//! to. Volumes are then held in RAS order (first axis towards the patient's Right, second
//! Anterior, third Superior) by axis permutations and flips only, so every voxel value is
//! kept and an export can undo the transform exactly.

use nifti::NiftiHeader;

/// A 4x4 voxel-to-world (mm) affine, row-major.
pub type Affine = [[f64; 4]; 4];

/// Two grids whose affines differ by less than this (mm) are the same grid.
pub const GRID_TOLERANCE_MM: f64 = 1e-3;

/// Which part of the header the affine came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffineSource {
    Sform,
    Qform,
    Pixdim,
}

impl std::fmt::Display for AffineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AffineSource::Sform => "sform",
            AffineSource::Qform => "qform",
            AffineSource::Pixdim => "pixdim",
        })
    }
}

/// The affine of a header: sform if `sform_code > 0`, else qform if `qform_code > 0`,
/// else the pixdim diagonal (NIfTI "method 1").
pub fn affine_from_header(h: &NiftiHeader) -> (Affine, AffineSource) {
    let pix = |i: usize| {
        let v = f64::from(h.pixdim[i]);
        if v.is_finite() && v > 0.0 {
            v
        } else {
            1.0
        }
    };
    if h.sform_code > 0 {
        let r = |row: [f32; 4]| row.map(f64::from);
        return (
            [r(h.srow_x), r(h.srow_y), r(h.srow_z), [0.0, 0.0, 0.0, 1.0]],
            AffineSource::Sform,
        );
    }
    if h.qform_code > 0 {
        let (b, c, d) = (
            f64::from(h.quatern_b),
            f64::from(h.quatern_c),
            f64::from(h.quatern_d),
        );
        let mut a = 1.0 - (b * b + c * c + d * d);
        let (b, c, d) = if a < 1e-7 {
            // Numerically a 180-degree rotation: renormalise (b, c, d), as the NIfTI
            // reference code does.
            let n = (b * b + c * c + d * d).sqrt();
            a = 0.0;
            (b / n, c / n, d / n)
        } else {
            a = a.sqrt();
            (b, c, d)
        };
        let rot = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let scale = [pix(1), pix(2), pix(3) * qfac];
        let offset = [
            f64::from(h.quatern_x),
            f64::from(h.quatern_y),
            f64::from(h.quatern_z),
        ];
        let mut m = identity();
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] = rot[i][j] * scale[j];
            }
            m[i][3] = offset[i];
        }
        return (m, AffineSource::Qform);
    }
    let mut m = identity();
    for (i, row) in m.iter_mut().take(3).enumerate() {
        row[i] = pix(i + 1);
    }
    (m, AffineSource::Pixdim)
}

pub(crate) fn identity() -> Affine {
    let mut m = [[0.0; 4]; 4];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    m
}

pub(crate) fn matmul(a: &Affine, b: &Affine) -> Affine {
    let mut m = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            m[i][j] = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// Largest absolute difference between two affines (mm for the translation column).
pub fn affine_distance(a: &Affine, b: &Affine) -> f64 {
    let mut d: f64 = 0.0;
    for i in 0..4 {
        for j in 0..4 {
            let diff = (a[i][j] - b[i][j]).abs();
            // `f64::max` drops NaN; a NaN difference is no match.
            d = if diff.is_nan() {
                f64::INFINITY
            } else {
                d.max(diff)
            };
        }
    }
    d
}

/// Voxel sizes (mm) along the three voxel axes of an affine.
pub fn voxel_sizes(a: &Affine) -> [f64; 3] {
    [0, 1, 2].map(|j| (0..3).map(|i| a[i][j] * a[i][j]).sum::<f64>().sqrt())
}

/// The orientation of a voxel grid: for each voxel axis, the world axis it runs closest to
/// and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation {
    /// `world_axis[j]`: 0 = x (L-R), 1 = y (P-A), 2 = z (I-S) for voxel axis `j`.
    pub world_axis: [usize; 3],
    /// `positive[j]`: voxel axis `j` runs towards R, A or S (else towards L, P or I).
    pub positive: [bool; 3],
    /// True when some voxel axis is not aligned with its world axis (an oblique grid).
    pub oblique: bool,
}

impl Orientation {
    /// Closest-axis orientation of an affine. Fails on a degenerate (singular) affine.
    pub fn of_affine(a: &Affine) -> Result<Orientation, String> {
        let sizes = voxel_sizes(a);
        if sizes.iter().any(|s| !s.is_finite() || *s < 1e-9) {
            return Err(format!(
                "degenerate affine (voxel sizes {:.4} x {:.4} x {:.4})",
                sizes[0], sizes[1], sizes[2]
            ));
        }
        // Direction cosines: column j of the rotation part.
        let cos = |w: usize, j: usize| a[w][j] / sizes[j];
        let mut world_axis = [usize::MAX; 3];
        let mut positive = [true; 3];
        let mut used_world = [false; 3];
        let mut oblique = false;
        // Pick the largest remaining |cosine| first, removing its row and column: ties and
        // oblique grids resolve the way nibabel's io_orientation does.
        for _ in 0..3 {
            let mut best = (0.0, 0, 0);
            for (j, axis) in world_axis.iter().enumerate() {
                if *axis != usize::MAX {
                    continue;
                }
                for (w, used) in used_world.iter().enumerate() {
                    if !used && cos(w, j).abs() > best.0 {
                        best = (cos(w, j).abs(), w, j);
                    }
                }
            }
            let (c, w, j) = best;
            if c <= 0.0 {
                return Err("degenerate affine (axes are not independent)".into());
            }
            if c < 1.0 - 1e-4 {
                oblique = true;
            }
            world_axis[j] = w;
            positive[j] = cos(w, j) > 0.0;
            used_world[w] = true;
        }
        Ok(Orientation {
            world_axis,
            positive,
            oblique,
        })
    }

    /// The orientation code, one letter per voxel axis, e.g. "RAS" or "LPS".
    pub fn code(&self) -> String {
        (0..3)
            .map(|j| match (self.world_axis[j], self.positive[j]) {
                (0, true) => 'R',
                (0, false) => 'L',
                (1, true) => 'A',
                (1, false) => 'P',
                (_, true) => 'S',
                (_, false) => 'I',
            })
            .collect()
    }
}

/// How a source voxel array maps onto the canonical RAS array: canonical axis `c` is
/// source axis `perm[c]`, reversed when `flip[c]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reorientation {
    pub perm: [usize; 3],
    pub flip: [bool; 3],
    /// Dimensions of the source array (file order).
    pub source_dims: [usize; 3],
}

impl Reorientation {
    pub fn new(orientation: &Orientation, source_dims: [usize; 3]) -> Reorientation {
        let mut perm = [0; 3];
        let mut flip = [false; 3];
        for j in 0..3 {
            let c = orientation.world_axis[j];
            perm[c] = j;
            flip[c] = !orientation.positive[j];
        }
        Reorientation {
            perm,
            flip,
            source_dims,
        }
    }

    pub fn is_identity(&self) -> bool {
        self.perm == [0, 1, 2] && self.flip == [false; 3]
    }

    /// Dimensions of the canonical array.
    pub fn canonical_dims(&self) -> [usize; 3] {
        self.perm.map(|j| self.source_dims[j])
    }

    /// Matrix taking canonical voxel indices to source voxel indices.
    pub fn canonical_to_source(&self) -> Affine {
        let mut m = [[0.0; 4]; 4];
        m[3][3] = 1.0;
        for c in 0..3 {
            let j = self.perm[c];
            if self.flip[c] {
                m[j][c] = -1.0;
                m[j][3] = self.source_dims[j] as f64 - 1.0;
            } else {
                m[j][c] = 1.0;
            }
        }
        m
    }

    /// The affine of the canonical array, given the source affine.
    pub fn canonical_affine(&self, source: &Affine) -> Affine {
        matmul(source, &self.canonical_to_source())
    }

    /// Source-order array -> canonical RAS array (Fortran layout: axial slices contiguous).
    pub fn to_canonical<T: Copy + Default>(
        &self,
        mut source: ndarray::Array3<T>,
    ) -> ndarray::Array3<T> {
        if self.perm == [0, 1, 2] && source.t().is_standard_layout() {
            // Flips only (RAS, LPS, ...): done in place, no second volume-sized buffer.
            if let Some(data) = source.as_slice_memory_order_mut() {
                flip_in_place(data, self.source_dims, self.flip);
                return source;
            }
        }
        permute_flip(source.view(), self.perm, self.flip)
    }

    /// Canonical RAS array -> source-order array, the exact inverse of [`Self::to_canonical`].
    pub fn to_source<T: Copy + Default>(
        &self,
        canonical: ndarray::ArrayView3<T>,
    ) -> ndarray::Array3<T> {
        let mut inverse = [0; 3];
        for c in 0..3 {
            inverse[self.perm[c]] = c;
        }
        // Source axis j is canonical axis inverse[j], reversed when that axis was.
        permute_flip(canonical, inverse, inverse.map(|c| self.flip[c]))
    }
}

/// Reverse the flipped axes of a Fortran-layout volume in place.
fn flip_in_place<T>(data: &mut [T], dims: [usize; 3], flip: [bool; 3]) {
    let [nx, ny, nz] = dims;
    let slice = nx * ny;
    if flip[0] && flip[1] {
        // Both in-plane axes: each axial slice is its own reverse.
        data.chunks_exact_mut(slice).for_each(|s| s.reverse());
    } else if flip[0] {
        data.chunks_exact_mut(nx).for_each(|row| row.reverse());
    } else if flip[1] {
        for s in data.chunks_exact_mut(slice) {
            for y in 0..ny / 2 {
                let (a, b) = s.split_at_mut((ny - 1 - y) * nx);
                a[y * nx..(y + 1) * nx].swap_with_slice(&mut b[..nx]);
            }
        }
    }
    if flip[2] {
        for z in 0..nz / 2 {
            let (a, b) = data.split_at_mut((nz - 1 - z) * slice);
            a[z * slice..(z + 1) * slice].swap_with_slice(&mut b[..slice]);
        }
    }
}

/// `out[i0, i1, i2] = input[.. i_c on axis perm[c], reversed when flip[c] ..]`, written in
/// Fortran layout. Rows along the output's first axis are copied with a fixed input stride
/// (a plain or reversed slice copy in the common LPS/RAS cases), which is many times faster
/// than a generic strided iterator.
fn permute_flip<T: Copy + Default>(
    input: ndarray::ArrayView3<T>,
    perm: [usize; 3],
    flip: [bool; 3],
) -> ndarray::Array3<T> {
    use ndarray::ShapeBuilder;
    let in_dims = [input.shape()[0], input.shape()[1], input.shape()[2]];
    let out_dims = perm.map(|j| in_dims[j]);
    let contiguous;
    let data: &[T] = match input.as_slice_memory_order() {
        Some(d) if input.t().is_standard_layout() => d,
        _ => {
            contiguous = input.t().iter().copied().collect::<Vec<T>>();
            &contiguous
        }
    };
    let in_strides = [
        1isize,
        in_dims[0] as isize,
        (in_dims[0] * in_dims[1]) as isize,
    ];
    // Per output axis: the input stride of one step and the input offset of index 0.
    let step = [0, 1, 2].map(|c| {
        if flip[c] {
            -in_strides[perm[c]]
        } else {
            in_strides[perm[c]]
        }
    });
    let origin: isize = (0..3)
        .map(|c| {
            if flip[c] {
                (in_dims[perm[c]] as isize - 1) * in_strides[perm[c]]
            } else {
                0
            }
        })
        .sum();
    let n0 = out_dims[0];
    let mut out = vec![T::default(); out_dims.iter().product()];
    for (row, dst) in out.chunks_exact_mut(n0.max(1)).enumerate() {
        let (i1, i2) = (row % out_dims[1], row / out_dims[1]);
        let start = origin + i1 as isize * step[1] + i2 as isize * step[2];
        match step[0] {
            1 => dst.copy_from_slice(&data[start as usize..start as usize + n0]),
            -1 => {
                let lo = start as usize + 1 - n0;
                dst.iter_mut()
                    .zip(data[lo..=start as usize].iter().rev())
                    .for_each(|(d, s)| *d = *s);
            }
            st => dst
                .iter_mut()
                .enumerate()
                .for_each(|(i0, d)| *d = data[(start + i0 as isize * st) as usize]),
        }
    }
    ndarray::Array3::from_shape_vec(out_dims.f(), out).expect("shape matches element count")
}

/// An (x, y) slice as a row-major buffer (x fastest): the order of images, GPU textures
/// and the paper's slice metrics.
pub fn row_major<T: Copy>(s: ndarray::ArrayView2<T>) -> Vec<T> {
    s.t().iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, ShapeBuilder};

    fn diag(x: f64, y: f64, z: f64) -> Affine {
        [
            [x, 0.0, 0.0, 0.0],
            [0.0, y, 0.0, 0.0],
            [0.0, 0.0, z, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    }

    #[test]
    fn codes_of_common_affines() {
        assert_eq!(
            Orientation::of_affine(&diag(1., 1., 1.)).unwrap().code(),
            "RAS"
        );
        assert_eq!(
            Orientation::of_affine(&diag(-1., -1., 1.)).unwrap().code(),
            "LPS"
        );
        assert_eq!(
            Orientation::of_affine(&diag(-1., 1., 1.)).unwrap().code(),
            "LAS"
        );
        let permuted = [
            [0.0, 0.0, -1.0, 0.0],
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let o = Orientation::of_affine(&permuted).unwrap();
        assert_eq!(o.code(), "ASL");
        assert!(!o.oblique);
        assert!(Orientation::of_affine(&diag(0., 1., 1.)).is_err());
    }

    #[test]
    fn oblique_grid_gets_closest_axes_and_is_flagged() {
        let t = 10f64.to_radians();
        let a = [
            [t.cos(), -t.sin(), 0.0, 0.0],
            [t.sin(), t.cos(), 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let o = Orientation::of_affine(&a).unwrap();
        assert_eq!(o.code(), "RAS");
        assert!(o.oblique);
    }

    #[test]
    fn reorientation_round_trips_and_keeps_world_positions() {
        // A 3x4x5 LPS-ish permuted grid: voxel axes (S, L, P).
        let src_affine = [
            [0.0, -2.0, 0.0, 10.0],
            [0.0, 0.0, -3.0, 20.0],
            [1.5, 0.0, 0.0, -5.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let o = Orientation::of_affine(&src_affine).unwrap();
        assert_eq!(o.code(), "SLP");
        let r = Reorientation::new(&o, [3, 4, 5]);
        let src = Array3::from_shape_fn((3, 4, 5).f(), |(i, j, k)| (i * 100 + j * 10 + k) as f32);
        let can = r.to_canonical(src.clone());
        assert_eq!(can.shape(), &[4, 5, 3]);
        let can_affine = r.canonical_affine(&src_affine);
        assert_eq!(Orientation::of_affine(&can_affine).unwrap().code(), "RAS");
        // The same world point holds the same value in both arrays.
        let m = r.canonical_to_source();
        for (idx, v) in can.indexed_iter() {
            let c = [idx.0 as f64, idx.1 as f64, idx.2 as f64, 1.0];
            let s: Vec<usize> = (0..3)
                .map(|i| (0..4).map(|k| m[i][k] * c[k]).sum::<f64>() as usize)
                .collect();
            assert_eq!(*v, src[[s[0], s[1], s[2]]]);
        }
        let back = r.to_source(can.view());
        assert_eq!(back, src);
        assert!(back.is_standard_layout() || back.t().is_standard_layout());
    }
}
