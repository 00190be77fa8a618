//! The viewer's state model and its egui drawing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, TextureHandle, TextureOptions, Vec2};
use ndarray::{Array2, Array3, ArrayView2, Axis};

use super::gpu::{describe_adapter, Layer, PanelPaint, SliceGpu};
use super::render::{compose, Difference, LabelStyle, Look, SliceLayers};
use super::view::{drag_window, SliceMapping, ViewState};
use crate::engine::{BackendChoice, Request, Response, SynthesisWorker, Synthesizer};
use crate::io::{export_synthetic, ExportRequest, Sequence, Study, StudyFiles};
use crate::metrics::{paper_slice, row_major, Quality, RegionQuality};
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
    /// With `frames`: save a screenshot of the window here (PNG) at that frame, and close
    /// once it is written (CI's check of the real window).
    pub screenshot: Option<PathBuf>,
}

/// A user-set window per sequence (`None`: automatic).
type Windows = [Option<(f32, f32)>; 4];

/// What is kept between runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Settings {
    recent: Vec<String>,
    radiological: bool,
    difference: Difference,
    difference_opacity: f32,
    labels: LabelStyle,
    label_opacity: f32,
    view: ViewState,
    /// The last window/level of each recent study (by folder).
    windows: Vec<(String, Windows)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recent: Vec::new(),
            radiological: true,
            difference: Difference::Off,
            difference_opacity: 0.7,
            labels: LabelStyle::Off,
            label_opacity: 0.5,
            view: ViewState::default(),
            windows: Vec::new(),
        }
    }
}

const SYNTHETIC_COLOUR: Color32 = Color32::from_rgb(255, 170, 0);
/// Shown on a synthesized T1c panel.
pub const T1C_NOTE: &str = "enhancement inferred, not observed";
const CROSSHAIR_COLOUR: Color32 = Color32::from_rgb(0, 220, 120);

/// A synthesized sequence as it arrives: slices fill in until the whole volume is done.
struct SynthVolume {
    /// Shared with the threads that analyse and export it.
    data: Arc<Array3<f32>>,
    have: Vec<bool>,
    window: (f32, f32),
}

