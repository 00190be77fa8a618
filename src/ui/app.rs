//! The viewer's state model and its egui drawing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use eframe::egui::{self, Color32, Rect, Sense, Stroke, TextureHandle, TextureOptions, Vec2};
use ndarray::{Array2, Array3, ArrayView2, Axis};

use super::render::{diverging, window_level};
use crate::engine::{BackendChoice, Request, Response, SynthesisWorker, Synthesizer};
use crate::io::{export_synthetic, ExportRequest, Sequence, Study};
use crate::metrics::{paper_slice, row_major, Quality};
use crate::model::Scenario;

/// How the viewer starts.
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    pub study: Option<PathBuf>,
    pub weights: PathBuf,
    pub backend: BackendChoice,
    /// Close after this many frames (smoke tests and screenshots).
    pub frames: Option<u64>,
    /// Sequences to mark missing at start.
    pub missing: Vec<Sequence>,
}

/// What is kept between runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Settings {
    recent: Vec<String>,
    radiological: bool,
    show_difference: bool,
    difference_opacity: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recent: Vec::new(),
            radiological: true,
            show_difference: false,
            difference_opacity: 0.6,
        }
    }
}

/// A synthesized sequence as it arrives: slices fill in until the whole volume is done.
struct SynthVolume {
    data: Array3<f32>,
    have: Vec<bool>,
    window: (f32, f32),
}

/// Cached panel texture and what it shows.
struct PanelTexture {
    key: (usize, u64, bool, bool),
    handle: TextureHandle,
}

/// A panel's slice metrics and the (slice, version) they were computed for.
type CachedQuality = ((usize, u64), Option<Quality>);

/// Background jobs that are not synthesis (dialogs, export, study loading).
enum Chore {
    Opened(Result<Box<Study>, String>),
    Exported(Result<Vec<PathBuf>, String>),
    PickedFolder(Option<PathBuf>),
}

pub struct ViewerApp {
    options: ViewerOptions,
    settings: Settings,
    study: Option<Arc<Study>>,
    z: usize,
    /// Marked missing by the user (absent sequences are always missing).
    marked: [bool; 4],
    synth: [Option<SynthVolume>; 4],
    /// Bumped whenever a panel's content changes, so its texture is rebuilt.
    version: [u64; 4],
    generation: u64,
    progress: Option<(usize, usize)>,
    worker: SynthesisWorker,
    device: String,
    message: Option<(String, bool)>,
    textures: [Option<PanelTexture>; 4],
    chores_tx: Sender<Chore>,
    chores_rx: Receiver<Chore>,
    export_path: String,
    frames: u64,
    /// Time spent in `ui()` per frame (ms), and whether synthesis was running meanwhile.
    frame_times: Vec<(f32, bool)>,
    /// Slice metrics per panel, keyed like the textures: SSIM is too slow to redo per frame.
    qualities: [Option<CachedQuality>; 4],
}

