//! The marks drawn over a panel: orientation letters, the SYNTHETIC border, title and
//! T1c or DWI note, the figures against the ground truth, the uncertainty key, and captions on a
//! dark backing.

use eframe::egui::{self, Color32, Pos2, Rect, Stroke, Vec2};

use crate::io::Sequence;
use crate::ui::render::{inferno, UNCERTAINTY_SCALE};
use crate::ui::session::{Session, UNCERTAINTY_PASSES};

pub(super) const SYNTHETIC_COLOUR: Color32 = Color32::from_rgb(255, 170, 0);
/// Shown on a synthesized T1c panel.
pub const T1C_NOTE: &str = "enhancement inferred, not observed";
/// Shown on a synthesized DWI panel.
pub(super) const DWI_NOTE: &str = "diffusion restriction inferred, not measured";

/// The patient directions at the panel's edges (`Plane::letters`).
pub(super) fn orientation_letters(painter: &egui::Painter, rect: Rect, letters: [&str; 4]) {
    let [left, right, top, bottom] = letters;
    let font = egui::FontId::proportional(14.0);
    for (pos, align, text) in [
        (
            rect.left_center() + Vec2::new(6.0, 0.0),
            egui::Align2::LEFT_CENTER,
            left,
        ),
        (
            rect.right_center() - Vec2::new(6.0, 0.0),
            egui::Align2::RIGHT_CENTER,
            right,
        ),
        (
            rect.center_top() + Vec2::new(0.0, 4.0),
            egui::Align2::CENTER_TOP,
            top,
        ),
        (
            rect.center_bottom() - Vec2::new(0.0, 4.0),
            egui::Align2::CENTER_BOTTOM,
            bottom,
        ),
    ] {
        painter.text(pos, align, text, font.clone(), Color32::YELLOW);
    }
}

/// The synthetic border and title, and the figures against the ground truth.
pub(super) fn synthetic_marks(
    painter: &egui::Painter,
    rect: Rect,
    session: &Session,
    seq: Sequence,
) {
    painter.rect_stroke(
        rect.shrink(1.5),
        0.0,
        Stroke::new(3.0, SYNTHETIC_COLOUR),
        egui::StrokeKind::Inside,
    );
    caption(
        painter,
        rect.left_top() + Vec2::new(8.0, 8.0),
        egui::Align2::LEFT_TOP,
        "SYNTHETIC",
        18.0,
        SYNTHETIC_COLOUR,
    );
    // No contrast agent was given for a synthesized T1c, no diffusion gradient for a
    // synthesized DWI: what enhances or restricts in them is the model's guess from the
    // other sequences (a DWI-FLAIR mismatch cannot be read off a synthesized DWI).
    let note = match seq {
        Sequence::T1c => Some(T1C_NOTE),
        Sequence::Dwi => Some(DWI_NOTE),
        _ => None,
    };
    if let Some(note) = note {
        caption(
            painter,
            rect.left_top() + Vec2::new(8.0, 30.0),
            egui::Align2::LEFT_TOP,
            note,
            13.0,
            SYNTHETIC_COLOUR,
        );
    }
    if !session.study.has(seq) {
        return;
    }
    let mut lines = Vec::new();
    if let Some(q) = session.slice_quality(seq) {
        lines.push(format!(
            "this {} slice (paper definition): PSNR {:.2} dB, SSIM {:.3}",
            session.plane().name(),
            q.psnr,
            q.ssim
        ));
    }
    match session.volume_quality(seq) {
        Some(v) => lines.push(format!(
            "whole volume, in brain (challenge definition): PSNR {:.2} dB, SSIM {:.3}",
            v.brain.psnr, v.brain.ssim
        )),
        None if session.synthesized(seq) => lines.push("whole volume: measuring...".into()),
        None => {}
    }
    if !lines.is_empty() {
        caption(
            painter,
            rect.left_bottom() + Vec2::new(8.0, -8.0),
            egui::Align2::LEFT_BOTTOM,
            &lines.join("\n"),
            13.0,
            Color32::WHITE,
        );
    }
}

/// The uncertainty overlay's key: its colour bar from certain to the saturating spread,
/// or that it is still being computed.
pub(super) fn uncertainty_legend(painter: &egui::Painter, rect: Rect, ready: bool) {
    let anchor = rect.right_top() + Vec2::new(-8.0, 8.0);
    if !ready {
        caption(
            painter,
            anchor,
            egui::Align2::RIGHT_TOP,
            "uncertainty: computing...",
            13.0,
            Color32::WHITE,
        );
        return;
    }
    let title = format!("uncertainty ({UNCERTAINTY_PASSES} dropout passes + expected error)");
    caption(
        painter,
        anchor,
        egui::Align2::RIGHT_TOP,
        &title,
        13.0,
        Color32::WHITE,
    );
    let bar = Rect::from_min_size(anchor + Vec2::new(-160.0, 22.0), Vec2::new(160.0, 10.0));
    let steps = 32;
    for i in 0..steps {
        let t = (i as f32 + 0.5) / steps as f32;
        let [r, g, b] = inferno(t).map(|c| (c * 255.0).round() as u8);
        let x0 = bar.min.x + bar.width() * i as f32 / steps as f32;
        let cell = Rect::from_min_max(
            Pos2::new(x0, bar.min.y),
            Pos2::new(x0 + bar.width() / steps as f32 + 0.5, bar.max.y),
        );
        painter.rect_filled(cell, 0.0, Color32::from_rgb(r, g, b));
    }
    let scale = format!(
        "0 .. {:.0}% of mean brain signal",
        UNCERTAINTY_SCALE * 100.0
    );
    caption(
        painter,
        bar.right_bottom() + Vec2::new(0.0, 4.0),
        egui::Align2::RIGHT_TOP,
        &scale,
        11.0,
        Color32::WHITE,
    );
}

/// Text over an image, on a dark backing so it stays readable on bright tissue.
pub(super) fn caption(
    painter: &egui::Painter,
    pos: Pos2,
    align: egui::Align2,
    text: &str,
    size: f32,
    colour: Color32,
) {
    let galley = painter.layout_no_wrap(text.into(), egui::FontId::proportional(size), colour);
    let rect = align.anchor_size(pos, galley.size());
    painter.rect_filled(rect.expand(3.0), 3.0, Color32::from_black_alpha(170));
    painter.galley(rect.min, galley, colour);
}
