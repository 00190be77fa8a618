//! MM-GAN Studio: synthesize missing MRI sequences (T1, T1c, T2, FLAIR) of a brain study.
//!
//! Data flows one way: files -> [`io::Study`] -> [`engine`] -> UI.
//!
//! - [`io`]: studies read from NIfTI files into one canonical voxel order, and synthetic
//!   volumes exported back onto the source grid.
//! - [`data`]: the model's view of a study (square normalised slices) and back; datasets.
//! - [`model`]: MM-GAN's networks, implicit conditioning, curriculum and weights files.
//! - [`train`]: the GAN training loop, checkpoints and resume.
//! - [`metrics`]: MSE, PSNR, SSIM the paper's way and the challenge way.
//! - [`eval`]: per-scenario tables against baselines.
//! - [`engine`]: device choice and the inference API the CLI and the viewer call.
//! - [`phantom`]: BraTS-like simulated subjects from MNI152 anatomy and MR physics.
//! - [`shipped`]: the weights, demo study and anatomy embedded in the binary.
//! - [`ui`]: the egui desktop viewer.

// Tests fail loudly by design.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod data;
pub mod engine;
pub mod eval;
pub mod io;
pub mod metrics;
pub mod model;
pub mod phantom;
pub mod shipped;
pub mod train;
pub mod ui;
