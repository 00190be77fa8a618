//! What tests and the command line read from the viewer: its state, never its internals
//! to change (except the few setters a test needs in place of a dialog).

use std::path::Path;

use eframe::egui::Rect;

use super::ViewerApp;
use crate::eval::{Quality, RegionQuality};
use crate::io::Sequence;
use crate::ui::command::Command;
use crate::ui::render::{Difference, LabelStyle};
use crate::ui::session::Session;
use crate::ui::view::Plane;

impl ViewerApp {
    /// Which configured weights folder runs, and the method it loaded ("MM-GAN" until a
    /// worker says otherwise).
    pub fn model(&self) -> (usize, &str) {
        (self.model, self.method)
    }

    pub fn has_study(&self) -> bool {
        self.session.is_some()
    }

    /// Current slice index (in the current plane).
    pub fn slice(&self) -> usize {
        self.session.as_ref().map_or(0, Session::slice)
    }

    pub fn plane(&self) -> Plane {
        self.session
            .as_ref()
            .map_or(self.options.plane, Session::plane)
    }

    /// Show slice `z` of the current plane (clamped), as scrubbing does.
    pub fn set_slice(&mut self, z: usize) {
        self.run(Command::SetSlice(z));
    }

    /// Whether the whole volume of `seq` has been synthesized.
    pub fn synthesized(&self, seq: Sequence) -> bool {
        self.session.as_ref().is_some_and(|s| s.synthesized(seq))
    }

    /// Whether work the screen waits for is running: a synthesis, or the uncertainty the
    /// overlay shows.
    pub fn busy(&self) -> bool {
        let Some(s) = &self.session else {
            return false;
        };
        let uncertainty_pending = self.settings.difference == Difference::Uncertainty
            && s.missing()
                .into_iter()
                .any(|q| !s.uncertainty_volume(q).is_some_and(|u| u.is_complete()));
        s.progress().is_some() || (uncertainty_pending && self.message().is_none_or(|m| !m.1))
    }

    pub fn is_synthesizing(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.progress().is_some())
    }

    /// Whether the panel of `seq` shows a synthesized slice.
    pub fn is_synthetic_shown(&self, seq: Sequence) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.is_synthetic_shown(seq))
    }

    /// The status message, and whether it is an error.
    pub fn message(&self) -> Option<(&str, bool)> {
        self.message.as_ref().map(|(m, e)| (m.as_str(), *e))
    }

    pub fn set_export_path(&mut self, path: &Path) {
        self.export_folder = path.display().to_string();
    }

    pub fn showing_difference(&self, seq: Sequence) -> bool {
        self.panels.showing_difference(seq)
    }

    pub fn showing_side_by_side(&self, seq: Sequence) -> bool {
        self.panels.showing_side_by_side(seq)
    }

    pub fn showing_labels(&self, seq: Sequence) -> bool {
        self.panels.showing_labels(seq)
    }

    pub fn showing_uncertainty(&self, seq: Sequence) -> bool {
        self.panels.showing_uncertainty(seq)
    }

    /// Whether the uncertainty of the synthesized `seq` is complete.
    pub fn uncertainty_ready(&self, seq: Sequence) -> bool {
        self.session
            .as_ref()
            .and_then(|s| s.uncertainty_volume(seq))
            .is_some_and(|u| u.is_complete())
    }

    pub fn set_overlay(&mut self, overlay: Difference) {
        self.settings.difference = overlay;
    }

    /// The crosshair's voxel [x, y, z].
    pub fn crosshair(&self) -> Option<[usize; 3]> {
        self.session.as_ref().and_then(Session::crosshair)
    }

    pub fn crosshair_status(&self) -> Option<String> {
        self.session.as_ref().and_then(Session::crosshair_status)
    }

    /// Where the panel of `seq` was drawn last frame.
    pub fn panel_rect(&self, seq: Sequence) -> Option<Rect> {
        self.panels.rect(seq)
    }

    /// Zoom factor shared by the panels.
    pub fn zoom(&self) -> f32 {
        self.settings.view.zoom
    }

    /// The user-set window of `seq` (`None`: automatic).
    pub fn user_window(&self, seq: Sequence) -> Option<(f32, f32)> {
        self.session.as_ref().and_then(|s| s.windows.get(seq))
    }

    /// Figures of the visible synthesized slice of `seq`, once measured.
    pub fn slice_quality(&self, seq: Sequence) -> Option<Quality> {
        self.session.as_ref().and_then(|s| s.slice_quality(seq))
    }

    /// Whole-volume figures of the synthesized `seq`, once measured.
    pub fn volume_quality(&self, seq: Sequence) -> Option<RegionQuality> {
        self.session.as_ref().and_then(|s| s.volume_quality(seq))
    }

    pub fn set_labels(&mut self, style: LabelStyle) {
        self.settings.labels = style;
    }

    pub fn renderer(&self) -> &str {
        &self.renderer
    }

    pub fn frame_report(&self) -> String {
        self.stats.report(&self.renderer)
    }

    /// The study's self-check, once done.
    pub fn self_check(&self) -> Option<&[crate::eval::CheckRow]> {
        match self.session.as_ref()?.self_check() {
            crate::ui::session::SelfCheck::Done(rows) => Some(rows),
            _ => None,
        }
    }

    /// Show or hide the self-check panel (hidden, the check does not run).
    pub fn show_self_check(&mut self, show: bool) {
        self.settings.self_check = show;
    }
}