/// The voxels one drawn slice needs, row-major, and the key of their content.
struct SlotData {
    key: u64,
    dims: [usize; 2],
    base: Arc<Vec<f32>>,
    truth: Option<Arc<Vec<f32>>>,
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

/// What a file dialog is for.
#[derive(Debug, Clone, Copy)]
enum Pick {
    StudyFolder,
    StudyFiles,
    ExportFolder { export: bool },
}

/// A panel's slice metrics and the (slice, version) they were computed for.
type CachedQuality = ((usize, u64), Option<Quality>);

/// Background jobs that are not synthesis (dialogs, export, loading, metrics).
enum Chore {
    Opened(Result<Box<Study>, String>),
    Exported(Result<Vec<PathBuf>, String>),
    /// The export folder chosen in a dialog (`None`: cancelled or no dialog), and whether
    /// to export into it right away.
    PickedFolder(Option<PathBuf>, bool),
    SliceQuality {
        sequence: Sequence,
        key: (usize, u64),
        quality: Quality,
    },
    SynthWindow {
        generation: u64,
        sequence: Sequence,
        window: (f32, f32),
    },
    VolumeQuality {
        generation: u64,
        sequence: Sequence,
        quality: RegionQuality,
    },
    Screenshot(Result<PathBuf, String>),
}

pub struct ViewerApp {
    options: ViewerOptions,
    settings: Settings,
    study: Option<Arc<Study>>,
    z: usize,
    /// Marked missing by the user (absent sequences are always missing).
    marked: [bool; 4],
    synth: [Option<SynthVolume>; 4],
    /// Bumped whenever a panel's content changes, so its slot is rebuilt.
    version: [u64; 4],
    generation: u64,
    progress: Option<(usize, usize)>,
    worker: SynthesisWorker,
    device: String,
    /// Which renderer draws the slices (shown in the status bar).
    renderer: String,
    gpu: bool,
    message: Option<(String, bool)>,
    /// Two slots per panel: the slice, and the ground truth when side by side.
    slots: [Option<Slot>; 8],
    windows: Windows,
    crosshair: Option<[usize; 2]>,
    panel_rects: [Option<Rect>; 4],
    chores_tx: Sender<Chore>,
    chores_rx: Receiver<Chore>,
    export_path: String,
    frames: u64,
    /// Time spent in `ui()` per frame (ms), and whether synthesis was running meanwhile.
    frame_times: Vec<(f32, bool)>,
    /// Slice metrics per panel, keyed by (slice, version): SSIM is too slow per frame.
    qualities: [Option<CachedQuality>; 4],
    /// Whole-volume metrics (challenge definition), computed off the UI thread.
    volume_qualities: [Option<RegionQuality>; 4],
    /// When the current synthesis was requested, and how long its first slice on screen
    /// took (the latency a user sees after ticking "missing").
    requested: Option<std::time::Instant>,
    first_slice_ms: Vec<f32>,
}

impl ViewerApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: ViewerOptions) -> ViewerApp {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let (gpu, renderer) = match &cc.wgpu_render_state {
            Some(rs) => {
                let slices = SliceGpu::new(&rs.device, rs.target_format);
                rs.renderer.write().callback_resources.insert(slices);
                (true, describe_adapter(&rs.adapter.get_info()))
            }
            None => (false, "CPU (egui textures)".to_string()),
        };
        log::info!("slices drawn by {renderer}");
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
            renderer,
            gpu,
            message: None,
            slots: Default::default(),
            windows: [None; 4],
            crosshair: None,
            panel_rects: [None; 4],
            chores_tx,
            chores_rx,
            export_path: String::new(),
            frames: 0,
            frame_times: Vec::new(),
            qualities: Default::default(),
            volume_qualities: Default::default(),
            requested: None,
            first_slice_ms: Vec::new(),
            options,
        };
        if let Some(path) = app.options.study.clone() {
            app.open_in_background(path, &cc.egui_ctx);
        }
        app
    }

    fn open_in_background(&mut self, path: PathBuf, ctx: &egui::Context) {
        self.open_files_in_background(vec![path], ctx);
    }

    /// Open a study folder, or a set of NIfTI files (roles from their names).
    fn open_files_in_background(&mut self, paths: Vec<PathBuf>, ctx: &egui::Context) {
        let what = match paths.as_slice() {
            [one] => one.display().to_string(),
            many => format!("{} files", many.len()),
        };
        self.message = Some((format!("opening {what}..."), false));
        let tx = self.chores_tx.clone();
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let result = match paths.as_slice() {
                [folder] if folder.is_dir() => Study::open(folder),
                files => StudyFiles::from_paths(files).and_then(Study::open_files),
            };
            let _ = tx.send(Chore::Opened(
                result.map(Box::new).map_err(|e| e.to_string()),
            ));
            ctx.request_repaint();
        });
    }

    fn study_key(study: &Study) -> Option<String> {
        study.files.folder.as_ref().map(|p| p.display().to_string())
    }

    /// Keep the current study's window/level choices in the settings.
    fn remember_windows(&mut self) {
        let Some(key) = self.study.as_deref().and_then(Self::study_key) else {
            return;
        };
        self.settings.windows.retain(|(k, _)| *k != key);
        if self.windows.iter().any(Option::is_some) {
            self.settings.windows.insert(0, (key, self.windows));
            self.settings.windows.truncate(8);
        }
    }

    fn set_study(&mut self, study: Study) {
        self.remember_windows();
        let key = Self::study_key(&study);
        self.z = study.grid.dims[2] / 2;
        // Exports go beside the study, except for the bundled demo (in the cache): there,
        // into ./mmgan-exports.
        let demo =
            study.files.folder.is_some() && study.files.folder == crate::shipped::demo_study().ok();
        self.export_path = match &study.files.folder {
            Some(f) if !demo => f.join("synthetic").display().to_string(),
            _ => "mmgan-exports".into(),
        };
        self.windows = key
            .as_ref()
            .and_then(|k| self.settings.windows.iter().find(|(s, _)| s == k))
            .map(|(_, w)| *w)
            .unwrap_or_default();
        self.crosshair = None;
        self.study = Some(Arc::new(study));
        self.marked = [false; 4];
        for s in &self.options.missing {
            self.marked[s.index()] = true;
        }
        if let Some(p) = key {
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
        self.volume_qualities = Default::default();
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
        self.requested = Some(std::time::Instant::now());
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

    /// Show axial slice `z` (clamped), as scrubbing does.
    pub fn set_slice(&mut self, z: usize) {
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
    fn drain(&mut self, ctx: &egui::Context) {
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
                    if z == self.z {
                        if let Some(t) = self.requested.take() {
                            self.first_slice_ms.push(t.elapsed().as_secs_f32() * 1e3);
                        }
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
                        let depth = v.data.shape()[2];
                        let i = v.sequence.index();
                        // Keep the first slice's window until the volume's is computed.
                        let window = self.synth[i].as_ref().map_or((0.0, 1.0), |s| s.window);
                        self.synth[i] = Some(SynthVolume {
                            data: Arc::new(v.data),
                            have: vec![true; depth],
                            window,
                        });
                        self.version[i] += 1;
                        self.analyse_volume(v.sequence, ctx);
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
                    let names: Vec<String> =
                        paths.iter().map(|p| p.display().to_string()).collect();
                    self.message = Some((format!("exported {}", names.join(", ")), false));
                }
                Chore::Exported(Err(e)) => {
                    self.message = Some((format!("export failed: {e}"), true))
                }
                Chore::PickedFolder(Some(p), export) => {
                    self.export_path = p.display().to_string();
                    if export {
                        self.export(ctx);
                    }
                }
                Chore::PickedFolder(None, _) => {
                    self.message = Some((
                        "nothing chosen (or no file dialog available on this desktop): type the export folder in the status bar and press Export synthesized".into(),
                        false,
                    ))
                }
                Chore::VolumeQuality {
                    generation,
                    sequence,
                    quality,
                } if generation == self.generation => {
                    self.volume_qualities[sequence.index()] = Some(quality);
                }
                Chore::SliceQuality {
                    sequence,
                    key,
                    quality,
                } => {
                    let slot = &mut self.qualities[sequence.index()];
                    if slot.as_ref().is_some_and(|(k, _)| *k == key) {
                        *slot = Some((key, Some(quality)));
                    }
                }
                Chore::SynthWindow {
                    generation,
                    sequence,
                    window,
                } if generation == self.generation => {
                    if let Some(v) = self.synth[sequence.index()].as_mut() {
                        v.window = window;
                    }
                }
                Chore::VolumeQuality { .. } | Chore::SynthWindow { .. } => {}
                Chore::Screenshot(result) => {
                    self.message = Some(match result {
                        Ok(p) => (format!("screenshot saved: {}", p.display()), false),
                        Err(e) => (format!("screenshot failed: {e}"), true),
                    });
                    if self.options.frames.is_some_and(|n| self.frames >= n) {
                        eprintln!("{}", self.message.as_ref().map_or("", |m| m.0.as_str()));
                        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                }
            }
        }
    }

    /// A finished synthesis, on a thread: its display window (percentiles of the whole
    /// volume, too slow for a frame), then its metrics against the ground truth when the
    /// study has it (the same definition and brain mask as `mmgan eval`).
    fn analyse_volume(&self, seq: Sequence, ctx: &egui::Context) {
        let (Some(study), Some(v)) = (self.study.clone(), self.synth[seq.index()].as_ref()) else {
            return;
        };
        let pred = v.data.clone();
        let (tx, ctx, generation) = (self.chores_tx.clone(), ctx.clone(), self.generation);
        std::thread::spawn(move || {
            let window = crate::io::display_window(pred.view());
            let _ = tx.send(Chore::SynthWindow {
                generation,
                sequence: seq,
                window,
            });
            ctx.request_repaint();
            let Some(quality) = crate::eval::volume_quality(&study, seq, pred.view()) else {
                return;
            };
            let _ = tx.send(Chore::VolumeQuality {
                generation,
                sequence: seq,
                quality,
            });
            ctx.request_repaint();
        });
    }

    fn put_slice(&mut self, seq: Sequence, z: usize, slice: Array2<f32>) {
        let Some(study) = &self.study else { return };
        let [nx, ny, nz] = study.grid.dims;
        let entry = self.synth[seq.index()].get_or_insert_with(|| SynthVolume {
            data: Arc::new(Array3::zeros(ndarray::ShapeBuilder::f((nx, ny, nz)))),
            have: vec![false; nz],
            // Until the volume is done, window on the first slice that arrives.
            window: window_of_slice(slice.view()),
        });
        Arc::make_mut(&mut entry.data)
            .index_axis_mut(Axis(2), z)
            .assign(&slice);
        entry.have[z] = true;
        if z == self.z {
            self.version[seq.index()] += 1;
        }
    }

    fn export(&mut self, ctx: &egui::Context) {
        let Some(study) = self.study.clone() else {
            return;
        };
        let done: Vec<(Sequence, Arc<Array3<f32>>)> = self
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
                let requests: Vec<ExportRequest> = done
                    .iter()
                    .map(|(seq, data)| ExportRequest {
                        sequence: *seq,
                        data: data.view(),
                        sources: &sources,
                    })
                    .collect();
                export_synthetic(&study, &requests, &folder).map_err(|e| e.to_string())
            })();
            let _ = tx.send(Chore::Exported(result));
            ctx.request_repaint();
        });
    }

    /// Run a file dialog on a thread (rfd blocks until it closes: never on the UI thread).
    fn dialog(&self, ctx: &egui::Context, pick: Pick) {
        let tx = self.chores_tx.clone();
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let chore = match pick {
                Pick::StudyFolder => match rfd::FileDialog::new().pick_folder() {
                    Some(f) => {
                        Chore::Opened(Study::open(&f).map(Box::new).map_err(|e| e.to_string()))
                    }
                    None => Chore::PickedFolder(None, false),
                },
                Pick::StudyFiles => match rfd::FileDialog::new()
                    .add_filter("NIfTI", &["nii", "gz"])
                    .pick_files()
                {
                    Some(files) => Chore::Opened(
                        StudyFiles::from_paths(&files)
                            .and_then(Study::open_files)
                            .map(Box::new)
                            .map_err(|e| e.to_string()),
                    ),
                    None => Chore::PickedFolder(None, false),
                },
                Pick::ExportFolder { export } => {
                    Chore::PickedFolder(rfd::FileDialog::new().pick_folder(), export)
                }
            };
            let _ = tx.send(chore);
            ctx.request_repaint();
        });
    }

    /// Ask for a screenshot of the window; when it arrives, write it as PNG into the export
    /// folder off the UI thread. The name says "synthetic" whenever a synthesized panel is
    /// on screen.
    fn request_screenshot(&self, ctx: &egui::Context) {
        let Some(study) = &self.study else { return };
        let synthetic = Sequence::ALL.iter().any(|s| self.is_synthetic_shown(*s));
        let name = format!(
            "{}_axial{:03}_view{}.png",
            study.subject,
            self.z,
            if synthetic { "_synthetic" } else { "" }
        );
        self.screenshot_to(PathBuf::from(self.export_path.trim()).join(name), ctx);
    }

    fn screenshot_to(&self, path: PathBuf, ctx: &egui::Context) {
        let (tx, repaint) = (self.chores_tx.clone(), ctx.clone());
        let callback = egui::ScreenshotCallback::new(move |image| {
            std::thread::spawn(move || {
                let _ = tx.send(Chore::Screenshot(
                    super::save_png(&path, &image).map(|()| path),
                ));
                repaint.request_repaint();
            });
        });
        ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(callback));
    }

    /// Beside a `--screenshot` PNG, `<png>.panels.json`: where each panel is in the
    /// image (pixels) and whether it shows a synthesized volume, so that a check can look
    /// at each panel on its own (CI requires brain signal in each and the SYNTHETIC border
    /// on the synthesized one).
    fn write_panel_map(&self, png: &std::path::Path, pixels_per_point: f32) {
        let panels: Vec<serde_json::Value> = Sequence::ALL
            .iter()
            .filter_map(|&seq| {
                let r = self.panel_rects[seq.index()]?;
                let px = |v: f32| (v * pixels_per_point).round();
                Some(serde_json::json!({
                    "sequence": seq.name(),
                    "synthetic": self.is_synthetic_shown(seq),
                    "rect": [px(r.min.x), px(r.min.y), px(r.max.x), px(r.max.y)],
                }))
            })
            .collect();
        let mut name = png.as_os_str().to_owned();
        name.push(".panels.json");
        let json = serde_json::json!({ "panels": panels }).to_string();
        if let Err(e) = crate::io::write_atomic(std::path::Path::new(&name), json.as_bytes()) {
            log::warn!("panel map not written: {e}");
        }
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open study folder...").clicked() {
                    self.dialog(ui.ctx(), Pick::StudyFolder);
                }
                if ui.button("Open study files...").clicked() {
                    self.dialog(ui.ctx(), Pick::StudyFiles);
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
                if ui.button("Export synthesized...").clicked() {
                    self.dialog(ui.ctx(), Pick::ExportFolder { export: true });
                }
                if ui.button("Choose export folder...").clicked() {
                    self.dialog(ui.ctx(), Pick::ExportFolder { export: false });
                }
                if ui.button("Save screenshot (PNG)").clicked() {
                    self.request_screenshot(ui.ctx());
                }
            });
            ui.menu_button("View", |ui| {
                ui.checkbox(
                    &mut self.settings.radiological,
                    "Radiological (patient's right on the left)",
                );
                if ui.button("Reset zoom and pan").clicked() {
                    self.settings.view = ViewState::default();
                }
                if ui.button("Reset window/level").clicked() {
                    self.windows = [None; 4];
                }
                ui.separator();
                ui.label("Tumour labels");
                ui.radio_value(&mut self.settings.labels, LabelStyle::Off, "Off");
                ui.radio_value(&mut self.settings.labels, LabelStyle::Outline, "Outline");
                ui.radio_value(&mut self.settings.labels, LabelStyle::Filled, "Filled");
                ui.add(
                    egui::Slider::new(&mut self.settings.label_opacity, 0.0..=1.0)
                        .text("label opacity"),
                );
            });
        });
    }

    /// The status bar's crosshair line: the voxel and every sequence's value there, each
    /// labelled.
    pub fn crosshair_status(&self) -> Option<String> {
        let (study, [x, y]) = (self.study.as_ref()?, self.crosshair?);
        let z = self.z;
        let a = study.grid.affine;
        let world: Vec<f64> = (0..3)
            .map(|r| a[r][0] * x as f64 + a[r][1] * y as f64 + a[r][2] * z as f64 + a[r][3])
            .collect();
        let mut text = format!(
            "voxel ({x}, {y}, {z})  RAS ({:.1}, {:.1}, {:.1}) mm:",
            world[0], world[1], world[2]
        );
        for seq in Sequence::ALL {
            let truth = study.volume(seq).map(|v| v.data[[x, y, z]]);
            let synth = self.synth[seq.index()]
                .as_ref()
                .filter(|v| v.have[z])
                .map(|v| v.data[[x, y, z]]);
            let value = if self.marked[seq.index()] || truth.is_none() {
                match (synth, truth) {
                    (Some(s), Some(t)) => format!("{s:.1} synthetic (acquired {t:.1})"),
                    (Some(s), None) => format!("{s:.1} synthetic"),
                    (None, _) => "pending".into(),
                }
            } else {
                format!("{:.1}", truth.unwrap_or_default())
            };
            text.push_str(&format!("  {} {value}", seq.name()));
        }
        if let Some(l) = &study.label {
            text.push_str(&format!("  label {}", l.data[[x, y, z]]));
        }
        Some(text)
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
            if let Some((done, total)) = self.progress {
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .desired_width(200.0)
                        .text(format!("synthesizing {done}/{total}")),
                );
            }
            ui.label(
                egui::RichText::new(format!(
                    "model: {}  |  slices: {}",
                    self.device, self.renderer
                ))
                .weak(),
            );
        });
        ui.horizontal(|ui| {
            ui.label("Compare with ground truth:");
            let d = &mut self.settings.difference;
            ui.selectable_value(d, Difference::Off, "Off");
            ui.selectable_value(d, Difference::Signed, "Signed difference");
            ui.selectable_value(d, Difference::Absolute, "Absolute error");
            ui.selectable_value(d, Difference::SideBySide, "Side by side");
            ui.add_enabled(
                matches!(*d, Difference::Signed | Difference::Absolute),
                egui::Slider::new(&mut self.settings.difference_opacity, 0.0..=1.0)
                    .text("overlay opacity"),
            );
        });
        ui.horizontal(|ui| {
            let text = self
                .crosshair_status()
                .unwrap_or_else(|| "click a panel to place the crosshair".into());
            ui.label(egui::RichText::new(text).monospace());
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

    /// Whether the panel of `seq` shows a synthesized slice at the current position.
    fn is_synthetic_shown(&self, seq: Sequence) -> bool {
        let Some(study) = &self.study else {
            return false;
        };
        (!study.has(seq) || self.marked[seq.index()])
            && self.synth[seq.index()]
                .as_ref()
                .is_some_and(|v| v.have.get(self.z).copied().unwrap_or(false))
    }

    /// The window the panel of `seq` uses: the user's, else the automatic one.
    fn window_of(&self, study: &Study, seq: Sequence, truth_half: bool) -> (f32, f32) {
        self.windows[seq.index()].unwrap_or_else(|| self.auto_window(study, seq, truth_half))
    }

    /// The automatic window of what the panel (or its ground-truth half) shows.
    fn auto_window(&self, study: &Study, seq: Sequence, truth_half: bool) -> (f32, f32) {
        let auto = if !truth_half && self.is_synthetic_shown(seq) {
            self.synth[seq.index()].as_ref().map(|v| v.window)
        } else {
            study.volume(seq).map(|v| v.stats.window)
        };
        auto.unwrap_or((0.0, 1.0))
    }

    /// Rebuild slot `slot` if what it shows changed (new slice, volume or overlay set).
    fn refresh_slot(&mut self, study: &Study, seq: Sequence, truth_half: bool, slot: usize) {
        let synthetic = !truth_half && self.is_synthetic_shown(seq);
        let present = study.has(seq);
        let with_truth = synthetic && present && self.settings.difference != Difference::Off;
        let with_label = self.settings.labels != LabelStyle::Off && study.label.is_some();
        let key = content_key(&[
            self.z as u64,
            self.version[seq.index()],
            u64::from(synthetic),
            u64::from(truth_half),
            u64::from(with_truth),
            u64::from(with_label),
        ]);
        if self.slots[slot].as_ref().is_some_and(|s| s.data.key == key) {
            return;
        }
        let z = self.z;
        let base = if synthetic {
            self.synth[seq.index()]
                .as_ref()
                .map(|v| v.data.index_axis(Axis(2), z))
        } else if present && (truth_half || !self.marked[seq.index()]) {
            study.volume(seq).map(|v| v.data.index_axis(Axis(2), z))
        } else {
            None
        };
        let Some(base) = base else {
            self.slots[slot] = None;
            return;
        };
        let (nx, ny) = base.dim();
        let truth = with_truth
            .then(|| study.volume(seq).map(|v| v.data.index_axis(Axis(2), z)))
            .flatten();
        let label = with_label
            .then(|| study.label.as_ref().map(|l| l.data.index_axis(Axis(2), z)))
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
                label: label.map(|l| Arc::new(row_major(l))),
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

    fn panel_ui(&mut self, ui: &mut egui::Ui, seq: Sequence, size: Vec2) {
        let Some(study) = self.study.clone() else {
            return;
        };
        let present = study.has(seq);
        let missing = !present || self.marked[seq.index()];
        let synthetic = self.is_synthetic_shown(seq);
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
                        .background_color(SYNTHETIC_COLOUR),
                );
            }
            if self.windows[seq.index()].is_some() && ui.small_button("auto W/L").clicked() {
                self.windows[seq.index()] = None;
            }
        });
        let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
        self.panel_rects[seq.index()] = Some(rect);
        let side_by_side =
            synthetic && present && self.settings.difference == Difference::SideBySide;
        let halves: Vec<(Rect, bool)> = if side_by_side {
            let (l, r) = rect.split_left_right_at_fraction(0.5);
            vec![(l.shrink(1.0), false), (r.shrink(1.0), true)]
        } else {
            vec![(rect, false)]
        };
        let [nx, ny, _] = study.grid.dims;
        let vs = study.grid.voxel_size();
        let extent = Vec2::new((nx as f64 * vs[0]) as f32, (ny as f64 * vs[1]) as f32);
        let mappings: Vec<(Rect, SliceMapping, bool)> = halves
            .iter()
            .map(|&(r, truth_half)| {
                let m = SliceMapping {
                    image: self.settings.view.image_rect(r, extent),
                    dims: [nx, ny],
                    radiological: self.settings.radiological,
                };
                (r, m, truth_half)
            })
            .collect();
        self.panel_input(ui, &response, seq, &study, &mappings, extent);

        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, Color32::BLACK);
        for (i, &(r, m, truth_half)) in mappings.iter().enumerate() {
            let slot = seq.index() * 2 + i;
            self.refresh_slot(&study, seq, truth_half, slot);
            let look = Look {
                window: self.window_of(&study, seq, truth_half),
                radiological: self.settings.radiological,
                difference: if truth_half {
                    Difference::Off
                } else {
                    self.settings.difference
                },
                means: (1.0, 1.0),
                diff_scale: 1.0,
                diff_opacity: self.settings.difference_opacity,
                labels: self.settings.labels,
                label_opacity: self.settings.label_opacity,
            };
            let half_painter = painter.with_clip_rect(r.intersect(rect));
            if self.slots[slot].is_some() {
                self.draw_slot(&half_painter, slot, m.image, look);
            } else if missing {
                painter.text(
                    r.center(),
                    egui::Align2::CENTER_CENTER,
                    "synthesizing...",
                    egui::FontId::proportional(16.0),
                    Color32::GRAY,
                );
            }
            if let Some(c) = self.crosshair {
                let p = m.screen_of(c);
                let stroke = Stroke::new(1.0, CROSSHAIR_COLOUR.gamma_multiply(0.8));
                half_painter.hline(r.x_range(), p.y, stroke);
                half_painter.vline(p.x, r.y_range(), stroke);
            }
            if side_by_side {
                let (text, colour) = if truth_half {
                    ("acquired (ground truth)", Color32::WHITE)
                } else {
                    ("synthetic", SYNTHETIC_COLOUR)
                };
                caption(
                    &half_painter,
                    r.center_top() + Vec2::new(0.0, 24.0),
                    egui::Align2::CENTER_TOP,
                    text,
                    13.0,
                    colour,
                );
            }
        }
        self.orientation_letters(&painter, rect);
        if synthetic {
            self.synthetic_marks(&painter, rect, &study, seq, present);
        }
    }

    /// Mouse on a panel: wheel scrubs, Ctrl+wheel zooms (all panels), left click/drag
    /// places the crosshair, middle or Shift+left drag pans, right drag sets the window.
    fn panel_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        seq: Sequence,
        study: &Study,
        mappings: &[(Rect, SliceMapping, bool)],
        extent: Vec2,
    ) {
        let pointer = response.interact_pointer_pos().or(response.hover_pos());
        let under = pointer.and_then(|p| mappings.iter().find(|(r, ..)| r.contains(p)).copied());
        if response.hovered() {
            let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            if let (Some(p), Some((r, ..))) = (pointer, under) {
                if zoom != 1.0 {
                    self.settings.view.zoom_about(zoom, p, r, extent);
                }
            }
            if scroll.abs() > 0.5 && zoom == 1.0 {
                let z = if scroll > 0.0 {
                    self.z + 1
                } else {
                    self.z.saturating_sub(1)
                };
                self.set_slice(z);
            }
        }
        let shift = ui.input(|i| i.modifiers.shift);
        let panning = response.dragged_by(egui::PointerButton::Middle)
            || (shift && response.dragged_by(egui::PointerButton::Primary));
        if panning {
            if let Some((r, ..)) = under {
                self.settings.view.pan_by(response.drag_delta(), r, extent);
            }
        } else if response.clicked() || response.dragged_by(egui::PointerButton::Primary) {
            if let (Some(p), Some((_, m, _))) = (pointer, under) {
                if let Some(v) = m.voxel_at(p) {
                    self.crosshair = Some(v);
                }
            }
        }
        if response.dragged_by(egui::PointerButton::Secondary) {
            let current = self.window_of(study, seq, false);
            let auto = self.auto_window(study, seq, false);
            self.windows[seq.index()] = Some(drag_window(current, response.drag_delta(), auto));
        }
        if response.double_clicked() {
            self.settings.view = ViewState::default();
        }
    }

    fn orientation_letters(&self, painter: &egui::Painter, rect: Rect) {
        let (left, right) = if self.settings.radiological {
            ("R", "L")
        } else {
            ("L", "R")
        };
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
                "A",
            ),
            (
                rect.center_bottom() - Vec2::new(0.0, 4.0),
                egui::Align2::CENTER_BOTTOM,
                "P",
            ),
        ] {
            painter.text(pos, align, text, font.clone(), Color32::YELLOW);
        }
    }

    /// The synthetic border and title, and the metrics against the ground truth.
    fn synthetic_marks(
        &mut self,
        painter: &egui::Painter,
        rect: Rect,
        study: &Study,
        seq: Sequence,
        present: bool,
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
        if seq == Sequence::T1c {
            // No contrast agent was given for a synthesized T1c: whatever enhances in it
            // is the model's guess from the other sequences.
            caption(
                painter,
                rect.left_top() + Vec2::new(8.0, 30.0),
                egui::Align2::LEFT_TOP,
                T1C_NOTE,
                13.0,
                SYNTHETIC_COLOUR,
            );
        }
        if !present {
            return;
        }
        let key = (self.z, self.version[seq.index()]);
        if self.qualities[seq.index()]
            .as_ref()
            .is_none_or(|(k, _)| *k != key)
        {
            self.qualities[seq.index()] = Some((key, None));
            self.measure_slice(study, seq, key, painter.ctx());
        }
        let q = self.qualities[seq.index()].and_then(|(_, q)| q);
        let mut lines = Vec::new();
        if let Some(q) = q {
            lines.push(format!(
                "this slice (paper definition): PSNR {:.2} dB, SSIM {:.3}",
                q.psnr, q.ssim
            ));
        }
        match &self.volume_qualities[seq.index()] {
            Some(v) => lines.push(format!(
                "whole volume, in brain (challenge definition): PSNR {:.2} dB, SSIM {:.3}",
                v.brain.psnr, v.brain.ssim
            )),
            None if self.synthesized(seq) => lines.push("whole volume: measuring...".into()),
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

    /// The visible slice's metrics against its ground truth, on a thread (an SSIM is a few
    /// milliseconds: too much for a frame while scrubbing).
    fn measure_slice(&self, study: &Study, seq: Sequence, key: (usize, u64), ctx: &egui::Context) {
        let (Some(v), Some(truth)) = (
            self.synth[seq.index()].as_ref().filter(|v| v.have[self.z]),
            study.volume(seq),
        ) else {
            return;
        };
        let truth = truth.data.index_axis(Axis(2), self.z);
        let (w, h) = truth.dim();
        let (ours, truth) = (
            row_major(v.data.index_axis(Axis(2), self.z)),
            row_major(truth),
        );
        let (tx, ctx) = (self.chores_tx.clone(), ctx.clone());
        std::thread::spawn(move || {
            let _ = tx.send(Chore::SliceQuality {
                sequence: seq,
                key,
                quality: paper_slice(&ours, &truth, w, h),
            });
            ctx.request_repaint();
        });
    }

    fn keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
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

    /// Files or folders dropped on the window open as a study; a hint while hovering.
    fn dropped_files(&mut self, ctx: &egui::Context) {
        let (hovering, dropped) = ctx.input(|i| {
            (
                !i.raw.hovered_files.is_empty(),
                i.raw
                    .dropped_files
                    .iter()
                    .map(|f| f.path().to_path_buf())
                    .collect::<Vec<_>>(),
            )
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
            self.open_files_in_background(dropped, ctx);
        }
    }

    /// Current slice index.
    pub fn slice(&self) -> usize {
        self.z
    }

    /// Median and worst UI time per frame, overall and while synthesis was running, and
    /// which frame was the worst (the first ones build fonts and pipelines).
    pub fn frame_report(&self) -> String {
        let stats = |busy: Option<bool>| {
            let mut v: Vec<(f32, usize)> = self
                .frame_times
                .iter()
                .enumerate()
                .filter(|(_, (_, b))| busy.is_none_or(|x| x == *b))
                .map(|(i, (t, _))| (*t, i + 1))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            match v.len() {
                0 => "no frames".to_string(),
                n => format!(
                    "{n} frames, median {:.2} ms, max {:.2} ms (frame {})",
                    v[n / 2].0,
                    v[n - 1].0,
                    v[n - 1].1
                ),
            }
        };
        let first: Vec<String> = self
            .first_slice_ms
            .iter()
            .map(|t| format!("{t:.0} ms"))
            .collect();
        format!(
            "UI time per frame: all {}; while synthesizing {} (slices drawn by {}); first synthesized slice on screen after {}",
            stats(None),
            stats(Some(true)),
            self.renderer,
            if first.is_empty() { "-".into() } else { first.join(", ") }
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

    /// Whether the panel of `seq` currently draws the difference to its ground truth.
    pub fn showing_difference(&self, seq: Sequence) -> bool {
        self.settings.difference != Difference::Off
            && self.slots[seq.index() * 2]
                .as_ref()
                .is_some_and(|s| s.data.truth.is_some())
    }

    /// Whether the panel of `seq` shows the ground truth beside the synthesized slice.
    pub fn showing_side_by_side(&self, seq: Sequence) -> bool {
        self.settings.difference == Difference::SideBySide
            && self.slots[seq.index() * 2 + 1].is_some()
    }

    /// The crosshair's voxel (x, y) on the current slice.
    pub fn crosshair(&self) -> Option<[usize; 2]> {
        self.crosshair
    }

    /// Where the panel of `seq` was drawn last frame.
    pub fn panel_rect(&self, seq: Sequence) -> Option<Rect> {
        self.panel_rects[seq.index()]
    }

    /// Zoom factor shared by the panels.
    pub fn zoom(&self) -> f32 {
        self.settings.view.zoom
    }

    /// The user-set window of `seq` (`None`: automatic).
    pub fn user_window(&self, seq: Sequence) -> Option<(f32, f32)> {
        self.windows[seq.index()]
    }

    /// Metrics of the visible slice of the synthesized `seq`, once measured.
    pub fn slice_quality(&self, seq: Sequence) -> Option<Quality> {
        self.qualities[seq.index()]
            .filter(|(k, _)| *k == (self.z, self.version[seq.index()]))
            .and_then(|(_, q)| q)
    }

    /// Whole-volume metrics of the synthesized `seq`, once measured.
    pub fn volume_quality(&self, seq: Sequence) -> Option<RegionQuality> {
        self.volume_qualities[seq.index()]
    }

    pub fn set_labels(&mut self, style: LabelStyle) {
        self.settings.labels = style;
    }

    /// Whether the panel of `seq` has the label map to draw.
    pub fn showing_labels(&self, seq: Sequence) -> bool {
        self.settings.labels != LabelStyle::Off
            && self.slots[seq.index() * 2]
                .as_ref()
                .is_some_and(|s| s.data.label.is_some())
    }

    pub fn renderer(&self) -> &str {
        &self.renderer
    }
}

/// Text over an image, on a dark backing so it stays readable on bright tissue.
fn caption(
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

fn window_of_slice(s: ArrayView2<f32>) -> (f32, f32) {
    let owned = s.to_owned().insert_axis(Axis(2));
    crate::io::display_window(owned.view())
}

impl eframe::App for ViewerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = std::time::Instant::now();
        let ctx = ui.ctx().clone();
        self.drain(&ctx);
        self.keys(&ctx);
        self.dropped_files(&ctx);
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if self.study.is_none() {
                ui.centered_and_justified(|ui| {
                    ui.label(
                        self.message
                            .as_ref()
                            .map(|m| m.0.clone())
                            .unwrap_or_else(|| {
                                "File > Open study folder..., or drop a study folder here".into()
                            }),
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
                match self.options.screenshot.clone() {
                    Some(path) => {
                        self.write_panel_map(&path, ctx.pixels_per_point());
                        self.screenshot_to(path, &ctx);
                    }
                    None => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
                }
            }
            ctx.request_repaint();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.remember_windows();
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
