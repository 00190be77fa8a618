//! Where a slice sits in a panel and how the mouse moves it: the three planes, linked zoom
//! and pan, the screen <-> voxel mapping (radiological or neurological, voxel size aware),
//! and window/level by dragging. Pure geometry, no drawing.

use eframe::egui::{Pos2, Rect, Vec2};

/// The plane the panels show, through the study's canonical RAS grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Plane {
    #[default]
    Axial,
    Coronal,
    Sagittal,
}

impl Plane {
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "axial",
            Plane::Coronal => "coronal",
            Plane::Sagittal => "sagittal",
        }
    }

    /// The volume axis across the plane (the slice index runs along it).
    pub fn axis(self) -> usize {
        match self {
            Plane::Axial => 2,
            Plane::Coronal => 1,
            Plane::Sagittal => 0,
        }
    }

    /// The volume axes along the screen's width and height: R->L or A->P across, and up
    /// towards anterior (axial) or superior (coronal, sagittal).
    pub fn in_plane(self) -> [usize; 2] {
        match self {
            Plane::Axial => [0, 1],
            Plane::Coronal => [0, 2],
            Plane::Sagittal => [1, 2],
        }
    }

    /// Whether the first in-plane axis runs right to left on screen: the patient's right
    /// on the left when radiological; sagittal always with the face to the left.
    pub fn flipped(self, radiological: bool) -> bool {
        match self {
            Plane::Axial | Plane::Coronal => radiological,
            Plane::Sagittal => true,
        }
    }

    /// The letters at the panel's left, right, top and bottom edges.
    pub fn letters(self, radiological: bool) -> [&'static str; 4] {
        let (left, right) = if radiological { ("R", "L") } else { ("L", "R") };
        match self {
            Plane::Axial => [left, right, "A", "P"],
            Plane::Coronal => [left, right, "S", "I"],
            Plane::Sagittal => ["A", "P", "S", "I"],
        }
    }

    /// The volume voxel at in-plane position `uv` of slice `slice`.
    pub fn voxel(self, uv: [usize; 2], slice: usize) -> [usize; 3] {
        let mut v = [0; 3];
        let [a, b] = self.in_plane();
        v[a] = uv[0];
        v[b] = uv[1];
        v[self.axis()] = slice;
        v
    }

    /// The in-plane position of a volume voxel.
    pub fn project(self, voxel: [usize; 3]) -> [usize; 2] {
        let [a, b] = self.in_plane();
        [voxel[a], voxel[b]]
    }
}

/// Zoom and pan shared by the four panels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ViewState {
    /// 1 = the slice fits the panel.
    pub zoom: f32,
    /// Offset of the slice's centre from the panel's, in units of the fitted slice size
    /// (so one pan means the same on panels of any size).
    pub pan: [f32; 2],
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            zoom: 1.0,
            pan: [0.0, 0.0],
        }
    }
}

pub const MIN_ZOOM: f32 = 0.5;
pub const MAX_ZOOM: f32 = 16.0;

/// The slice's size fitted into `panel`, keeping its physical aspect (`extent`: width and
/// height in mm).
fn fitted(panel: Rect, extent: Vec2) -> Vec2 {
    let scale = (panel.width() / extent.x).min(panel.height() / extent.y);
    extent * scale.max(0.0)
}

impl ViewState {
    /// Where the slice is drawn in `panel` (may extend past it when zoomed).
    pub fn image_rect(&self, panel: Rect, extent: Vec2) -> Rect {
        let fit = fitted(panel, extent);
        let centre = panel.center() + Vec2::new(self.pan[0] * fit.x, self.pan[1] * fit.y);
        Rect::from_center_size(centre, fit * self.zoom)
    }

    /// Zoom by `factor` keeping the point under `pointer` in place.
    pub fn zoom_about(&mut self, factor: f32, pointer: Pos2, panel: Rect, extent: Vec2) {
        let fit = fitted(panel, extent);
        if fit.x <= 0.0 || fit.y <= 0.0 {
            return;
        }
        let zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let f = zoom / self.zoom;
        let centre = self.image_rect(panel, extent).center();
        let new_centre = pointer + (centre - pointer) * f;
        self.zoom = zoom;
        self.pan = [
            (new_centre.x - panel.center().x) / fit.x,
            (new_centre.y - panel.center().y) / fit.y,
        ];
    }

