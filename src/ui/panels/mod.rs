//! The four slice panels: what each shows (acquired, synthesized, the difference to the
//! ground truth, side by side), its marks (SYNTHETIC border and title, orientation letters,
//! crosshair, figures) and the mouse on it. Reads the [`Session`] and [`Settings`]; every
//! change it wants is a [`Command`]. Owns only its drawing caches.

use std::sync::Arc;

use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, TextureHandle, TextureOptions, Vec2};
use ndarray::ArrayView2;

mod header;
mod marks;

use header::panel_header;

pub use marks::T1C_NOTE;
use marks::{caption, orientation_letters, synthetic_marks, uncertainty_legend, SYNTHETIC_COLOUR};

use super::command::Command;
use super::gpu::{Layer, PanelPaint};
use super::render::{compose, Difference, LabelStyle, Look, SliceLayers, UNCERTAINTY_SCALE};
use super::session::Session;
use super::settings::Settings;
use super::view::{drag_window, SliceMapping, ViewState};
use crate::io::{row_major, Sequence};

const CROSSHAIR_COLOUR: Color32 = Color32::from_rgb(0, 220, 120);

/// The voxels one drawn slice needs, row-major, and the key of their content.
struct SlotData {
    key: u64,
    dims: [usize; 2],
    base: Arc<Vec<f32>>,
    /// The ground truth, or the uncertainty when `uncertainty`.
    truth: Option<Arc<Vec<f32>>>,
    uncertainty: bool,
    label: Option<Arc<Vec<f32>>>,
    /// Mean of the positive voxels of base and truth (the difference's common scale).
    means: (f32, f32),
}

/// What is drawn in one slot (a panel, or half of one side by side): its data and, on the
/// CPU renderer, the texture with the look it was drawn with.
struct Slot {
    data: SlotData,
    texture: Option<(Look, TextureHandle)>,
}

/// One half of a panel (the whole panel unless side by side).
#[derive(Clone, Copy)]
struct Half {
    rect: Rect,
    mapping: SliceMapping,
    truth: bool,
}

pub struct Panels {
    /// Whether slices are drawn by `shaders/slice.wgsl` (else CPU textures).
    gpu: bool,
    /// Two slots per panel: the slice, and the ground truth when side by side.
    slots: [Option<Slot>; 2 * Sequence::COUNT],
    rects: [Option<Rect>; Sequence::COUNT],
}

impl Panels {
    pub fn new(gpu: bool) -> Panels {
        Panels {
            gpu,
            slots: Default::default(),
            rects: [None; Sequence::COUNT],
        }
    }

    /// Where the panel of `seq` was drawn last frame.
    pub fn rect(&self, seq: Sequence) -> Option<Rect> {
        self.rects[seq.slot()]
    }

    /// Whether the panel of `seq` currently draws the difference to its ground truth.
    pub fn showing_difference(&self, seq: Sequence) -> bool {
        self.slots[seq.slot() * 2]
            .as_ref()
            .is_some_and(|s| s.data.truth.is_some() && !s.data.uncertainty)
    }

    /// Whether the panel of `seq` currently draws the synthesis' uncertainty.
    pub fn showing_uncertainty(&self, seq: Sequence) -> bool {
        self.slots[seq.slot() * 2]
            .as_ref()
            .is_some_and(|s| s.data.truth.is_some() && s.data.uncertainty)
    }

    /// Whether the panel of `seq` shows the ground truth beside the synthesized slice.
    pub fn showing_side_by_side(&self, seq: Sequence) -> bool {
        self.slots[seq.slot() * 2 + 1].is_some()
    }

    /// Whether the panel of `seq` has the label map to draw.
    pub fn showing_labels(&self, seq: Sequence) -> bool {
        self.slots[seq.slot() * 2]
            .as_ref()
            .is_some_and(|s| s.data.label.is_some())
    }

