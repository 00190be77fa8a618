//! The synthesis engine: picks the compute device, loads weights, and turns a study plus a
//! scenario into synthesized volumes on the study's own grid.
//!
//! Owns the inference path ([`Synthesizer`]) the CLI and the viewer call, batching slices,
//! reporting progress and honouring cancellation between batches, and the background
//! [`SynthesisWorker`] the viewer talks to through messages. Callers see plain `ndarray`
//! volumes; tensors stay inside.

mod backend;
mod synthesizer;
mod worker;

pub use backend::{select_device, BackendChoice, SelectedDevice};
pub use synthesizer::{EngineError, Prepared, Synthesized, Synthesizer};
pub use worker::{Request, Response, SynthesisWorker};
