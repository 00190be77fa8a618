//! The viewer's background work other than synthesis: opening studies, file dialogs,
//! export, screenshots and measuring. Each runs on its own thread and reports a [`Chore`]
//! through one channel, with a repaint request; at most one of each user-started kind runs
//! at a time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use eframe::egui;
use ndarray::Array3;

use super::command::Pick;
use super::session::{CheckJob, Finished, QualityKey, SliceJob};
use crate::engine::{BackendChoice, Synthesizer};
use crate::eval::{CheckRow, Quality, RegionQuality};
use crate::io::{
    default_export_name, export_synthetic, ExportRequest, Sequence, Study, StudyFiles,
};

/// A finished background job.
pub enum Chore {
    Opened(Result<Box<Study>, String>),
    Exported(Result<Vec<PathBuf>, String>),
    /// The export folder chosen in a dialog (`None`: cancelled or no dialog), and whether
    /// to export into it right away.
    PickedFolder(Option<PathBuf>, bool),
    SliceQuality {
        sequence: Sequence,
        key: QualityKey,
        quality: Quality,
    },
    SynthesizedWindow {
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
    SelfCheck {
        generation: u64,
        result: Result<Vec<CheckRow>, String>,
    },
}

/// The kinds the user starts, one at a time each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Dialog,
    Export,
    Screenshot,
}

impl Kind {
    const COUNT: usize = 4;

    fn busy_message(self) -> &'static str {
        match self {
            Kind::Open => "a study is still opening",
            Kind::Dialog => "a file dialog is already open",
            Kind::Export => "an export is still running",
            Kind::Screenshot => "a screenshot is still being saved",
        }
    }
}

/// A finished job and the kind it was started as.
type Report = (Option<Kind>, Chore);

pub struct Tasks {
    tx: Sender<Report>,
    rx: Receiver<Report>,
    ctx: egui::Context,
    running: [bool; Kind::COUNT],
    /// Stops the running self-check when a newer one starts.
    check_cancel: Option<Arc<AtomicBool>>,
}

impl Tasks {
    pub fn new(ctx: egui::Context) -> Tasks {
        let (tx, rx) = crossbeam_channel::unbounded();
        Tasks {
            tx,
            rx,
            ctx,
            running: [false; Kind::COUNT],
            check_cancel: None,
        }
    }

    /// The next finished job, without waiting.
    pub fn try_recv(&mut self) -> Option<Chore> {
        let (kind, chore) = self.rx.try_recv().ok()?;
        if let Some(kind) = kind {
            self.running[kind as usize] = false;
        }
        Some(chore)
    }

