//! The synthesis worker: a background thread that owns the [`Synthesizer`] and talks to
//! the UI through typed crossbeam-channel messages, so the UI never waits on the model.
//!
//! On a request it synthesizes the slice the user looks at first, then the rest of the
//! volume batch by batch, nearest the focus first. It sends slices and keeps no volume:
//! the receiver assembles the one copy (slices it never receives have no brain and are
//! zero, as in [`Synthesizer::synthesize_volume`]). Between batches it reads its inbox: a
//! new request supersedes the current one, a focus change reorders what is left, a cancel
//! stops. Asked for it, it then computes the synthesis' uncertainty the same way, slice by
//! slice nearest the focus ([`Synthesizer::uncertainty_slices`]). Every failure, panics included, comes back as a [`Response::Failed`]; the study
//! itself is only read, so a failed synthesis leaves it as it was.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use super::{EngineError, Prepared, SliceSet, Synthesizer};
use crate::io::{SequenceSet, Study};
use crate::model::Scenario;
use crossbeam_channel::{Receiver, Sender, TryRecvError};

/// What the UI asks for. `generation` numbers requests so that late answers to an old one
/// can be told apart.
#[derive(Debug, Clone)]
pub enum Request {
    Synthesize {
        generation: u64,
        study: Arc<Study>,
        scenario: Scenario,
        focus: usize,
    },
    /// The per-voxel uncertainty of synthesis `generation` from `passes` dropout passes,
    /// once (or as soon as) its slices are done.
    Uncertainty {
        generation: u64,
        passes: usize,
    },
    /// The user scrolled: synthesize slice `z` next.
    Focus {
        generation: u64,
        z: usize,
    },
    Cancel,
    Shutdown,
}

/// What a job is computing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Synthesis,
    Uncertainty,
}

/// What the worker reports. The worker asks the UI to repaint after each one.
#[derive(Debug, Clone)]
pub enum Response {
    /// The model is loaded (or could not be: then `Failed` follows).
    Ready {
        device: String,
        /// The loaded weights' method ("MM-GAN"), for labels and exported headers.
        method: &'static str,
        /// The model's sequences: the viewer shows one panel each.
        sequences: SequenceSet,
    },
    Started {
        generation: u64,
        scenario: Scenario,
        total: usize,
    },
    /// One axial slice of every missing sequence, as soon as it exists.
    Slice {
        generation: u64,
        z: usize,
        slices: SliceSet,
    },
    /// The uncertainty of one axial slice of every missing sequence.
    Uncertainty {
        generation: u64,
        z: usize,
        slices: SliceSet,
    },
    Progress {
        generation: u64,
        stage: Stage,
        done: usize,
        total: usize,
    },
    /// Every slice with brain has been sent (for the stage); the others are zero.
    Done {
        generation: u64,
        stage: Stage,
    },
    Cancelled {
        generation: u64,
    },
    Failed {
        generation: u64,
        message: String,
    },
}