    /// Move the slice by `delta` screen points.
    pub fn pan_by(&mut self, delta: Vec2, panel: Rect, extent: Vec2) {
        let fit = fitted(panel, extent);
        if fit.x > 0.0 && fit.y > 0.0 {
            self.pan[0] += delta.x / fit.x;
            self.pan[1] += delta.y / fit.y;
        }
    }
}

/// The mapping between a drawn slice and its voxels.
#[derive(Debug, Clone, Copy)]
pub struct SliceMapping {
    pub image: Rect,
    /// [nx, ny]
    pub dims: [usize; 2],
    pub radiological: bool,
}

impl SliceMapping {
    /// The voxel (x, y) under a screen position, if any.
    pub fn voxel_at(&self, pos: Pos2) -> Option<[usize; 2]> {
        if !self.image.contains(pos) || self.image.width() <= 0.0 {
            return None;
        }
        let u = (pos - self.image.min) / self.image.size();
        let col = ((u.x * self.dims[0] as f32) as usize).min(self.dims[0] - 1);
        let row = ((u.y * self.dims[1] as f32) as usize).min(self.dims[1] - 1);
        let (x, y) = super::render::voxel_of_pixel(self.dims, row, col, self.radiological);
        Some([x, y])
    }

    /// The screen position of a voxel's centre.
    pub fn screen_of(&self, voxel: [usize; 2]) -> Pos2 {
        let col = if self.radiological {
            self.dims[0] - 1 - voxel[0]
        } else {
            voxel[0]
        };
        let row = self.dims[1] - 1 - voxel[1];
        self.image.min
            + Vec2::new(
                (col as f32 + 0.5) / self.dims[0] as f32 * self.image.width(),
                (row as f32 + 0.5) / self.dims[1] as f32 * self.image.height(),
            )
    }
}

/// Window/level presets, relative to a sequence's automatic window (its brain's 0.5-99.5
/// percentiles): MR intensities have no absolute scale, so a preset is a shape of window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPreset {
    Auto,
    /// The middle 60 %: more contrast between grey and white matter.
    Narrow,
    /// 1.5 times as wide: nothing saturates.
    Wide,
    /// The upper half: bright lesions (oedema on T2/FLAIR, enhancement on T1c) stand out.
    Bright,
}

impl WindowPreset {
    pub const ALL: [WindowPreset; 4] = [
        WindowPreset::Auto,
        WindowPreset::Narrow,
        WindowPreset::Wide,
        WindowPreset::Bright,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WindowPreset::Auto => "Auto",
            WindowPreset::Narrow => "Narrow",
            WindowPreset::Wide => "Wide",
            WindowPreset::Bright => "Bright lesions",
        }
    }

    /// The window for a sequence whose automatic window is `auto` (`None`: automatic).
    pub fn window(self, auto: (f32, f32)) -> Option<(f32, f32)> {
        let (lo, w) = (auto.0, auto.1 - auto.0);
        match self {
            WindowPreset::Auto => None,
            WindowPreset::Narrow => Some((lo + 0.2 * w, lo + 0.8 * w)),
            WindowPreset::Wide => Some((lo - 0.25 * w, auto.1 + 0.25 * w)),
            WindowPreset::Bright => Some((lo + 0.5 * w, auto.1)),
        }
    }
}

/// `window`, set on a sequence whose automatic window is `from`, carried to one whose
/// automatic window is `to` (the same place relative to each: linked window/level).
pub fn carry_window(window: (f32, f32), from: (f32, f32), to: (f32, f32)) -> (f32, f32) {
    let (fw, tw) = ((from.1 - from.0).max(1e-6), to.1 - to.0);
    let at = |v: f32| to.0 + (v - from.0) / fw * tw;
    (at(window.0), at(window.1))
}