impl ViewerApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: ViewerOptions) -> ViewerApp {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let weights = options.weights.clone();
        let backend = options.backend;
        let worker = SynthesisWorker::spawn(
            move || Synthesizer::load(&weights, backend),
            move || ctx.request_repaint(),
        );
        let (chores_tx, chores_rx) = crossbeam_channel::unbounded();
        let mut app = ViewerApp {
            settings,
            study: None,
            z: 0,
            marked: [false; 4],
            synth: Default::default(),
            version: [0; 4],
            generation: 0,
            progress: None,
            worker,
            device: "loading the model...".into(),
            message: None,
            textures: Default::default(),
            chores_tx,
            chores_rx,
            export_path: String::new(),
            frames: 0,
            frame_times: Vec::new(),
            qualities: Default::default(),
            options,
        };
        if let Some(path) = app.options.study.clone() {
            app.open_in_background(path, &cc.egui_ctx);
        }
        app
    }

    fn open_in_background(&mut self, path: PathBuf, ctx: &egui::Context) {
        self.message = Some((format!("opening {}...", path.display()), false));
        let tx = self.chores_tx.clone();
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let result = Study::open(&path).map(Box::new).map_err(|e| e.to_string());
            let _ = tx.send(Chore::Opened(result));
            ctx.request_repaint();
        });
    }

    fn set_study(&mut self, study: Study) {
        let path = study.files.folder.clone().map(|p| p.display().to_string());
        self.z = study.grid.dims[2] / 2;
        self.export_path = study
            .files
            .folder
            .as_ref()
            .map(|f| f.join("synthetic").display().to_string())
            .unwrap_or_default();
        self.study = Some(Arc::new(study));
        self.marked = [false; 4];
        for s in &self.options.missing {
            self.marked[s.index()] = true;
        }
        self.clear_synthesis();
        if let Some(p) = path {
            self.settings.recent.retain(|r| *r != p);
            self.settings.recent.insert(0, p);
            self.settings.recent.truncate(8);
        }
        self.message = None;
        self.request_synthesis();
    }

    fn clear_synthesis(&mut self) {
        self.synth = Default::default();
        self.progress = None;
        for v in &mut self.version {
            *v += 1;
        }
    }

    /// The sequences the model must synthesize: absent ones and those marked missing.
    fn missing(&self) -> Vec<Sequence> {
        let Some(study) = &self.study else {
            return Vec::new();
        };
        Sequence::ALL
            .into_iter()
            .filter(|s| !study.has(*s) || self.marked[s.index()])
            .collect()
    }

    fn request_synthesis(&mut self) {
        self.clear_synthesis();
        let Some(study) = self.study.clone() else {
            return;
        };
        self.generation += 1;
        let missing = self.missing();
        if missing.is_empty() {
            self.worker.send(Request::Cancel);
            return;
        }
        match Scenario::with_missing(&missing) {
            Ok(scenario) => self.worker.send(Request::Synthesize {
                generation: self.generation,
                study,
                scenario,
                focus: self.z,
            }),
            Err(e) => self.message = Some((e.to_string(), true)),
        }
    }

    fn set_slice(&mut self, z: usize) {
        let Some(study) = &self.study else { return };
        let z = z.min(study.grid.dims[2].saturating_sub(1));
        if z != self.z {
            self.z = z;
            self.worker.send(Request::Focus {
                generation: self.generation,
                z,
            });
        }
    }

    /// Drain the worker's and the chores' messages (once per frame, never blocking).
    fn drain(&mut self) {
        while let Some(r) = self.worker.try_recv() {
            match r {
                Response::Ready { device } => self.device = device,
                Response::Started {
                    generation, total, ..
                } if generation == self.generation => {
                    self.progress = Some((0, total));
                }
                Response::Slice {
                    generation,
                    z,
                    slices,
                } if generation == self.generation => {
                    for (seq, slice) in slices {
                        self.put_slice(seq, z, slice);
                    }
                }
                Response::Progress {
                    generation,
                    done,
                    total,
                } if generation == self.generation => {
                    self.progress = Some((done, total));
                }
                Response::Done {
                    generation,
                    volumes,
                } if generation == self.generation => {
                    for v in volumes {
                        let window = crate::io::display_window(v.data.view());
                        let depth = v.data.shape()[2];
                        self.synth[v.sequence.index()] = Some(SynthVolume {
                            data: v.data,
                            have: vec![true; depth],
                            window,
                        });
                        self.version[v.sequence.index()] += 1;
                    }
                    self.progress = None;
                }
                Response::Failed {
                    generation,
                    message,
                } if generation == self.generation || generation == 0 => {
                    self.progress = None;
                    self.message = Some((format!("synthesis failed: {message}"), true));
                }
                _ => {}
            }
        }
        while let Ok(chore) = self.chores_rx.try_recv() {
            match chore {
                Chore::Opened(Ok(study)) => self.set_study(*study),
                Chore::Opened(Err(e)) => self.message = Some((e, true)),
                Chore::Exported(Ok(paths)) => {
                    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                    self.message = Some((format!("exported {}", names.join(", ")), false));
                }
                Chore::Exported(Err(e)) => self.message = Some((format!("export failed: {e}"), true)),
                Chore::PickedFolder(Some(p)) => self.export_path = p.display().to_string(),
                Chore::PickedFolder(None) => {
                    self.message = Some((
                        "no folder chosen (or no file dialog available here): type the export folder below and press Export".into(),
                        false,
                    ))
                }
            }
        }
    }

    fn put_slice(&mut self, seq: Sequence, z: usize, slice: Array2<f32>) {
        let Some(study) = &self.study else { return };
        let [nx, ny, nz] = study.grid.dims;
        let entry = self.synth[seq.index()].get_or_insert_with(|| SynthVolume {
            data: Array3::zeros(ndarray::ShapeBuilder::f((nx, ny, nz))),
            have: vec![false; nz],
            // Until the volume is done, window on the first slice that arrives.
            window: window_of_slice(slice.view()),
        });
        entry.data.index_axis_mut(Axis(2), z).assign(&slice);
        entry.have[z] = true;
        if z == self.z {
            self.version[seq.index()] += 1;
        }
    }

    fn export(&mut self, ctx: &egui::Context) {
        let Some(study) = self.study.clone() else {
            return;
        };
        let done: Vec<(Sequence, Array3<f32>)> = self
            .missing()
            .into_iter()
            .filter_map(|s| {
                self.synth[s.index()]
                    .as_ref()
                    .filter(|v| v.have.iter().all(|h| *h))
                    .map(|v| (s, v.data.clone()))
            })
            .collect();
        if done.is_empty() {
            self.message = Some((
                "nothing to export yet: wait for the synthesis to finish".into(),
                true,
            ));
            return;
        }
        let folder = PathBuf::from(self.export_path.trim());
        let sources: Vec<Sequence> = Sequence::ALL
            .into_iter()
            .filter(|s| !done.iter().any(|d| d.0 == *s) && study.has(*s))
            .collect();
        let tx = self.chores_tx.clone();
        let ctx = ctx.clone();
        self.message = Some((format!("exporting to {}...", folder.display()), false));
        std::thread::spawn(move || {
            let result = (|| {
                std::fs::create_dir_all(&folder)
                    .map_err(|e| format!("{}: {e}", folder.display()))?;
                done.iter()
                    .map(|(seq, data)| {
                        export_synthetic(
                            &study,
                            ExportRequest {
                                sequence: *seq,
                                data: data.view(),
                                sources: &sources,
                            },
                            &folder,
                        )
                        .map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()
            })();
            let _ = tx.send(Chore::Exported(result));
            ctx.request_repaint();
        });
    }

    fn pick_folder(&self, ctx: &egui::Context, open: bool) {
        let tx = self.chores_tx.clone();
        let ctx = ctx.clone();
        // rfd blocks until the dialog closes: never on the UI thread.
        std::thread::spawn(move || {
            let folder = rfd::FileDialog::new().pick_folder();
            let _ = tx.send(if open {
                match folder {
                    Some(f) => {
                        Chore::Opened(Study::open(&f).map(Box::new).map_err(|e| e.to_string()))
                    }
                    None => Chore::PickedFolder(None),
                }
            } else {
                Chore::PickedFolder(folder)
            });
            ctx.request_repaint();
        });
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open study folder...").clicked() {
                    self.pick_folder(ui.ctx(), true);
                }
                let recent = self.settings.recent.clone();
                if !recent.is_empty() {
                    ui.separator();
                    for r in recent {
                        if ui.button(&r).clicked() {
                            self.open_in_background(PathBuf::from(r), ui.ctx());
                        }
                    }
                }
                ui.separator();
                if ui.button("Choose export folder...").clicked() {
                    self.pick_folder(ui.ctx(), false);
                }
            });
            ui.menu_button("View", |ui| {
                ui.checkbox(
                    &mut self.settings.radiological,
                    "Radiological (patient's right on the left)",
                );
                ui.checkbox(
                    &mut self.settings.show_difference,
                    "Difference to ground truth",
                );
            });
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(study) = &self.study {
                let depth = study.grid.dims[2];
                let mut z = self.z;
                ui.label(&study.subject);
                if ui
                    .add(egui::Slider::new(&mut z, 0..=depth.saturating_sub(1)).text("axial slice"))
                    .changed()
                {
                    self.set_slice(z);
                }
            }
            ui.checkbox(
                &mut self.settings.show_difference,
                "Difference to ground truth",
            );
            if let Some((done, total)) = self.progress {
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .desired_width(200.0)
                        .text(format!("synthesizing {done}/{total}")),
                );
            }
            ui.label(egui::RichText::new(&self.device).weak());
        });
        ui.horizontal(|ui| {
            let label = ui.label("Export folder:");
            ui.text_edit_singleline(&mut self.export_path)
                .labelled_by(label.id);
            if ui.button("Export synthesized").clicked() {
                self.export(ui.ctx());
            }
            if let Some((m, error)) = &self.message {
                ui.colored_label(
                    if *error {
                        Color32::LIGHT_RED
                    } else {
                        Color32::LIGHT_GRAY
                    },
                    m,
                );
            }
        });
    }

    fn panel_ui(&mut self, ui: &mut egui::Ui, seq: Sequence, size: Vec2) {
        let Some(study) = self.study.clone() else {
            return;
        };
        let present = study.has(seq);
        let missing = !present || self.marked[seq.index()];
        let synthetic = missing
            && self.synth[seq.index()]
                .as_ref()
                .is_some_and(|v| v.have[self.z]);
        ui.horizontal(|ui| {
            let mut marked = missing;
            let toggle = ui.add_enabled(
                present,
                egui::Checkbox::new(&mut marked, format!("{} missing", seq.name())),
            );
            if toggle.changed() {
                self.marked[seq.index()] = marked;
                self.request_synthesis();
            }
            if !present {
                ui.label(egui::RichText::new("absent from the study").weak());
            }
            if synthetic {
                ui.label(
                    egui::RichText::new(" SYNTHETIC ")
                        .strong()
                        .color(Color32::BLACK)
                        .background_color(Color32::from_rgb(255, 170, 0)),
                );
            }
        });
        let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll.abs() > 0.5 {
                let z = if scroll > 0.0 {
                    self.z + 1
                } else {
                    self.z.saturating_sub(1)
                };
                self.set_slice(z);
            }
        }
        let show_diff = self.settings.show_difference && synthetic && present;
        let key = (
            self.z,
            self.version[seq.index()],
            self.settings.radiological,
            show_diff,
        );
        let needs = self.textures[seq.index()]
            .as_ref()
            .is_none_or(|t| t.key != key);
        if needs {
            let image = if missing {
                match self.synth[seq.index()].as_ref().filter(|v| v.have[self.z]) {
                    Some(v) if show_diff => {
                        let truth = study
                            .volume(seq)
                            .expect("present")
                            .data
                            .index_axis(Axis(2), self.z);
                        let ours = v.data.index_axis(Axis(2), self.z);
                        let (tn, on) = (normalised(truth), normalised(ours));
                        Some(diverging(
                            on.view(),
                            tn.view(),
                            1.0,
                            self.settings.radiological,
                        ))
                    }
                    Some(v) => Some(window_level(
                        v.data.index_axis(Axis(2), self.z),
                        v.window,
                        self.settings.radiological,
                    )),
                    None => None,
                }
            } else {
                let v = study.volume(seq).expect("present");
                Some(window_level(
                    v.data.index_axis(Axis(2), self.z),
                    v.stats.window,
                    self.settings.radiological,
                ))
            };
            self.textures[seq.index()] = image.map(|img| PanelTexture {
                key,
                handle: ui.ctx().load_texture(
                    format!("panel-{}", seq.slug()),
                    img,
                    TextureOptions::LINEAR,
                ),
            });
        }
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, Color32::BLACK);
        if let Some(t) = &self.textures[seq.index()] {
            let [w, h] = t.handle.size();
            let fit = (rect.width() / w as f32).min(rect.height() / h as f32);
            let img = Rect::from_center_size(rect.center(), Vec2::new(w as f32, h as f32) * fit);
            painter.image(
                t.handle.id(),
                img,
                Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                Color32::WHITE,
            );
        } else if missing {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "synthesizing...",
                egui::FontId::proportional(16.0),
                Color32::GRAY,
            );
        }
        // Orientation letters.
        let (left, right) = if self.settings.radiological {
            ("R", "L")
        } else {
            ("L", "R")
        };
        let font = egui::FontId::proportional(14.0);
        painter.text(
            rect.left_center() + Vec2::new(6.0, 0.0),
            egui::Align2::LEFT_CENTER,
            left,
            font.clone(),
            Color32::YELLOW,
        );
        painter.text(
            rect.right_center() - Vec2::new(6.0, 0.0),
            egui::Align2::RIGHT_CENTER,
            right,
            font.clone(),
            Color32::YELLOW,
        );
        painter.text(
            rect.center_top() + Vec2::new(0.0, 4.0),
            egui::Align2::CENTER_TOP,
            "A",
            font.clone(),
            Color32::YELLOW,
        );
        painter.text(
            rect.center_bottom() - Vec2::new(0.0, 4.0),
            egui::Align2::CENTER_BOTTOM,
            "P",
            font,
            Color32::YELLOW,
        );
        if synthetic {
            painter.rect_stroke(
                rect.shrink(1.5),
                0.0,
                Stroke::new(3.0, Color32::from_rgb(255, 170, 0)),
                egui::StrokeKind::Inside,
            );
            painter.text(
                rect.left_top() + Vec2::new(8.0, 8.0),
                egui::Align2::LEFT_TOP,
                "SYNTHETIC",
                egui::FontId::proportional(18.0),
                Color32::from_rgb(255, 170, 0),
            );
            if present {
                let key = (self.z, self.version[seq.index()]);
                let q = match &self.qualities[seq.index()] {
                    Some((k, q)) if *k == key => *q,
                    _ => {
                        let q = self.slice_quality(&study, seq);
                        self.qualities[seq.index()] = Some((key, q));
                        q
                    }
                };
                if let Some(q) = q {
                    painter.text(
                        rect.left_bottom() + Vec2::new(8.0, -8.0),
                        egui::Align2::LEFT_BOTTOM,
                        format!(
                            "this slice (paper definition): PSNR {:.2} dB, SSIM {:.3}",
                            q.psnr, q.ssim
                        ),
                        egui::FontId::proportional(13.0),
                        Color32::WHITE,
                    );
                }
            }
        }
    }

    fn slice_quality(&self, study: &Study, seq: Sequence) -> Option<Quality> {
        let v = self.synth[seq.index()]
            .as_ref()
            .filter(|v| v.have[self.z])?;
        let truth = study.volume(seq)?.data.index_axis(Axis(2), self.z);
        let ours = v.data.index_axis(Axis(2), self.z);
        let (w, h) = truth.dim();
        Some(paper_slice(&row_major(ours), &row_major(truth), w, h))
    }

    fn keys(&mut self, ctx: &egui::Context) {
        let (up, down, page_up, page_down) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowUp) || i.key_pressed(egui::Key::ArrowRight),
                i.key_pressed(egui::Key::ArrowDown) || i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::PageUp),
                i.key_pressed(egui::Key::PageDown),
            )
        });
        let z = self.z;
        if up {
            self.set_slice(z + 1);
        } else if down {
            self.set_slice(z.saturating_sub(1));
        } else if page_up {
            self.set_slice(z + 10);
        } else if page_down {
            self.set_slice(z.saturating_sub(10));
        }
    }

    /// Current slice index.
    pub fn slice(&self) -> usize {
        self.z
    }

    /// Median and worst UI time per frame, overall and while synthesis was running.
    pub fn frame_report(&self) -> String {
        let stats = |busy: Option<bool>| {
            let mut v: Vec<f32> = self
                .frame_times
                .iter()
                .filter(|(_, b)| busy.is_none_or(|x| x == *b))
                .map(|(t, _)| *t)
                .collect();
            v.sort_by(f32::total_cmp);
            match v.len() {
                0 => "no frames".to_string(),
                n => format!(
                    "{n} frames, median {:.2} ms, max {:.2} ms",
                    v[n / 2],
                    v[n - 1]
                ),
            }
        };
        format!(
            "UI time per frame: all {}; while synthesizing {}",
            stats(None),
            stats(Some(true))
        )
    }

    pub fn has_study(&self) -> bool {
        self.study.is_some()
    }

    /// Whether the whole volume of `seq` has been synthesized.
    pub fn synthesized(&self, seq: Sequence) -> bool {
        self.synth[seq.index()]
            .as_ref()
            .is_some_and(|v| v.have.iter().all(|h| *h))
    }

    pub fn is_synthesizing(&self) -> bool {
        self.progress.is_some()
    }

    /// The status message, and whether it is an error.
    pub fn message(&self) -> Option<(&str, bool)> {
        self.message.as_ref().map(|(m, e)| (m.as_str(), *e))
    }

    pub fn set_export_path(&mut self, path: &Path) {
        self.export_path = path.display().to_string();
    }

    /// Whether the panel of `seq` currently shows the difference map.
    pub fn showing_difference(&self, seq: Sequence) -> bool {
        self.textures[seq.index()].as_ref().is_some_and(|t| t.key.3)
    }
}