/// Handle to the worker thread.
pub struct SynthesisWorker {
    requests: Sender<Request>,
    responses: Receiver<Response>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SynthesisWorker {
    /// Start the worker; `load` builds the synthesizer on the worker thread (loading weights
    /// and probing the GPU take time the UI must not wait for); `notify` is called after
    /// every response (the UI's `request_repaint`).
    pub fn spawn(
        load: impl FnOnce() -> Result<Synthesizer, EngineError> + Send + 'static,
        notify: impl Fn() + Send + 'static,
    ) -> SynthesisWorker {
        let (requests, inbox) = crossbeam_channel::unbounded();
        let (outbox, responses) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("mmgan-synthesis".into())
            .spawn(move || run(load, inbox, outbox, notify))
            .ok();
        SynthesisWorker {
            requests,
            responses,
            thread,
        }
    }

    pub fn send(&self, request: Request) {
        // A closed channel means the worker is gone; its last response said why.
        let _ = self.requests.send(request);
    }

    /// The next response, without waiting.
    pub fn try_recv(&self) -> Option<Response> {
        self.responses.try_recv().ok()
    }

    /// The next response, waiting up to `timeout` (tests and command-line use).
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<Response> {
        self.responses.recv_timeout(timeout).ok()
    }
}

impl Drop for SynthesisWorker {
    fn drop(&mut self) {
        let _ = self.requests.send(Request::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A request being worked on.
struct Job {
    generation: u64,
    stage: Stage,
    prepared: Prepared,
    pending: BTreeSet<usize>,
    focus: usize,
    total: usize,
    /// Dropout passes of an uncertainty stage (asked for, or running).
    passes: Option<usize>,
    /// When the request came in (for the log of its first slice's latency).
    requested: Instant,
    /// The study, while `prepared` may have inputs left to convert (a synthesis stage:
    /// each batch's inputs are converted before it; every brain slice is by its end).
    unconverted: Option<Arc<Study>>,
}

impl Job {
    fn new(generation: u64, stage: Stage, prepared: Prepared, focus: usize) -> Job {
        let pending: BTreeSet<usize> = prepared.brain_slices().into_iter().collect();
        Job {
            generation,
            stage,
            total: pending.len(),
            prepared,
            pending,
            focus,
            passes: None,
            requested: Instant::now(),
            unconverted: None,
        }
    }

    /// The uncertainty stage of this synthesis: `passes` dropout passes over the same
    /// prepared inputs, nearest its focus first.
    fn uncertainty(self, passes: usize) -> Job {
        let mut job = Job::new(
            self.generation,
            Stage::Uncertainty,
            self.prepared,
            self.focus,
        );
        job.passes = Some(passes);
        job
    }

    /// The focus slice alone first (it is what the user is looking at), then batches
    /// nearest the focus.
    fn next_batch(&self, size: usize) -> Vec<usize> {
        if self.pending.contains(&self.focus) {
            return vec![self.focus];
        }
        let mut by_distance: Vec<usize> = self.pending.iter().copied().collect();
        by_distance.sort_by_key(|z| z.abs_diff(self.focus));
        by_distance.truncate(size.max(1));
        by_distance.sort_unstable();
        by_distance
    }
}

fn run(
    load: impl FnOnce() -> Result<Synthesizer, EngineError>,
    inbox: Receiver<Request>,
    outbox: Sender<Response>,
    notify: impl Fn(),
) {
    let mut worker = Worker {
        synth: None,
        job: None,
        finished: None,
        send: move |r: Response| {
            let _ = outbox.send(r);
            notify();
        },
    };
    worker.load(load);
    loop {
        // Block when idle; otherwise only look at the inbox between batches.
        let next = if worker.job.is_some() {
            match inbox.try_recv() {
                Ok(r) => Some(r),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match inbox.recv() {
                Ok(r) => Some(r),
                Err(_) => return,
            }
        };
        match next {
            Some(Request::Shutdown) => return,
            Some(request) => worker.handle(request),
            None => worker.work(),
        }
    }
}

/// The worker thread's state: the model, the job in progress, and the last finished
/// synthesis (kept for an uncertainty request that comes after it).
struct Worker<S: Fn(Response)> {
    synth: Option<Synthesizer>,
    job: Option<Job>,
    finished: Option<Job>,
    /// Send a response and ask the UI to repaint.
    send: S,
}

impl<S: Fn(Response)> Worker<S> {
    fn load(&mut self, load: impl FnOnce() -> Result<Synthesizer, EngineError>) {
        let started = Instant::now();
        match guarded(load) {
            Ok(s) => {
                // Before a request can come: the study is still being opened.
                if let Err(e) = guarded(|| s.warm_up()) {
                    log::warn!("warming the model up failed: {e}");
                }
                log::info!("model loaded in {} ms", started.elapsed().as_millis());
                (self.send)(Response::Ready {
                    device: s.device_description().to_string(),
                    method: s.meta().method.title(),
                    sequences: s.meta().sequences(),
                });
                self.synth = Some(s);
            }
            Err(e) => self.fail(0, format!("the model could not be loaded: {e}")),
        }
    }

    /// End the job in progress (if any) with a failure of `generation`.
    fn fail(&mut self, generation: u64, message: String) {
        self.job = None;
        (self.send)(Response::Failed {
            generation,
            message,
        });
    }

    /// A request other than `Shutdown`.
    fn handle(&mut self, request: Request) {
        match request {
            Request::Shutdown => {}
            Request::Cancel => {
                if let Some(j) = self.job.take() {
                    (self.send)(Response::Cancelled {
                        generation: j.generation,
                    });
                }
            }
            Request::Focus { generation, z } => {
                for j in [self.job.as_mut(), self.finished.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    if j.generation == generation {
                        j.focus = z;
                    }
                }
            }
            Request::Uncertainty { generation, passes } => {
                match (self.job.as_mut(), self.finished.take()) {
                    (Some(j), _) if j.generation == generation => j.passes = Some(passes),
                    (None, Some(f)) if f.generation == generation => {
                        self.job = Some(f.uncertainty(passes));
                    }
                    (_, f) => self.finished = f,
                }
            }
            Request::Synthesize {
                generation,
                study,
                scenario,
                focus,
            } => self.start(generation, study, scenario, focus),
        }
    }

    /// A new synthesis supersedes the one in progress and forgets the finished one.
    fn start(&mut self, generation: u64, study: Arc<Study>, scenario: Scenario, focus: usize) {
        self.finished = None;
        if let Some(old) = self.job.take() {
            (self.send)(Response::Cancelled {
                generation: old.generation,
            });
        }
        let Some(synth) = self.synth.as_ref() else {
            return self.fail(generation, "no model is loaded".into());
        };
        let requested = Instant::now();
        // The slice on screen alone first; the others as their batches come up.
        match guarded(|| synth.prepare_for(&study, scenario, &[focus])) {
            Ok(prepared) => {
                log::info!(
                    "study prepared for {scenario} in {} ms",
                    requested.elapsed().as_millis()
                );
                let mut j = Job::new(generation, Stage::Synthesis, prepared, focus);
                j.requested = requested;
                j.unconverted = Some(study);
                (self.send)(Response::Started {
                    generation,
                    scenario,
                    total: j.total,
                });
                self.job = Some(j);
            }
            Err(e) => self.fail(generation, e.to_string()),
        }
    }

    /// One batch of the job in progress, or its end when no slice is left.
    fn work(&mut self) {
        let (Some(j), Some(synth)) = (self.job.as_mut(), self.synth.as_ref()) else {
            return;
        };
        let batch = j.next_batch(synth.batch);
        if let Some(study) = j.unconverted.clone() {
            // Inputs are converted as their slices come up: the first answer waits for
            // its own only (the focus may have moved since the request).
            if let Err(e) = guarded(|| {
                j.prepared.ensure(&study, &batch);
                Ok(())
            }) {
                let generation = j.generation;
                return self.fail(generation, e.to_string());
            }
        }
        if batch.is_empty() {
            return self.finish();
        }
        let computed = match (j.stage, j.passes) {
            (Stage::Uncertainty, Some(passes)) => {
                guarded(|| synth.uncertainty_slices(&j.prepared, &batch, passes))
            }
            _ => guarded(|| synth.synthesize_slices(&j.prepared, &batch)),
        };
        let sets = match computed {
            Ok(sets) => sets,
            Err(e) => {
                let generation = j.generation;
                return self.fail(generation, e.to_string());
            }
        };
        if j.stage == Stage::Synthesis && j.pending.len() == j.total {
            log::info!(
                "first slice synthesized {} ms after the request",
                j.requested.elapsed().as_millis()
            );
        }
        for (&z, slices) in batch.iter().zip(sets) {
            j.pending.remove(&z);
            let generation = j.generation;
            (self.send)(match j.stage {
                Stage::Synthesis => Response::Slice {
                    generation,
                    z,
                    slices,
                },
                Stage::Uncertainty => Response::Uncertainty {
                    generation,
                    z,
                    slices,
                },
            });
        }
        (self.send)(Response::Progress {
            generation: j.generation,
            stage: j.stage,
            done: j.total - j.pending.len(),
            total: j.total,
        });
    }

    /// Every slice of the job is sent: an uncertainty stage follows if one was asked for,
    /// otherwise the job is kept as the finished one.
    fn finish(&mut self) {
        let Some(mut done) = self.job.take() else {
            return;
        };
        (self.send)(Response::Done {
            generation: done.generation,
            stage: done.stage,
        });
        match (done.stage, done.passes) {
            (Stage::Synthesis, Some(passes)) => self.job = Some(done.uncertainty(passes)),
            _ => {
                done.passes = None;
                self.finished = Some(done);
            }
        }
    }
}

/// Run model code, turning a panic (a backend failing deep inside) into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, EngineError>) -> Result<T, EngineError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(EngineError::Device(format!("the model failed: {what}")))
    })
}
