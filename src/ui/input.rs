//! Keyboard and drag-and-drop: what the user types or drops on the window, as
//! [`Command`]s. Mouse input on a panel belongs to the panels.

use std::path::PathBuf;

use eframe::egui::{self, Color32};

use super::command::Command;
use super::view::Plane;

/// Arrows step one slice, Page Up/Down ten; A, C and S switch to the axial, coronal
/// and sagittal plane; O toggles the overlay; F1 or ? the help.
pub fn keys(ctx: &egui::Context, commands: &mut Vec<Command>) {
    if ctx.egui_wants_keyboard_input() {
        return;
    }
    let plane = ctx.input(|i| {
        [
            (egui::Key::A, Plane::Axial),
            (egui::Key::C, Plane::Coronal),
            (egui::Key::S, Plane::Sagittal),
        ]
        .into_iter()
        .find(|(k, _)| i.key_pressed(*k) && i.modifiers.is_none())
        .map(|(_, p)| p)
    });
    if let Some(p) = plane {
        commands.push(Command::SetPlane(p));
    }
    if ctx.input(|i| i.key_pressed(egui::Key::O) && i.modifiers.is_none()) {
        commands.push(Command::ToggleOverlay);
    }
    if ctx.input(|i| i.key_pressed(egui::Key::F1) || i.key_pressed(egui::Key::Questionmark)) {
        commands.push(Command::ToggleHelp);
    }
    let step = ctx.input(|i| {
        let pressed = |keys: &[egui::Key]| keys.iter().any(|k| i.key_pressed(*k));
        if pressed(&[egui::Key::ArrowUp, egui::Key::ArrowRight]) {
            1
        } else if pressed(&[egui::Key::ArrowDown, egui::Key::ArrowLeft]) {
            -1
        } else if pressed(&[egui::Key::PageUp]) {
            10
        } else if pressed(&[egui::Key::PageDown]) {
            -10
        } else {
            0
        }
    });
    if step != 0 {
        commands.push(Command::StepSlice(step));
    }
}

/// Files or folders dropped on the window open as a study; a hint while hovering.
pub fn dropped_files(ctx: &egui::Context, commands: &mut Vec<Command>) {
    let (hovering, dropped) = ctx.input(|i| {
        let dropped: Vec<PathBuf> = i
            .raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect();
        (!i.raw.hovered_files.is_empty(), dropped)
    });
    if hovering {
        let screen = ctx.content_rect();
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("drop"),
        ));
        painter.rect_filled(screen, 0.0, Color32::from_black_alpha(180));
        painter.text(
            screen.center(),
            egui::Align2::CENTER_CENTER,
            "Drop a study folder, or its NIfTI files",
            egui::FontId::proportional(22.0),
            Color32::WHITE,
        );
    }
    if !dropped.is_empty() {
        commands.push(Command::Open(dropped));
    }
}
