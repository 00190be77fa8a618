//! Square model slices cut from the study grid, and back.
//!
//! The reference crops a fixed brain box and resizes it (non-uniformly) to 256x256. Here
//! the box is found from the data (any layout, any grid) and made square so the anatomy
//! keeps its aspect ratio; then either resized to the model side (`Fit::Resize`, as the
//! reference) or cut at the model side around the brain at the native voxel size
//! (`Fit::Pad`: no interpolation, and a smaller side the UNet depth allows is cheaper).

use ndarray::{Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis};

/// How the brain box becomes a model slice.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Resize the (squared) brain box to the model side, bilinear.
    Resize,
    /// Take a model-side window centred on the brain box at native resolution, zero-padded.
    Pad,
}

/// Where a study's model slices come from: a `window` x `window` square of the axial grid
/// starting at (`x0`, `y0`) (may reach outside the grid: zeros), sampled to `side` x `side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SliceGeometry {
    pub x0: i64,
    pub y0: i64,
    pub window: usize,
    pub side: usize,
    /// Study grid in-plane size (x, y).
    pub grid: [usize; 2],
}

/// Voxels where any of the given volumes is positive: the brain of a skull-stripped study.
pub fn brain_mask<'a>(volumes: impl IntoIterator<Item = ArrayView3<'a, f32>>) -> Array3<bool> {
    let mut mask: Option<Array3<bool>> = None;
    for v in volumes {
        // In the volume's own memory order (studies are Fortran order): the Zip below then
        // walks memory linearly instead of striding across it.
        let m = mask.get_or_insert_with(|| v.map(|_| false));
        ndarray::Zip::from(m)
            .and(&v)
            .for_each(|m, &x| *m |= x > 0.0);
    }
    mask.unwrap_or_else(|| Array3::from_elem((0, 0, 0), false))
}

impl SliceGeometry {
    /// Geometry for a study whose brain is `brain` ([x, y, z]), at model side `side`.
    pub fn new(brain: ArrayView3<bool>, side: usize, fit: Fit) -> SliceGeometry {
        let (nx, ny) = (brain.shape()[0], brain.shape()[1]);
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (nx, 0, ny, 0);
        // Zip walks the mask in memory order (indexed_iter would stride across it).
        ndarray::Zip::indexed(brain).for_each(|(x, y, _), &b| {
            if b {
                x_lo = x_lo.min(x);
                x_hi = x_hi.max(x + 1);
                y_lo = y_lo.min(y);
                y_hi = y_hi.max(y + 1);
            }
        });
        if x_lo >= x_hi {
            // No brain at all: the grid centre.
            (x_lo, x_hi, y_lo, y_hi) = (0, nx, 0, ny);
        }
        let margin = 4;
        let box_side = (x_hi - x_lo).max(y_hi - y_lo) + 2 * margin;
        let window = match fit {
            Fit::Resize => box_side,
            Fit::Pad => {
                if box_side > side {
                    log::warn!(
                        "brain box of {box_side} voxels is larger than the model side {side}: its edges are cut (use --fit resize or a larger side)"
                    );
                }
                side
            }
        };
        let cx = (x_lo + x_hi) as i64;
        let cy = (y_lo + y_hi) as i64;
        SliceGeometry {
            x0: (cx - window as i64) / 2,
            y0: (cy - window as i64) / 2,
            window,
            side,
            grid: [nx, ny],
        }
    }

    fn scale(&self) -> f64 {
        self.window as f64 / self.side as f64
    }