    /// Run `job` on a thread and send what it returns; `Err` if one of `kind` is running.
    fn start(
        &mut self,
        kind: Option<Kind>,
        job: impl FnOnce() -> Chore + Send + 'static,
    ) -> Result<(), &'static str> {
        if let Some(k) = kind {
            if self.running[k as usize] {
                return Err(k.busy_message());
            }
            self.running[k as usize] = true;
        }
        let (tx, ctx) = (self.tx.clone(), self.ctx.clone());
        std::thread::spawn(move || {
            let _ = tx.send((kind, job()));
            ctx.request_repaint();
        });
        Ok(())
    }

    /// Open a study folder, or a set of NIfTI files (roles from their names).
    pub fn open(&mut self, paths: Vec<PathBuf>) -> Result<(), &'static str> {
        self.start(Some(Kind::Open), move || {
            let result = match paths.as_slice() {
                [folder] if folder.is_dir() => Study::open(folder),
                files => StudyFiles::from_paths(files).and_then(Study::open_files),
            };
            Chore::Opened(result.map(Box::new).map_err(|e| e.to_string()))
        })
    }

    /// A file dialog (rfd blocks until it closes: never on the UI thread).
    pub fn dialog(&mut self, pick: Pick) -> Result<(), &'static str> {
        self.start(Some(Kind::Dialog), move || match pick {
            Pick::StudyFolder => match rfd::FileDialog::new().pick_folder() {
                Some(f) => Chore::Opened(Study::open(&f).map(Box::new).map_err(|e| e.to_string())),
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
        })
    }

    /// Write the synthesized `volumes` into `folder` (all or nothing), marked synthetic.
    pub fn export(
        &mut self,
        study: Arc<Study>,
        volumes: Finished,
        sources: Vec<Sequence>,
        method: &'static str,
        folder: PathBuf,
    ) -> Result<(), &'static str> {
        self.start(Some(Kind::Export), move || {
            let result = std::fs::create_dir_all(&folder)
                .map_err(|e| format!("{}: {e}", folder.display()))
                .and_then(|()| {
                    let requests: Vec<ExportRequest> = volumes
                        .iter()
                        .map(|(seq, data)| ExportRequest {
                            sequence: *seq,
                            data: data.view(),
                            sources: &sources,
                            method,
                        })
                        .collect();
                    export_synthetic(&study, &requests, &folder).map_err(|e| e.to_string())
                });
            Chore::Exported(result)
        })
    }

    /// Save one synthesized volume where the user says, in a save dialog suggesting its
    /// synthetic name in `folder`. Cancelled, nothing is written (an empty list).
    pub fn save_as(
        &mut self,
        study: Arc<Study>,
        (seq, data): (Sequence, Arc<Array3<f32>>),
        sources: Vec<Sequence>,
        method: &'static str,
        folder: PathBuf,
    ) -> Result<(), &'static str> {
        self.start(Some(Kind::Export), move || {
            let mut dialog = rfd::FileDialog::new()
                .set_file_name(default_export_name(&study.subject, seq))
                .add_filter("NIfTI", &["nii.gz", "nii"]);
            if folder.is_dir() {
                dialog = dialog.set_directory(&folder);
            }
            let Some(path) = dialog.save_file() else {
                return Chore::Exported(Ok(Vec::new()));
            };
            let request = ExportRequest {
                sequence: seq,
                data: data.view(),
                sources: &sources,
                method,
            };
            Chore::Exported(export_synthetic(&study, &[request], &path).map_err(|e| e.to_string()))
        })
    }

    /// Ask egui for a screenshot of the window and write it as PNG to `path` off the UI
    /// thread.
    pub fn screenshot(&mut self, path: PathBuf) -> Result<(), &'static str> {
        let kind = Kind::Screenshot;
        if self.running[kind as usize] {
            return Err(kind.busy_message());
        }
        self.running[kind as usize] = true;
        let (tx, repaint) = (self.tx.clone(), self.ctx.clone());
        let callback = egui::ScreenshotCallback::new(move |image| {
            std::thread::spawn(move || {
                let saved = super::save_png(&path, &image).map(|()| path);
                let _ = tx.send((Some(kind), Chore::Screenshot(saved)));
                repaint.request_repaint();
            });
        });
        self.ctx
            .send_viewport_cmd(egui::ViewportCommand::Screenshot(callback));
        Ok(())
    }

    /// Close the window (the end of a `--frames` run).
    pub fn close_window(&self) {
        self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }

    /// A finished synthesis: its display window (percentiles of the whole volume, too slow
    /// for a frame), then its figures against the ground truth when the study has it (the
    /// same function as `mmgan eval`).
    pub fn analyse(
        &mut self,
        study: Arc<Study>,
        generation: u64,
        seq: Sequence,
        data: Arc<Array3<f32>>,
    ) {
        let (tx, ctx) = (self.tx.clone(), self.ctx.clone());
        std::thread::spawn(move || {
            let window = crate::io::display_window(data.view());
            let _ = tx.send((
                None,
                Chore::SynthesizedWindow {
                    generation,
                    sequence: seq,
                    window,
                },
            ));
            ctx.request_repaint();
            if let Some(quality) = crate::eval::volume_quality(&study, seq, data.view()) {
                let _ = tx.send((
                    None,
                    Chore::VolumeQuality {
                        generation,
                        sequence: seq,
                        quality,
                    },
                ));
                ctx.request_repaint();
            }
        });
    }

    /// The study's self-check, with its own copy of the model (the worker's stays free for
    /// the user's requests); a newer one stops this one.
    pub fn self_check(&mut self, weights: PathBuf, backend: BackendChoice, job: CheckJob) {
        if let Some(old) = self.check_cancel.replace(Arc::new(AtomicBool::new(false))) {
            old.store(true, Ordering::Relaxed);
        }
        let cancel = self.check_cancel.clone().unwrap_or_default();
        let _ = self.start(None, move || Chore::SelfCheck {
            generation: job.generation,
            result: Synthesizer::load(&weights, backend)
                .and_then(|s| crate::eval::self_check(&s, &job.study, &job.hidden, &cancel))
                .map_err(|e| e.to_string()),
        });
    }

    /// A slice's figures against its ground truth (an SSIM is a few milliseconds: too much
    /// for a frame while scrubbing).
    pub fn measure(&mut self, job: SliceJob) {
        let _ = self.start(None, move || Chore::SliceQuality {
            sequence: job.sequence,
            key: job.key,
            quality: crate::eval::slice_quality(job.synthesized.view(), job.truth.view()),
        });
    }
}
