//! The model's view of a study: square axial slices around the brain, normalised, and the
//! exact way back to the study grid; and the datasets of subjects training and evaluation
//! read.
//!
//! Owns slice geometry (crop, resize or pad), the model's intensity space (brain percentile
//! ranges in, a predicted range out), and subject
//! discovery with a seeded train/test split. Plain `f32` buffers, no tensors.

mod dataset;
mod geometry;
mod intensity;

pub use dataset::{
    context_slices, discover_subjects, split_subjects, subject_key, Split, SubjectSlices,
};
pub use geometry::{brain_mask, Fit, SliceGeometry};
pub use intensity::{
    model_slice, model_volume, quantiles, ErrorSample, ExpectedError, OutputCalibration,
    OutputScale, QuantilePair, ERROR_BINS,
};
