//! Running the [`Command`]s that panels, menus and keys pushed during a frame: the app's
//! side of each (tasks started, session changed, worker asked), at the end of the frame.

use std::path::{Path, PathBuf};

use super::ViewerApp;
use crate::io::Sequence;
use crate::ui::command::Command;
use crate::ui::render::Difference;
use crate::ui::settings::Windows;

impl ViewerApp {
    /// Run one command from a panel, a menu or a key.
    pub(super) fn run(&mut self, command: Command) {
        let busy = |r: Result<(), &'static str>| r.err();
        let refused = match command {
            Command::Open(paths) => {
                let what = match paths.as_slice() {
                    [one] => one.display().to_string(),
                    many => format!("{} files", many.len()),
                };
                let r = busy(self.tasks.open(paths));
                if r.is_none() {
                    self.info(format!("opening {what}..."));
                }
                r
            }
            Command::Dialog(pick) => busy(self.tasks.dialog(pick)),
            Command::Export => {
                self.export();
                None
            }
            Command::SaveAs(seq) => self.save_as(seq),
            Command::ToggleHelp => {
                self.help = !self.help;
                None
            }
            Command::UseModel(i) => {
                self.use_model(i);
                None
            }
            Command::Screenshot => self.screenshot(),
            Command::ResetWindows => {
                if let Some(s) = self.session.as_mut() {
                    s.windows = Windows::default();
                }
                None
            }
            Command::SetView(view) => {
                self.settings.view = view;
                None
            }
            Command::ToggleOverlay => {
                self.toggle_overlay();
                None
            }
            c => {
                self.session_command(c);
                None
            }
        };
        if let Some(why) = refused {
            self.error(why);
        }
    }

    /// The commands that change the open study's session.
    fn session_command(&mut self, command: Command) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        match command {
            Command::SetMissing(seq, missing) => {
                if let Some(request) = s.set_marked(seq, missing) {
                    self.send(request);
                }
            }
            Command::SetSlice(z) => {
                if let Some(r) = s.set_slice(z) {
                    self.worker.send(r);
                }
            }
            Command::StepSlice(by) => {
                let z = s.slice().saturating_add_signed(by);
                if let Some(r) = s.set_slice(z) {
                    self.worker.send(r);
                }
            }
            Command::SetCrosshair(v) => {
                if let Some(r) = s.set_crosshair(v) {
                    self.worker.send(r);
                }
            }
            Command::SetPlane(plane) if plane != s.plane() => {
                s.set_plane(plane);
                self.stats.plane_switched();
            }
            Command::SetWindow(seq, w) => s.set_window(seq, w, self.settings.link_windows),
            _ => {}
        }
    }

    fn export(&mut self) {
        let Some(s) = &self.session else { return };
        let (volumes, sources) = s.exportable();
        if volumes.is_empty() {
            self.error("nothing to export yet: wait for the synthesis to finish");
            return;
        }
        let folder = PathBuf::from(self.export_folder.trim());
        let study = s.study.clone();
        match self
            .tasks
            .export(study, volumes, sources, self.method, folder.clone())
        {
            Ok(()) => self.info(format!("exporting to {}...", folder.display())),
            Err(why) => self.error(why),
        }
    }

    fn save_as(&mut self, seq: Sequence) -> Option<&'static str> {
        let s = self.session.as_ref()?;
        let (volumes, sources) = s.exportable();
        let volume = volumes.into_iter().find(|v| v.0 == seq)?;
        let folder = PathBuf::from(self.export_folder.trim());
        self.tasks
            .save_as(s.study.clone(), volume, sources, self.method, folder)
            .err()
    }

    /// A screenshot into the export folder; its name says "synthetic" whenever a
    /// synthesized panel is on screen.
    fn screenshot(&mut self) -> Option<&'static str> {
        let s = self.session.as_ref()?;
        let synthetic = s.set().sequences().iter().any(|q| s.is_synthetic_shown(*q));
        let name = format!(
            "{}_{}{:03}_view{}.png",
            s.study.subject,
            s.plane().name(),
            s.slice(),
            if synthetic { "_synthetic" } else { "" }
        );
        let path = PathBuf::from(self.export_folder.trim()).join(name);
        self.tasks.screenshot(path).err()
    }

    /// Beside a `--screenshot` PNG, `<png>.panels.json`: where each panel is in the image
    /// (pixels) and whether it shows a synthesized volume, so that a check can look at each
    /// panel on its own (CI requires brain signal in each and the SYNTHETIC border on the
    /// synthesized one).
    pub(super) fn write_panel_map(&self, png: &Path, pixels_per_point: f32) {
        let sequences = self.session.as_ref().map(|s| s.set().sequences());
        let panels: Vec<serde_json::Value> = sequences
            .iter()
            .flatten()
            .filter_map(|&seq| {
                let r = self.panels.rect(seq)?;
                let px = |v: f32| (v * pixels_per_point).round();
                Some(serde_json::json!({
                    "sequence": seq.name(),
                    "synthetic": self.session.as_ref().is_some_and(|s| s.is_synthetic_shown(seq)),
                    "rect": [px(r.min.x), px(r.min.y), px(r.max.x), px(r.max.y)],
                }))
            })
            .collect();
        let mut name = png.as_os_str().to_owned();
        name.push(".panels.json");
        let json = serde_json::json!({ "panels": panels }).to_string();
        if let Err(e) = crate::io::write_atomic(Path::new(&name), json.as_bytes()) {
            log::warn!("panel map not written: {e}");
        }
    }

    /// O turns the overlay off and back on.
    fn toggle_overlay(&mut self) {
        let current = self.settings.difference;
        if current.is_overlay() {
            self.last_overlay = current;
            self.settings.difference = Difference::Off;
        } else {
            self.settings.difference = self.last_overlay;
        }
    }
}