    /// Sample an axial slice ([x, y]) into a row-major `side` x `side` buffer (x fastest).
    pub fn to_model(&self, slice: ArrayView2<f32>, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.side * self.side);
        let (nx, ny) = (self.grid[0] as i64, self.grid[1] as i64);
        let get = |x: i64, y: i64| -> f32 {
            if x < 0 || y < 0 || x >= nx || y >= ny {
                0.0
            } else {
                slice[[x as usize, y as usize]]
            }
        };
        if self.window == self.side {
            for r in 0..self.side {
                for c in 0..self.side {
                    out[r * self.side + c] = get(self.x0 + c as i64, self.y0 + r as i64);
                }
            }
            return;
        }
        let s = self.scale();
        for r in 0..self.side {
            let fy = (r as f64 + 0.5) * s - 0.5 + self.y0 as f64;
            for c in 0..self.side {
                let fx = (c as f64 + 0.5) * s - 0.5 + self.x0 as f64;
                out[r * self.side + c] = bilinear(fx, fy, &get);
            }
        }
    }

    /// Write a model slice (row-major `side` x `side`) back onto an axial study slice
    /// ([x, y]); voxels outside the window are set to 0.
    pub fn to_study(&self, model: &[f32], mut slice: ArrayViewMut2<f32>) {
        let side = self.side as i64;
        let get = |c: i64, r: i64| -> f32 {
            if c < 0 || r < 0 || c >= side || r >= side {
                0.0
            } else {
                model[(r * side + c) as usize]
            }
        };
        let inv = 1.0 / self.scale();
        for ((x, y), v) in slice.indexed_iter_mut() {
            let (wx, wy) = (x as i64 - self.x0, y as i64 - self.y0);
            if wx < 0 || wy < 0 || wx >= self.window as i64 || wy >= self.window as i64 {
                *v = 0.0;
            } else if self.window == self.side {
                *v = get(wx, wy);
            } else {
                let fc = (wx as f64 + 0.5) * inv - 0.5;
                let fr = (wy as f64 + 0.5) * inv - 0.5;
                *v = bilinear(fc, fr, &|c, r| {
                    get(c.clamp(0, side - 1), r.clamp(0, side - 1))
                });
            }
        }
    }

    /// All axial slices of `volume` ([x, y, z]) in model space: `[z][side*side]`.
    pub fn volume_to_model(&self, volume: ArrayView3<f32>) -> Vec<f32> {
        let n = self.side * self.side;
        let mut out = vec![0.0; n * volume.shape()[2]];
        for (z, s) in volume.axis_iter(Axis(2)).enumerate() {
            self.to_model(s, &mut out[z * n..(z + 1) * n]);
        }
        out
    }
}

fn bilinear(fx: f64, fy: f64, get: &dyn Fn(i64, i64) -> f32) -> f32 {
    let (x0, y0) = (fx.floor(), fy.floor());
    let (tx, ty) = ((fx - x0) as f32, (fy - y0) as f32);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let top = get(x0, y0) * (1.0 - tx) + get(x0 + 1, y0) * tx;
    let bottom = get(x0, y0 + 1) * (1.0 - tx) + get(x0 + 1, y0 + 1) * tx;
    top * (1.0 - ty) + bottom * ty
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn brain(
        nx: usize,
        ny: usize,
        x: std::ops::Range<usize>,
        y: std::ops::Range<usize>,
    ) -> Array3<bool> {
        Array3::from_shape_fn((nx, ny, 2), |(i, j, _)| x.contains(&i) && y.contains(&j))
    }

    #[test]
    fn pad_round_trips_exactly_inside_the_window() {
        let b = brain(60, 50, 20..40, 10..35);
        let g = SliceGeometry::new(b.view(), 32, Fit::Pad);
        assert_eq!(g.window, 32);
        let slice = Array2::from_shape_fn((60, 50), |(x, y)| {
            if (20..40).contains(&x) && (10..35).contains(&y) {
                (x * 100 + y) as f32
            } else {
                0.0
            }
        });
        let mut m = vec![0.0; 32 * 32];
        g.to_model(slice.view(), &mut m);
        let mut back = Array2::zeros((60, 50));
        g.to_study(&m, back.view_mut());
        assert_eq!(back, slice);
    }

    #[test]
    fn resize_keeps_aspect_and_approximately_round_trips() {
        let b = brain(100, 80, 30..70, 20..50);
        let g = SliceGeometry::new(b.view(), 64, Fit::Resize);
        assert_eq!(g.window, 48); // 40 + 2*4 margin, square
        let slice = Array2::from_shape_fn((100, 80), |(x, y)| {
            (x as f32 * 0.1 + y as f32 * 0.07).sin() * 0.1 + 1.0
        });
        let mut m = vec![0.0; 64 * 64];
        g.to_model(slice.view(), &mut m);
        let mut back = Array2::zeros((100, 80));
        g.to_study(&m, back.view_mut());
        for x in 34..66 {
            for y in 24..46 {
                assert!((back[[x, y]] - slice[[x, y]]).abs() < 0.02, "{x},{y}");
            }
        }
        assert_eq!(back[[0, 0]], 0.0);
    }
}
