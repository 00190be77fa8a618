//! The viewer app: ties the persisted [`Settings`], the open study's [`Session`], the
//! [`Panels`], the background [`Tasks`] and the synthesis worker together. Each frame it
//! drains the worker's and the tasks' messages into the session, draws the bars and panels
//! (which only push [`Command`]s), then runs those commands (`commands`). `inspect` is
//! what tests and the command line read from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use eframe::egui;

mod commands;
mod inspect;

use super::bars::{help_window, menu_ui, self_check_ui, status_ui, Status};
use super::command::Command;
use super::gpu::{describe_adapter, SliceGpu};
use super::input;
use super::panels::Panels;
use super::render::Difference;
use super::session::Session;
use super::settings::Settings;
use super::stats::FrameStats;
use super::tasks::{Chore, Tasks};
use super::view::Plane;
use crate::engine::{BackendChoice, Request, Response, SynthesisWorker, Synthesizer};
use crate::io::{Sequence, SequenceSet, Study};

/// How the viewer starts.
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    pub study: Option<PathBuf>,
    /// Weights folders (at least one; the first is loaded at start). With several, the
    /// Model menu switches between them, so methods can be compared on one study.
    pub weights: Vec<PathBuf>,
    pub backend: BackendChoice,
    /// Close after this many frames (smoke tests and screenshots).
    pub frames: Option<u64>,
    /// Sequences to mark missing at start.
    pub missing: Vec<Sequence>,
    /// The plane shown at start.
    pub plane: Plane,
    /// The overlay at start (`None`: as last time).
    pub overlay: Option<Difference>,
    /// With `frames`: save a screenshot of the window here (PNG) at that frame, and close
    /// once it is written (CI's check of the real window).
    pub screenshot: Option<PathBuf>,
}

pub struct ViewerApp {
    options: ViewerOptions,
    settings: Settings,
    session: Option<Session>,
    panels: Panels,
    tasks: Tasks,
    worker: SynthesisWorker,
    /// Where the model runs (shown in the status bar).
    device: String,
    /// The loaded weights' method, as exported headers name it.
    method: &'static str,
    /// The loaded weights' sequences (the panels); BraTS's until the model reports.
    sequences: SequenceSet,
    /// Which of `options.weights` the worker runs.
    model: usize,
    /// How the Model menu names each of `options.weights`.
    model_labels: Vec<String>,
    /// For workers started later (their repaint requests).
    ctx: egui::Context,
    /// Which renderer draws the slices (shown in the status bar).
    renderer: String,
    message: Option<(String, bool)>,
    export_folder: String,
    stats: FrameStats,
    /// The overlay O brings back after it turned them off.
    last_overlay: Difference,
    /// A `--frames` run is ending (its screenshot is being taken).
    finishing: bool,
    /// A `--frames` run's trip through the other planes and back (timed by `stats`).
    plane_tour: Option<Vec<Plane>>,
    /// The keys-and-mouse help window is open.
    help: bool,
}

/// The synthesis worker for weights folder `i` of the options (loaded on its thread).
fn spawn_worker(ctx: &egui::Context, options: &ViewerOptions, i: usize) -> SynthesisWorker {
    let ctx = ctx.clone();
    let (weights, backend) = (options.weights.get(i).cloned(), options.backend);
    SynthesisWorker::spawn(
        move || match weights {
            Some(w) => Synthesizer::load(&w, backend),
            None => Err(crate::engine::EngineError::Device(
                "no weights folder given".into(),
            )),
        },
        move || ctx.request_repaint(),
    )
}

