//! Errors of the study I/O layer: each names the file (or folder) and the problem.

use std::path::PathBuf;

/// What went wrong reading or writing a study. Every variant names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    // Not a `source`: the OS text is already in the message, and a chained source would
    // print it a second time.
    #[error("{path}: {error}", path = .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a NIfTI-1 file: {reason}", path = .path.display())]
    NotNifti { path: PathBuf, reason: String },
    #[error("{path}: corrupt compressed data: {reason}", path = .path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: truncated: {reason}", path = .path.display())]
    Truncated { path: PathBuf, reason: String },
    #[error("{path}: implausible header, refused before reading: {reason}", path = .path.display())]
    AbsurdHeader { path: PathBuf, reason: String },
    #[error("{path}: unsupported: {reason}", path = .path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("{path}: folder does not exist", path = .path.display())]
    MissingFolder { path: PathBuf },
    #[error("{path}: a file, not a study folder (pass a folder, or the files with --t1/--t1c/--t2/--flair)", path = .path.display())]
    NotAFolder { path: PathBuf },
    #[error("{path}: no MRI sequence found (expected NIfTI files named like t1, t1c/t1ce, t2, flair, or BraTS 2023 t1n, t1c, t2w, t2f)", path = .path.display())]
    EmptyStudy { path: PathBuf },
    #[error("{folder}: two candidate files for {role}: {first} and {second} (pass the one to use with --{flag})",
        folder = .folder.display(), first = .first.display(), second = .second.display())]
    Ambiguous {
        folder: PathBuf,
        role: String,
        flag: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("the study's volumes are not on one grid (no resampling is done):\n{details}")]
    GridMismatch { details: String },
    #[error("{path}: refusing to overwrite an input file of the study", path = .path.display())]
    WouldOverwriteInput { path: PathBuf },
    #[error("{path}: cannot write: {reason}", path = .path.display())]
    Write { path: PathBuf, reason: String },
    #[error("{what}: {reason}")]
    InvalidData { what: String, reason: String },
}

impl IoError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IoError::Io {
            path: path.into(),
            error: source,
        }
    }
}
