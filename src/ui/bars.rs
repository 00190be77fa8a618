//! The menu bar and the status bar. Display choices ([`Settings`]) and the export folder
//! are edited in place; everything else is a [`Command`].

use std::path::PathBuf;

use eframe::egui::{self, Color32};

use super::command::{Command, Pick};
use super::render::{Difference, LabelStyle};
use super::session::{SelfCheck, Session};
use super::settings::Settings;
use super::view::{Plane, ViewState};
use crate::engine::Stage;

/// What the status bar reports besides the study.
pub struct Status<'a> {
    /// Where the model runs.
    pub device: &'a str,
    /// What draws the slices.
    pub renderer: &'a str,
    /// The last message, and whether it is an error.
    pub message: Option<(&'a str, bool)>,
}

/// The menu bar. `models`: the configured weights folders and the one in use (a Model
/// menu appears when there are several).
pub fn menu_ui(
    ui: &mut egui::Ui,
    settings: &mut Settings,
    (models, active): (&[String], usize),
    commands: &mut Vec<Command>,
) {
    egui::MenuBar::new().ui(ui, |ui| {
        if models.len() > 1 {
            ui.menu_button("Model", |ui| {
                for (i, label) in models.iter().enumerate() {
                    if ui.radio(i == active, label).clicked() {
                        commands.push(Command::UseModel(i));
                    }
                }
            });
        }
        ui.menu_button("File", |ui| {
            if ui.button("Open study folder...").clicked() {
                commands.push(Command::Dialog(Pick::StudyFolder));
            }
            if ui.button("Open study files...").clicked() {
                commands.push(Command::Dialog(Pick::StudyFiles));
            }
            if !settings.recent.is_empty() {
                ui.separator();
                for r in &settings.recent {
                    if ui.button(r).clicked() {
                        commands.push(Command::Open(vec![PathBuf::from(r)]));
                    }
                }
            }
            ui.separator();
            if ui.button("Export synthesized...").clicked() {
                commands.push(Command::Dialog(Pick::ExportFolder { export: true }));
            }
            if ui.button("Choose export folder...").clicked() {
                commands.push(Command::Dialog(Pick::ExportFolder { export: false }));
            }
            if ui.button("Save screenshot (PNG)").clicked() {
                commands.push(Command::Screenshot);
            }
        });
        ui.menu_button("View", |ui| {
            ui.checkbox(
                &mut settings.radiological,
                "Radiological (patient's right on the left)",
            );
            ui.checkbox(
                &mut settings.link_windows,
                "Link window/level across sequences",
            );
            ui.checkbox(&mut settings.self_check, "Self-check panel");
            if ui.button("Reset zoom and pan").clicked() {
                commands.push(Command::SetView(ViewState::default()));
            }
            if ui.button("Reset window/level").clicked() {
                commands.push(Command::ResetWindows);
            }
            ui.separator();
            ui.label("Tumour labels");
            ui.radio_value(&mut settings.labels, LabelStyle::Off, "Off");
            ui.radio_value(&mut settings.labels, LabelStyle::Outline, "Outline");
            ui.radio_value(&mut settings.labels, LabelStyle::Filled, "Filled");
            ui.add(egui::Slider::new(&mut settings.label_opacity, 0.0..=1.0).text("label opacity"));
        });
    });
}

pub fn status_ui(
    ui: &mut egui::Ui,
    session: Option<&Session>,
    settings: &mut Settings,
    export_folder: &mut String,
    status: &Status,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        if let Some(s) = session {
            ui.label(&s.study.subject);
            for plane in Plane::ALL {
                let name = plane.name();
                let label = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
                if ui.selectable_label(s.plane() == plane, label).clicked() {
                    commands.push(Command::SetPlane(plane));
                }
            }
            let mut index = s.slice();
            let slider = egui::Slider::new(&mut index, 0..=s.depth().saturating_sub(1))
                .text(format!("{} slice", s.plane().name()));
            if ui.add(slider).changed() {
                commands.push(Command::SetSlice(index));
            }
        }
        if let Some((stage, done, total)) = session.and_then(Session::progress) {
            let what = match stage {
                Stage::Synthesis => "synthesizing",
                Stage::Uncertainty => "uncertainty",
            };
            let text = match total {
                0 => "preparing the study".to_string(),
                _ => format!("{what} {done}/{total}"),
            };
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .desired_width(200.0)
                    .text(text),
            );
        }
        ui.label(
            egui::RichText::new(format!(
                "model: {}  |  slices: {}",
                status.device, status.renderer
            ))
            .weak(),
        );
    });
    ui.horizontal(|ui| {
        ui.label("Compare with ground truth:");
        let d = &mut settings.difference;
        ui.selectable_value(d, Difference::Off, "Off");
        ui.selectable_value(d, Difference::Signed, "Signed difference");
        ui.selectable_value(d, Difference::Absolute, "Absolute error");
        ui.selectable_value(d, Difference::SideBySide, "Side by side");
        ui.separator();
        ui.selectable_value(d, Difference::Uncertainty, "Uncertainty");
        ui.add_enabled(
            d.is_overlay(),
            egui::Slider::new(&mut settings.difference_opacity, 0.0..=1.0).text("overlay opacity"),
        );
    });
    ui.horizontal(|ui| {
        let text = session
            .and_then(Session::crosshair_status)
            .unwrap_or_else(|| "click a panel to place the crosshair".into());
        ui.label(egui::RichText::new(text).monospace());
    });
    ui.horizontal(|ui| {
        let label = ui.label("Export folder:");
        ui.text_edit_singleline(export_folder).labelled_by(label.id);
        if ui.button("Export synthesized").clicked() {
            commands.push(Command::Export);
        }
        if let Some((m, error)) = status.message {
            let colour = if error {
                Color32::LIGHT_RED
            } else {
                Color32::LIGHT_GRAY
            };
            ui.colored_label(colour, m);
        }
    });
}