/// How the Model menu names a weights folder: its last two path components.
fn model_label(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

impl ViewerApp {
    /// Halfway through a `--frames` run, switch to each other plane and back to the first,
    /// one every other frame, so that its report times plane switches; the run ends where
    /// it started.
    fn tour_planes(&mut self, frames: u64, n: u64) {
        let Some(start) = self.session.as_ref().map(Session::plane) else {
            return;
        };
        if frames == n / 2 && self.plane_tour.is_none() {
            let mut tour: Vec<Plane> = Plane::ALL.into_iter().filter(|&p| p != start).collect();
            tour.push(start);
            tour.reverse(); // popped from the end
            self.plane_tour = Some(tour);
        }
        if frames % 2 == 0 {
            if let Some(plane) = self.plane_tour.as_mut().and_then(Vec::pop) {
                self.run(Command::SetPlane(plane));
            }
        }
    }

    pub fn new(cc: &eframe::CreationContext<'_>, options: ViewerOptions) -> ViewerApp {
        // A `--frames` run (CI's window check, scripted screenshots) shows what its
        // options say, not what the last interactive session left behind.
        let mut settings: Settings = cc
            .storage
            .filter(|_| options.frames.is_none())
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        if let Some(overlay) = options.overlay {
            settings.difference = overlay;
        }
        let (gpu, renderer) = match &cc.wgpu_render_state {
            Some(rs) => {
                let slices = SliceGpu::new(&rs.device, rs.target_format);
                rs.renderer.write().callback_resources.insert(slices);
                (true, describe_adapter(&rs.adapter.get_info()))
            }
            None => (false, "CPU (egui textures)".to_string()),
        };
        log::info!("slices drawn by {renderer}");
        let worker = spawn_worker(&cc.egui_ctx, &options, 0);
        let mut app = ViewerApp {
            settings,
            session: None,
            panels: Panels::new(gpu),
            tasks: Tasks::new(cc.egui_ctx.clone()),
            worker,
            device: "loading the model...".into(),
            method: "MM-GAN",
            sequences: SequenceSet::BRATS,
            model: 0,
            model_labels: options.weights.iter().map(|w| model_label(w)).collect(),
            ctx: cc.egui_ctx.clone(),
            renderer,
            message: None,
            export_folder: String::new(),
            stats: FrameStats::default(),
            last_overlay: Difference::Uncertainty,
            finishing: false,
            plane_tour: None,
            help: false,
            options,
        };
        if let Some(path) = app.options.study.clone() {
            app.run(Command::Open(vec![path]));
        }
        app
    }

    /// The weights folder the worker runs.
    fn weights(&self) -> &Path {
        &self.options.weights[self.model]
    }

    /// Run weights folder `i` instead: a new worker loads it, and what is marked missing
    /// is synthesized again with it. The old worker is shut down off the UI thread (it may
    /// be mid-batch).
    fn use_model(&mut self, i: usize) {
        if i == self.model || i >= self.options.weights.len() {
            return;
        }
        let worker = spawn_worker(&self.ctx, &self.options, i);
        let old = std::mem::replace(&mut self.worker, worker);
        std::thread::spawn(move || drop(old));
        self.model = i;
        self.device = "loading the model...".into();
        self.info(format!("switching to {}", self.weights().display()));
        if let Some(s) = self.session.as_mut() {
            let request = s.synthesis_request();
            self.send(request);
        }
    }

    fn info(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    fn error(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }

    /// Keep the current study's window/level choices in the settings.
    fn remember_windows(&mut self) {
        if let Some((key, windows)) = self
            .session
            .as_ref()
            .and_then(|s| Some((s.key()?, s.windows)))
        {
            self.settings.remember_windows(&key, windows);
        }
    }

    fn set_study(&mut self, study: impl Into<Arc<Study>>) {
        let study: Arc<Study> = study.into();
        self.remember_windows();
        let key = study.files.folder.as_ref().map(|f| f.display().to_string());
        let windows = key
            .as_deref()
            .map(|k| self.settings.windows_of(k))
            .unwrap_or_default();
        let plane = self
            .session
            .as_ref()
            .map_or(self.options.plane, Session::plane);
        let mut session =
            Session::new(study, self.sequences, plane, &self.options.missing, windows);
        self.export_folder = session.default_export_folder().display().to_string();
        if let Some(k) = key {
            self.settings.remember_recent(&k);
        }
        self.message = None;
        let request = session.synthesis_request();
        self.session = Some(session);
        self.send(request);
    }

    /// Send a request the session made; one it could not make cancels the running one.
    fn send(&mut self, request: Result<Request, String>) {
        match request {
            Ok(r) => {
                if matches!(r, Request::Synthesize { .. }) {
                    self.stats.requested();
                }
                self.worker.send(r);
            }
            Err(e) => {
                self.worker.send(Request::Cancel);
                self.error(e);
            }
        }
    }

    /// Drain the worker's and the tasks' messages (once per frame, never blocking).
    fn drain(&mut self) {
        while let Some(response) = self.worker.try_recv() {
            match response {
                Response::Ready {
                    device,
                    method,
                    sequences,
                } => {
                    self.device = format!("{method} on {device}");
                    self.method = method;
                    if sequences != self.sequences {
                        // Another model's panels: the study again, with its sequences.
                        self.sequences = sequences;
                        if let Some(s) = self.session.take() {
                            self.set_study(s.study);
                        }
                    }
                }
                Response::Failed {
                    generation: 0,
                    message,
                } => self.error(format!("synthesis failed: {message}")),
                r => {
                    let Some(session) = self.session.as_mut() else {
                        continue;
                    };
                    let outcome = session.apply(r);
                    if outcome.focus_shown {
                        self.stats.focus_shown();
                    }
                    for seq in outcome.completed {
                        let Some(v) = session.synthesized_volume(seq) else {
                            continue;
                        };
                        let (study, generation) = (session.study.clone(), session.generation());
                        self.tasks.analyse(study, generation, seq, v.data.clone());
                    }
                    if let Some(m) = outcome.failed {
                        self.error(format!("synthesis failed: {m}"));
                    }
                }
            }
        }
        while let Some(chore) = self.tasks.try_recv() {
            self.finished(chore);
        }
    }

    fn finished(&mut self, chore: Chore) {
        match chore {
            Chore::Opened(Ok(study)) => self.set_study(*study),
            Chore::Opened(Err(e)) => self.error(e),
            Chore::Exported(Ok(paths)) if paths.is_empty() => {
                self.info("nothing saved: no file chosen (or no file dialog on this desktop)")
            }
            Chore::Exported(Ok(paths)) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                self.info(format!("exported {}", names.join(", ")));
            }
            Chore::Exported(Err(e)) => self.error(format!("export failed: {e}")),
            Chore::PickedFolder(Some(p), export) => {
                self.export_folder = p.display().to_string();
                if export {
                    self.run(Command::Export);
                }
            }
            Chore::PickedFolder(None, _) => self.info(
                "nothing chosen (or no file dialog available on this desktop): type the export \
                 folder in the status bar and press Export synthesized",
            ),
            Chore::SliceQuality {
                sequence,
                key,
                quality,
            } => self.in_session(|s| s.set_slice_quality(sequence, key, quality)),
            Chore::SynthesizedWindow {
                generation,
                sequence,
                window,
            } => self.in_session(|s| s.set_synthesized_window(generation, sequence, window)),
            Chore::VolumeQuality {
                generation,
                sequence,
                quality,
            } => self.in_session(|s| s.set_volume_quality(generation, sequence, quality)),
            Chore::SelfCheck { generation, result } => {
                self.in_session(|s| s.set_self_check(generation, result))
            }
            Chore::Screenshot(result) => {
                match result {
                    Ok(p) => self.info(format!("screenshot saved: {}", p.display())),
                    Err(e) => self.error(format!("screenshot failed: {e}")),
                }
                if self
                    .options
                    .frames
                    .is_some_and(|n| self.stats.frames() >= n)
                {
                    eprintln!("{}", self.message.as_ref().map_or("", |m| m.0.as_str()));
                    self.tasks.close_window();
                }
            }
        }
    }

    fn in_session(&mut self, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.session.as_mut() {
            f(s);
        }
    }
}

impl eframe::App for ViewerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.drain();
        let mut commands = Vec::new();
        input::keys(&ctx, &mut commands);
        input::dropped_files(&ctx, &mut commands);
        egui::Panel::top("menu").show(ui, |ui| {
            let models = (self.model_labels.as_slice(), self.model);
            menu_ui(ui, &mut self.settings, models, &mut commands)
        });
        if self.help {
            help_window(&ctx, &mut self.help);
        }
        let status = Status {
            device: &self.device,
            renderer: &self.renderer,
            message: self.message.as_ref().map(|(m, e)| (m.as_str(), *e)),
        };
        egui::Panel::bottom("status").show(ui, |ui| {
            status_ui(
                ui,
                self.session.as_ref(),
                &mut self.settings,
                &mut self.export_folder,
                &status,
                &mut commands,
            )
        });
        // H held hides every overlay, to see the tissue under it.
        let hidden;
        let shown = if ctx.input(|i| i.key_down(egui::Key::H)) && !ctx.egui_wants_keyboard_input() {
            hidden = self.settings.without_overlays();
            &hidden
        } else {
            &self.settings
        };
        if let (true, Some(session)) = (self.settings.self_check, &self.session) {
            egui::Panel::right("self-check")
                .default_size(260.0)
                .show(ui, |ui| self_check_ui(ui, session));
        }
        egui::CentralPanel::default().show(ui, |ui| match &self.session {
            Some(session) => self.panels.ui(ui, session, shown, &mut commands),
            None => {
                ui.centered_and_justified(|ui| {
                    ui.label(status.message.map_or(
                        "File > Open study folder..., or drop a study folder here",
                        |m| m.0,
                    ));
                });
            }
        });
        for c in commands {
            self.run(c);
        }
        if let Some(s) = self.session.as_mut() {
            for job in s.slices_to_measure() {
                self.tasks.measure(job);
            }
            if self.settings.difference == Difference::Uncertainty {
                if let Some(r) = s.uncertainty_request() {
                    self.worker.send(r);
                }
            }
            if self.settings.self_check {
                if let Some(job) = s.self_check_request() {
                    let (weights, backend) = (self.weights().to_path_buf(), self.options.backend);
                    self.tasks.self_check(weights, backend, job);
                }
            }
        }
        self.stats.frame(started, self.is_synthesizing());
        if let Some(n) = self.options.frames {
            // A `--frames` run ends at frame n once the work on screen is done (synthesis,
            // and the uncertainty its overlay shows), or at 20 n whatever happens.
            let frames = self.stats.frames();
            self.tour_planes(frames, n);
            let finish = (frames >= n && !self.busy()) || frames == n * 20;
            if finish && !self.finishing {
                self.finishing = true;
                eprintln!("{}", self.frame_report());
                match self.options.screenshot.clone() {
                    Some(path) => {
                        self.write_panel_map(&path, ctx.pixels_per_point());
                        if let Err(e) = self.tasks.screenshot(path) {
                            self.error(e);
                        }
                    }
                    None => self.tasks.close_window(),
                }
            }
            // Frames are drawn back to back, except while the first synthesized slice is
            // awaited: the worker's message wakes the UI then, as it does outside `--frames`
            // runs, where nothing redraws an idle window. Drawing meanwhile (130-250 ms a
            // frame on software rendering) would take the CPU the worker needs.
            match self.stats.awaiting_first_slice() {
                Some(left) => ctx.request_repaint_after(left),
                None => ctx.request_repaint(),
            }
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.options.frames.is_some() {
            return;
        }
        self.remember_windows();
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