    /// The four panels in a 2 x 2 grid filling `ui`.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        session: &Session,
        settings: &Settings,
        commands: &mut Vec<Command>,
    ) {
        let avail = ui.available_size();
        let size = Vec2::new(
            (avail.x / 2.0 - 8.0).max(64.0),
            (avail.y / 2.0 - 30.0).max(64.0),
        );
        egui::Grid::new("panels")
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                for (i, seq) in session.set().sequences().into_iter().enumerate() {
                    ui.vertical(|ui| self.panel_ui(ui, session, settings, seq, size, commands));
                    if i % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
    }

    fn panel_ui(
        &mut self,
        ui: &mut egui::Ui,
        session: &Session,
        settings: &Settings,
        seq: Sequence,
        size: Vec2,
        commands: &mut Vec<Command>,
    ) {
        let study = &session.study;
        let present = study.has(seq);
        let missing = !present || session.is_marked(seq);
        let synthetic = session.is_synthetic_shown(seq);
        panel_header(ui, session, seq, commands);
        let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
        self.rects[seq.slot()] = Some(rect);
        let side_by_side = synthetic && present && settings.difference == Difference::SideBySide;
        let plane = session.plane();
        let [a, b] = plane.in_plane();
        let (dims, vs) = (study.grid.dims, study.grid.voxel_size());
        let extent = Vec2::new(
            (dims[a] as f64 * vs[a]) as f32,
            (dims[b] as f64 * vs[b]) as f32,
        );
        let flipped = plane.flipped(settings.radiological);
        let half = |r: Rect, truth: bool| Half {
            rect: r,
            mapping: SliceMapping {
                image: settings.view.image_rect(r, extent),
                dims: [dims[a], dims[b]],
                radiological: flipped,
            },
            truth,
        };
        let halves: Vec<Half> = if side_by_side {
            let (l, r) = rect.split_left_right_at_fraction(0.5);
            vec![half(l.shrink(1.0), false), half(r.shrink(1.0), true)]
        } else {
            self.slots[seq.slot() * 2 + 1] = None;
            vec![half(rect, false)]
        };
        panel_input(
            ui, &response, seq, session, settings, &halves, extent, commands,
        );

        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, Color32::BLACK);
        for (i, h) in halves.iter().enumerate() {
            let slot = seq.slot() * 2 + i;
            self.refresh_slot(session, settings, seq, h.truth, slot);
            let look = look_of(session, settings, seq, h.truth, flipped);
            let half_painter = painter.with_clip_rect(h.rect.intersect(rect));
            if self.slots[slot].is_some() {
                self.draw_slot(&half_painter, slot, h.mapping.image, look);
            } else if missing {
                painter.text(
                    h.rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "synthesizing...",
                    egui::FontId::proportional(16.0),
                    Color32::GRAY,
                );
            }
            if let Some(c) = session.crosshair() {
                let p = h.mapping.screen_of(plane.project(c));
                let stroke = Stroke::new(1.0, CROSSHAIR_COLOUR.gamma_multiply(0.8));
                half_painter.hline(h.rect.x_range(), p.y, stroke);
                half_painter.vline(p.x, h.rect.y_range(), stroke);
            }
            if side_by_side {
                let (text, colour) = if h.truth {
                    ("acquired (ground truth)", Color32::WHITE)
                } else {
                    ("synthetic", SYNTHETIC_COLOUR)
                };
                caption(
                    &half_painter,
                    h.rect.center_top() + Vec2::new(0.0, 24.0),
                    egui::Align2::CENTER_TOP,
                    text,
                    13.0,
                    colour,
                );
            }
        }
        orientation_letters(&painter, rect, plane.letters(settings.radiological));
        if synthetic {
            synthetic_marks(&painter, rect, session, seq);
            if settings.difference == Difference::Uncertainty {
                let ready = self.showing_uncertainty(seq);
                uncertainty_legend(&painter, rect, ready);
            }
        }
    }

    /// Rebuild slot `slot` if what it shows changed (new slice, volume or overlay set).
    fn refresh_slot(
        &mut self,
        session: &Session,
        settings: &Settings,
        seq: Sequence,
        truth_half: bool,
        slot: usize,
    ) {
        let study = &session.study;
        let synthetic = !truth_half && session.is_synthetic_shown(seq);
        let present = study.has(seq);
        let with_uncertainty = synthetic && settings.difference == Difference::Uncertainty;
        let with_truth = synthetic
            && present
            && !matches!(
                settings.difference,
                Difference::Off | Difference::Uncertainty
            );
        let with_label = settings.labels != LabelStyle::Off && study.label.is_some();
        let key = content_key(&[
            session.plane().axis() as u64,
            session.slice() as u64,
            session.version(seq),
            u64::from(synthetic),
            u64::from(truth_half),
            u64::from(with_truth),
            u64::from(with_label),
            if with_uncertainty {
                session.uncertainty_version(seq)
            } else {
                0
            },
        ]);
        if self.slots[slot].as_ref().is_some_and(|s| s.data.key == key) {
            return;
        }
        let base = if synthetic {
            session
                .synthesized_volume(seq)
                .map(|v| session.plane_slice(&v.data))
        } else if present && (truth_half || !session.is_marked(seq)) {
            study.volume(seq).map(|v| session.plane_slice(&v.data))
        } else {
            None
        };
        let Some(base) = base else {
            self.slots[slot] = None;
            return;
        };
        let (nx, ny) = base.dim();
        let truth = if with_uncertainty {
            session
                .uncertainty_volume(seq)
                .map(|u| session.plane_slice(&u.data))
        } else if with_truth {
            study.volume(seq).map(|v| session.plane_slice(&v.data))
        } else {
            None
        };
        let label = with_label
            .then(|| study.label.as_ref().map(|l| session.plane_slice(&l.data)))
            .flatten();
        self.slots[slot] = Some(Slot {
            data: SlotData {
                key,
                dims: [nx, ny],
                means: (
                    mean_of_positive(base),
                    truth.map(mean_of_positive).unwrap_or(1.0),
                ),
                base: Arc::new(row_major(base)),
                truth: truth.map(|t| Arc::new(row_major(t))),
                uncertainty: with_uncertainty,
                label: label.map(|l| Arc::new(row_major(l).into_iter().map(f32::from).collect())),
            },
            texture: None,
        });
    }

    /// Draw slot `slot` into `image` (clipped by the painter): a wgpu paint callback running
    /// `shaders/slice.wgsl`, or a CPU-composed texture without wgpu.
    fn draw_slot(&mut self, painter: &egui::Painter, slot: usize, image: Rect, look: Look) {
        let gpu = self.gpu;
        let Some(s) = self.slots[slot].as_mut() else {
            return;
        };
        let d = &s.data;
        let look = Look {
            means: d.means,
            ..look
        };
        if gpu {
            let layer = |i: u64, data: &Arc<Vec<f32>>| Layer {
                key: content_key(&[d.key, i]),
                data: data.clone(),
            };
            let paint = PanelPaint {
                panel: slot,
                dims: [d.dims[0] as u32, d.dims[1] as u32],
                base: layer(0, &d.base),
                truth: d.truth.as_ref().map(|t| layer(1, t)),
                label: d.label.as_ref().map(|l| layer(2, l)),
                look,
                rect: [image.min.x, image.min.y, image.width(), image.height()],
            };
            painter.add(eframe::egui_wgpu::Callback::new_paint_callback(
                image, paint,
            ));
            return;
        }
        if s.texture.as_ref().is_none_or(|(l, _)| *l != look) {
            fn view(v: &[f32], dims: [usize; 2]) -> Option<ArrayView2<'_, f32>> {
                ArrayView2::from_shape((dims[1], dims[0]), v)
                    .map(|a| a.reversed_axes())
                    .ok()
            }
            let Some(base) = view(&d.base, d.dims) else {
                return;
            };
            let layers = SliceLayers {
                base,
                truth: d.truth.as_deref().and_then(|t| view(t, d.dims)),
                label: d.label.as_deref().and_then(|l| view(l, d.dims)),
            };
            let handle = painter.ctx().load_texture(
                format!("slot-{slot}"),
                compose(&layers, &look),
                TextureOptions::NEAREST,
            );
            s.texture = Some((look, handle));
        }
        if let Some((_, t)) = &s.texture {
            painter.image(
                t.id(),
                image,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }
    }
}