/// The self-check side panel: each acquired input synthesized from the others, against the
/// weights' validation figures, and a warning when the model does not know this patient.
pub fn self_check_ui(ui: &mut egui::Ui, session: &Session) {
    ui.heading("Self-check");
    ui.label("Each acquired input synthesized from the others (brain, challenge definition).");
    ui.separator();
    match session.self_check() {
        SelfCheck::NotAsked => {
            ui.label("waits for the synthesis to finish");
        }
        SelfCheck::Running => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("checking...");
            });
        }
        SelfCheck::Failed(e) => {
            ui.colored_label(Color32::LIGHT_RED, format!("self-check failed: {e}"));
        }
        SelfCheck::Done(rows) if rows.is_empty() => {
            ui.label("needs at least two acquired inputs");
        }
        SelfCheck::Done(rows) => {
            egui::Grid::new("self-check").striped(true).show(ui, |ui| {
                for title in ["", "PSNR", "SSIM", "validation"] {
                    ui.strong(title);
                }
                ui.end_row();
                for r in rows {
                    ui.label(r.sequence.name());
                    ui.label(format!("{:.1} dB", r.quality.brain.psnr));
                    ui.label(format!("{:.3}", r.quality.brain.ssim));
                    match r.validation {
                        Some(v) => ui.label(format!("{:.1} / {:.3}", v.psnr, v.ssim)),
                        None => ui.label("-"),
                    };
                    ui.end_row();
                }
            });
            if rows.iter().any(|r| r.unreliable) {
                ui.colored_label(
                    Color32::LIGHT_RED,
                    "Synthesis is unreliable for this study: the model reproduces its acquired \
                     sequences far worse than on its validation studies (not skull-stripped? \
                     other preprocessing or scanner?)",
                );
            } else if rows.iter().all(|r| r.validation.is_some()) {
                ui.label("Within the range of the validation studies.");
            }
        }
    }
}

/// Every mouse and key action, in one window (F1).
pub const HELP: [(&str, &str); 16] = [
    ("Mouse wheel on a panel", "next / previous slice"),
    (
        "Ctrl + wheel (or pinch)",
        "zoom all panels about the pointer",
    ),
    (
        "Left click or drag",
        "place the crosshair (linked across planes)",
    ),
    ("Middle drag, or Shift + left drag", "pan all panels"),
    ("Right drag", "window/level: right widens, up brightens"),
    ("Double click", "reset zoom and pan"),
    (
        "Up / Right arrow, Down / Left arrow",
        "next / previous slice",
    ),
    ("Page Up / Page Down", "ten slices up / down"),
    ("A, C, S", "axial, coronal, sagittal plane"),
    ("O", "overlay off / back on"),
    ("H (hold)", "hide every overlay while held"),
    ("F1 or ?", "this help"),
    (
        "\"X missing\" tick box",
        "synthesize X from the others (untick: back to acquired)",
    ),
    (
        "W/L menu on a panel",
        "window presets; View > Link window/level for all four",
    ),
    (
        "Save as... on a synthesized panel",
        "save that volume (NIfTI, marked synthetic)",
    ),
    ("Drop files or a folder", "open them as a study"),
];

pub fn help_window(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keys and mouse")
        .open(open)
        .resizable(false)
        .show(ctx, |ui| {
            egui::Grid::new("help").striped(true).show(ui, |ui| {
                for (what, does) in HELP {
                    ui.strong(what);
                    ui.label(does);
                    ui.end_row();
                }
            });
        });
}
