//! A panel's header row: the "missing" toggle, the SYNTHETIC badge, and the window and
//! save buttons. Emits [`Command`]s; changes nothing itself.

use eframe::egui::{self, Color32};

use super::marks::SYNTHETIC_COLOUR;
use crate::io::Sequence;
use crate::ui::command::Command;
use crate::ui::session::Session;
use crate::ui::view::WindowPreset;

/// A panel's header row: the "missing" toggle, the SYNTHETIC badge and the window and
/// save buttons, each emitting a command.
pub(super) fn panel_header(
    ui: &mut egui::Ui,
    session: &Session,
    seq: Sequence,
    commands: &mut Vec<Command>,
) {
    let present = session.study.has(seq);
    let missing = !present || session.is_marked(seq);
    let synthetic = session.is_synthetic_shown(seq);
    ui.horizontal(|ui| {
        let mut marked = missing;
        let toggle = ui.add_enabled(
            present,
            egui::Checkbox::new(&mut marked, format!("{} missing", seq.name())),
        );
        if toggle.changed() {
            commands.push(Command::SetMissing(seq, marked));
        }
        if !present {
            ui.label(egui::RichText::new("absent from the study").weak());
        }
        if synthetic {
            ui.label(
                egui::RichText::new(" SYNTHETIC ")
                    .strong()
                    .color(Color32::BLACK)
                    .background_color(SYNTHETIC_COLOUR),
            );
        }
        if session.windows.get(seq).is_some() && ui.small_button("auto W/L").clicked() {
            commands.push(Command::SetWindow(seq, None));
        }
        if synthetic && session.synthesized(seq) && ui.small_button("Save as...").clicked() {
            commands.push(Command::SaveAs(seq));
        }
        ui.menu_button("W/L", |ui| {
            for preset in WindowPreset::ALL {
                if ui.button(preset.name()).clicked() {
                    let auto = session.auto_window(seq, false);
                    commands.push(Command::SetWindow(seq, preset.window(auto)));
                }
            }
        });
    });
}