/// Window/level after a right-drag of `delta` points, as in ITK-SNAP: right widens the
/// window, up brightens (lowers the level). `auto` sets the sensitivity: 200 points of
/// drag move by one automatic window width.
pub fn drag_window(window: (f32, f32), delta: Vec2, auto: (f32, f32)) -> (f32, f32) {
    let unit = (auto.1 - auto.0).abs().max(1e-6) / 200.0;
    let width = ((window.1 - window.0) + delta.x * unit).max(unit);
    let level = (window.0 + window.1) / 2.0 + delta.y * unit;
    (level - width / 2.0, level + width / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel() -> Rect {
        Rect::from_min_size(Pos2::new(100.0, 50.0), Vec2::new(400.0, 200.0))
    }

    #[test]
    fn fit_keeps_the_physical_aspect() {
        // 240 x 240 mm fits a 400 x 200 panel as 200 x 200, centred.
        let r = ViewState::default().image_rect(panel(), Vec2::new(240.0, 240.0));
        assert_eq!(
            r,
            Rect::from_center_size(panel().center(), Vec2::splat(200.0))
        );
    }

    #[test]
    fn zoom_keeps_the_pointed_voxel_and_pan_moves_it() {
        let extent = Vec2::new(240.0, 240.0);
        let mut v = ViewState::default();
        let map = |v: &ViewState| SliceMapping {
            image: v.image_rect(panel(), extent),
            dims: [240, 240],
            radiological: true,
        };
        let pointer = Pos2::new(260.0, 120.0);
        let before = map(&v).voxel_at(pointer).unwrap();
        v.zoom_about(2.0, pointer, panel(), extent);
        assert_eq!(v.zoom, 2.0);
        assert_eq!(map(&v).voxel_at(pointer).unwrap(), before);
        v.zoom_about(1000.0, pointer, panel(), extent);
        assert_eq!(v.zoom, MAX_ZOOM);

        let mut p = ViewState::default();
        p.pan_by(Vec2::new(20.0, 0.0), panel(), extent);
        let shifted = map(&p);
        assert_eq!(shifted.image.center().x, panel().center().x + 20.0);
    }

    #[test]
    fn screen_and_voxel_round_trip_both_conventions() {
        for radiological in [true, false] {
            let m = SliceMapping {
                image: Rect::from_min_size(Pos2::ZERO, Vec2::new(300.0, 200.0)),
                dims: [30, 20],
                radiological,
            };
            for voxel in [[0, 0], [29, 19], [7, 13]] {
                assert_eq!(m.voxel_at(m.screen_of(voxel)), Some(voxel));
            }
            // Top-left pixel: the most anterior row; patient's right when radiological.
            let x = m.voxel_at(Pos2::new(1.0, 1.0)).unwrap();
            assert_eq!(x, [if radiological { 29 } else { 0 }, 19]);
            assert_eq!(m.voxel_at(Pos2::new(-1.0, 1.0)), None);
        }
    }

    #[test]
    fn planes_map_between_screen_and_volume() {
        for plane in Plane::ALL {
            let v = [3, 5, 7];
            let uv = plane.project(v);
            assert_eq!(plane.voxel(uv, v[plane.axis()]), v, "{plane:?}");
            let mut axes = plane.in_plane().to_vec();
            axes.push(plane.axis());
            axes.sort_unstable();
            assert_eq!(axes, vec![0, 1, 2], "{plane:?}");
        }
        assert_eq!(Plane::Coronal.project([3, 5, 7]), [3, 7]);
        assert_eq!(Plane::Sagittal.letters(false), ["A", "P", "S", "I"]);
        assert_eq!(Plane::Coronal.letters(true), ["R", "L", "S", "I"]);
        assert!(Plane::Sagittal.flipped(false) && !Plane::Axial.flipped(false));
    }

    #[test]
    fn presets_and_linked_windows_are_relative_to_the_automatic_window() {
        let auto = (100.0, 300.0);
        assert_eq!(WindowPreset::Auto.window(auto), None);
        assert_eq!(WindowPreset::Narrow.window(auto), Some((140.0, 260.0)));
        assert_eq!(WindowPreset::Wide.window(auto), Some((50.0, 350.0)));
        assert_eq!(WindowPreset::Bright.window(auto), Some((200.0, 300.0)));
        // The upper half of one sequence is the upper half of another.
        assert_eq!(carry_window((200.0, 300.0), auto, (0.0, 10.0)), (5.0, 10.0));
        assert_eq!(carry_window(auto, auto, (3.0, 4.0)), (3.0, 4.0));
    }

    #[test]
    fn right_drag_widens_and_shifts_the_window() {
        let auto = (0.0, 200.0);
        assert_eq!(drag_window(auto, Vec2::ZERO, auto), auto);
        let wider = drag_window(auto, Vec2::new(200.0, 0.0), auto);
        assert_eq!(wider, (-100.0, 300.0));
        let lower = drag_window(auto, Vec2::new(0.0, -100.0), auto);
        assert_eq!(lower, (-100.0, 100.0));
        // Never narrower than one step.
        let (lo, hi) = drag_window(auto, Vec2::new(-1000.0, 0.0), auto);
        assert!(hi > lo);
    }
}