/// Divide a slice by its mean over non-zero voxels, so that a synthesized and an acquired
/// slice in different intensity scales can be compared.
fn normalised(s: ArrayView2<f32>) -> Array2<f32> {
    let (sum, n) = s
        .iter()
        .filter(|v| **v > 0.0)
        .fold((0f64, 0usize), |(a, n), v| (a + f64::from(*v), n + 1));
    let mean = if n > 0 { (sum / n as f64) as f32 } else { 1.0 };
    s.mapv(|v| v / mean)
}

fn window_of_slice(s: ArrayView2<f32>) -> (f32, f32) {
    let owned = s.to_owned().insert_axis(Axis(2));
    crate::io::display_window(owned.view())
}

impl eframe::App for ViewerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = std::time::Instant::now();
        self.drain();
        self.keys(ui.ctx());
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if self.study.is_none() {
                ui.centered_and_justified(|ui| {
                    ui.label(
                        self.message
                            .as_ref()
                            .map(|m| m.0.clone())
                            .unwrap_or_else(|| "File > Open study folder...".into()),
                    );
                });
                return;
            }
            let avail = ui.available_size();
            let size = Vec2::new(
                (avail.x / 2.0 - 8.0).max(64.0),
                (avail.y / 2.0 - 30.0).max(64.0),
            );
            egui::Grid::new("panels")
                .spacing([8.0, 4.0])
                .show(ui, |ui| {
                    for (i, seq) in Sequence::ALL.into_iter().enumerate() {
                        ui.vertical(|ui| self.panel_ui(ui, seq, size));
                        if i % 2 == 1 {
                            ui.end_row();
                        }
                    }
                });
        });
        self.frames += 1;
        self.frame_times.push((
            started.elapsed().as_secs_f32() * 1e3,
            self.progress.is_some(),
        ));
        if let Some(n) = self.options.frames {
            if self.frames == n {
                eprintln!("{}", self.frame_report());
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            }
            ui.ctx().request_repaint();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

/// The bundled demo study.
pub fn demo_study() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/Phantom-2026-000")
}
