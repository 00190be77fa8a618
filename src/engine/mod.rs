//! The synthesis engine: picks the compute device, loads weights, and turns a study plus a
//! scenario into synthesized volumes on the study's own grid.
//!
//! Owns the inference path ([`Synthesizer`]) the CLI and the viewer call, batching slices,
//! reporting progress and honouring cancellation between batches, and the background
//! [`SynthesisWorker`] the viewer talks to through messages, and the per-voxel uncertainty
//! of a synthesis (Monte Carlo dropout). Callers see plain `ndarray`
//! volumes; tensors stay inside.

mod backend;
mod calibrate;
mod prepared;
mod synthesizer;
mod uncertainty;
mod worker;

pub use backend::{select_device, BackendChoice, SelectedDevice};
pub use prepared::Prepared;
pub use synthesizer::{EngineError, SliceSet, Synthesized, Synthesizer};
pub use uncertainty::spearman;
pub use worker::{Request, Response, Stage, SynthesisWorker};