/// Mouse on a panel: wheel scrubs, Ctrl+wheel zooms (all panels), left click/drag places
/// the crosshair, middle or Shift+left drag pans, right drag sets the window, a double
/// click resets zoom and pan.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn panel_input(
    ui: &egui::Ui,
    response: &egui::Response,
    seq: Sequence,
    session: &Session,
    settings: &Settings,
    halves: &[Half],
    extent: Vec2,
    commands: &mut Vec<Command>,
) {
    let pointer = response.interact_pointer_pos().or(response.hover_pos());
    let under = pointer.and_then(|p| halves.iter().find(|h| h.rect.contains(p)).copied());
    if response.hovered() {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        if let (Some(p), Some(h), true) = (pointer, under, zoom != 1.0) {
            let mut view = settings.view;
            view.zoom_about(zoom, p, h.rect, extent);
            commands.push(Command::SetView(view));
        }
        if scroll.abs() > 0.5 && zoom == 1.0 {
            commands.push(Command::StepSlice(if scroll > 0.0 { 1 } else { -1 }));
        }
    }
    let shift = ui.input(|i| i.modifiers.shift);
    let panning = response.dragged_by(egui::PointerButton::Middle)
        || (shift && response.dragged_by(egui::PointerButton::Primary));
    if panning {
        if let Some(h) = under {
            let mut view = settings.view;
            view.pan_by(response.drag_delta(), h.rect, extent);
            commands.push(Command::SetView(view));
        }
    } else if response.clicked() || response.dragged_by(egui::PointerButton::Primary) {
        if let Some(uv) = pointer.zip(under).and_then(|(p, h)| h.mapping.voxel_at(p)) {
            let plane = session.plane();
            commands.push(Command::SetCrosshair(plane.voxel(uv, session.slice())));
        }
    }
    if response.dragged_by(egui::PointerButton::Secondary) {
        let current = session.window_of(seq, false);
        let auto = session.auto_window(seq, false);
        let window = drag_window(current, response.drag_delta(), auto);
        commands.push(Command::SetWindow(seq, Some(window)));
    }
    if response.double_clicked() {
        commands.push(Command::SetView(ViewState::default()));
    }
}

