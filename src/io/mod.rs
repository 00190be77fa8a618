//! Study I/O: NIfTI volumes in, a [`Study`] of its sequences (T1, T1c, T2, FLAIR, DWI, ADC) out, synthetic volumes
//! written back onto the source grid.
//!
//! Owns file-name role detection, NIfTI decoding (every common datatype, scaling,
//! NaN clean-up, header sanity checks before any large allocation), orientation handling
//! (closest-axis reorientation to RAS by permutations and flips, never resampling) and the
//! per-sequence intensity statistics. Nothing here knows about the model or the UI.

mod error;
mod export;
mod intensity;
mod nifti_header;
mod nifti_read;
mod orientation;
mod sequence;
mod study;

pub use error::IoError;
pub use export::{
    default_export_name, export_synthetic, export_volumes, remove_live_temporaries,
    replace_atomically, write_atomic, write_nifti_atomic, write_pending, ExportKind, ExportRequest,
    PendingFile,
};
pub use intensity::{display_window, percentile_in_place, BrainRange, IntensityStats};
pub use nifti_read::{read_label_map, read_volume, Volume, NOT_A_LABEL};
pub use orientation::{
    affine_from_header, row_major, Affine, AffineSource, Orientation, Reorientation,
    GRID_TOLERANCE_MM,
};
pub use sequence::{Role, Sequence, SequenceSet};
pub use study::{Grid, Study, StudyFiles};

/// Result type of the study I/O layer.
pub type Result<T, E = IoError> = std::result::Result<T, E>;
