//! The synthesis worker: a background thread that owns the [`Synthesizer`] and talks to
//! the UI through typed crossbeam-channel messages, so the UI never waits on the model.
//!
//! On a request it synthesizes the slice the user looks at first, then the rest of the
//! volume batch by batch, nearest the focus first. It sends slices and keeps no volume:
//! the receiver assembles the one copy (slices it never receives have no brain and are
//! zero, as in [`Synthesizer::synthesize_volume`]). Between batches it reads its inbox: a
//! new request supersedes the current one, a focus change reorders what is left, a cancel
//! stops. Every failure, panics included, comes back as a [`Response::Failed`]; the study
//! itself is only read, so a failed synthesis leaves it as it was.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{EngineError, Prepared, SliceSet, Synthesizer};
use crate::io::Study;
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
    /// The user scrolled: synthesize slice `z` next.
    Focus {
        generation: u64,
        z: usize,
    },
    Cancel,
    Shutdown,
}

/// What the worker reports. The worker asks the UI to repaint after each one.
#[derive(Debug, Clone)]
pub enum Response {
    /// The model is loaded (or could not be: then `Failed` follows).
    Ready {
        device: String,
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
    Progress {
        generation: u64,
        done: usize,
        total: usize,
    },
    /// Every slice with brain has been sent; the others are zero.
    Done {
        generation: u64,
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
    prepared: Prepared,
    pending: BTreeSet<usize>,
    focus: usize,
    total: usize,
}

fn run(
    load: impl FnOnce() -> Result<Synthesizer, EngineError>,
    inbox: Receiver<Request>,
    outbox: Sender<Response>,
    notify: impl Fn(),
) {
    let send = |r: Response| {
        let _ = outbox.send(r);
        notify();
    };
    let synth = match guarded(load) {
        Ok(s) => {
            send(Response::Ready {
                device: s.device_description().to_string(),
            });
            Some(s)
        }
        Err(e) => {
            send(Response::Failed {
                generation: 0,
                message: format!("the model could not be loaded: {e}"),
            });
            None
        }
    };
    let mut job: Option<Job> = None;
    loop {
        // Block when idle; otherwise only look at the inbox between batches.
        let next = if job.is_some() {
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
            Some(Request::Cancel) => {
                if let Some(j) = job.take() {
                    send(Response::Cancelled {
                        generation: j.generation,
                    });
                }
                continue;
            }
            Some(Request::Focus { generation, z }) => {
                if let Some(j) = job.as_mut().filter(|j| j.generation == generation) {
                    j.focus = z;
                }
                continue;
            }
            Some(Request::Synthesize {
                generation,
                study,
                scenario,
                focus,
            }) => {
                if let Some(old) = job.take() {
                    send(Response::Cancelled {
                        generation: old.generation,
                    });
                }
                let Some(synth) = synth.as_ref() else {
                    send(Response::Failed {
                        generation,
                        message: "no model is loaded".into(),
                    });
                    continue;
                };
                match guarded(|| synth.prepare(&study, scenario)) {
                    Ok(prepared) => {
                        let pending: BTreeSet<usize> =
                            prepared.brain_slices().into_iter().collect();
                        let total = pending.len();
                        send(Response::Started {
                            generation,
                            scenario,
                            total,
                        });
                        job = Some(Job {
                            generation,
                            prepared,
                            pending,
                            focus,
                            total,
                        });
                    }
                    Err(e) => send(Response::Failed {
                        generation,
                        message: e.to_string(),
                    }),
                }
                continue;
            }
            None => {}
        }
        let (Some(j), Some(synth)) = (job.as_mut(), synth.as_ref()) else {
            continue;
        };
        // The focus slice alone first (it is what the user is looking at), then batches
        // nearest the focus.
        let batch: Vec<usize> = if j.pending.contains(&j.focus) {
            vec![j.focus]
        } else {
            let mut by_distance: Vec<usize> = j.pending.iter().copied().collect();
            by_distance.sort_by_key(|z| z.abs_diff(j.focus));
            by_distance.truncate(synth.batch.max(1));
            by_distance.sort_unstable();
            by_distance
        };
        if batch.is_empty() {
            let done = job.take().expect("a job is running");
            send(Response::Done {
                generation: done.generation,
            });
            continue;
        }
        match guarded(|| synth.synthesize_slices(&j.prepared, &batch)) {
            Ok(sets) => {
                for (&z, slices) in batch.iter().zip(sets) {
                    j.pending.remove(&z);
                    send(Response::Slice {
                        generation: j.generation,
                        z,
                        slices,
                    });
                }
                send(Response::Progress {
                    generation: j.generation,
                    done: j.total - j.pending.len(),
                    total: j.total,
                });
            }
            Err(e) => {
                let generation = j.generation;
                job = None;
                send(Response::Failed {
                    generation,
                    message: e.to_string(),
                });
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