/// A key naming some content, from its parts.
fn content_key(parts: &[u64]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// Mean of the positive voxels (1 when there are none): brings a synthesized and an
/// acquired slice in different intensity scales to one scale for differencing.
fn mean_of_positive(s: ArrayView2<f32>) -> f32 {
    let (sum, n) = s
        .iter()
        .filter(|v| **v > 0.0)
        .fold((0f64, 0usize), |(a, n), v| (a + f64::from(*v), n + 1));
    if n > 0 {
        (sum / n as f64) as f32
    } else {
        1.0
    }
}

/// How one half of a panel is drawn: its window, and the difference overlay on the
/// synthesized half only (the acquired half of a side-by-side view shows none).
fn look_of(
    session: &Session,
    settings: &Settings,
    seq: Sequence,
    truth: bool,
    radiological: bool,
) -> Look {
    Look {
        window: session.window_of(seq, truth),
        radiological,
        difference: if truth {
            Difference::Off
        } else {
            settings.difference
        },
        means: (1.0, 1.0),
        diff_scale: if settings.difference == Difference::Uncertainty {
            UNCERTAINTY_SCALE
        } else {
            1.0
        },
        diff_opacity: settings.difference_opacity,
        labels: settings.labels,
        label_opacity: settings.label_opacity,
    }
}
