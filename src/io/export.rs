//! Writing a synthesized volume back onto the study's source grid, marked synthetic.

use std::path::{Path, PathBuf};

use ndarray::ArrayView3;

use super::{IoError, Result, Sequence, Study};

/// What to export: one synthesized sequence (canonical order, on the study grid) and the
/// sequences it was synthesized from.
#[derive(Debug, Clone, Copy)]
pub struct ExportRequest<'a> {
    pub sequence: Sequence,
    pub data: ArrayView3<'a, f32>,
    pub sources: &'a [Sequence],
    /// The method that synthesized it, as the header names it ("MM-GAN").
    pub method: &'a str,
}

/// What an exported volume is: a synthesized sequence, or the per-voxel uncertainty of
/// one (both are synthetic and say so in their names and headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Synthesized,
    /// Standard deviation over this many stochastic passes.
    Uncertainty {
        passes: usize,
    },
}

/// Temporary files being written right now, so that an interrupt (Ctrl-C, SIGTERM) can
/// remove them before the process exits: see [`remove_live_temporaries`].
static LIVE_TEMPORARIES: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn live_temporaries() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves a usable list; take it anyway.
    LIVE_TEMPORARIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Remove every temporary file this process is writing (for signal handlers: the process
/// is about to exit, and a half-written hidden file must not stay behind).
pub fn remove_live_temporaries() {
    for path in live_temporaries().drain(..) {
        let _ = std::fs::remove_file(path);
    }
}

/// A finished temporary file waiting to replace its target.
#[derive(Debug)]
pub struct PendingFile {
    temp: PathBuf,
    target: PathBuf,
}

impl PendingFile {
    /// Rename onto the target (atomic on one file system).
    pub fn commit(self) -> std::result::Result<PathBuf, String> {
        let result = std::fs::rename(&self.temp, &self.target)
            .map_err(|e| format!("{}: {e}", self.target.display()));
        self.forget(result.is_err());
        result.map(|()| self.target.clone())
    }

    /// Remove the temporary file; the target stays as it was.
    pub fn discard(self) {
        self.forget(true);
    }

    fn forget(&self, remove: bool) {
        if remove {
            let _ = std::fs::remove_file(&self.temp);
        }
        live_temporaries().retain(|p| p != &self.temp);
    }
}

/// Write `target`'s replacement into a temp file in the same folder (its name ends with
/// `extension`, for writers that choose a format by it) and sync it; nothing replaces
/// `target` until [`PendingFile::commit`]. On failure the temp file is removed. Stale temp
/// files of this target left by a killed process are removed first.
pub fn write_pending(
    target: &Path,
    extension: &str,
    write: impl FnOnce(&Path) -> std::result::Result<(), String>,
) -> std::result::Result<PendingFile, String> {
    let folder = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(extension).unwrap_or(&name);
    let prefix = format!(".{stem}.partial-");
    remove_stale_temporaries(folder, &prefix, extension);
    // pid and a per-process count: two threads writing the same target never share a
    // temp file.
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = folder.join(format!("{prefix}{}-{n}{extension}", std::process::id()));
    live_temporaries().push(temp.clone());
    let pending = PendingFile {
        temp,
        target: target.to_path_buf(),
    };
    let written = write(&pending.temp).and_then(|()| {
        std::fs::File::open(&pending.temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| e.to_string())
    });
    match written {
        Ok(()) => Ok(pending),
        Err(e) => {
            pending.discard();
            Err(e)
        }
    }
}

/// Temp files `<prefix><pid>-<n><extension>` whose process no longer runs (it was killed
/// mid-write) are removed. Only where `/proc` tells which processes run.
fn remove_stale_temporaries(folder: &Path, prefix: &str, extension: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(extension))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                log::info!("removing {}, left by an interrupted write", name);
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Replace `target` atomically: [`write_pending`], then [`PendingFile::commit`]. On any
/// failure `target` is untouched and no temp file stays.
pub fn replace_atomically(
    target: &Path,
    extension: &str,
    write: impl FnOnce(&Path) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    write_pending(target, extension, write)?
        .commit()
        .map(|_| ())
}

/// Write `bytes` to `path` atomically (see [`replace_atomically`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_atomically(path, "", |temp| {
        std::fs::write(temp, bytes).map_err(|e| e.to_string())
    })
    .map_err(std::io::Error::other)
}

/// Write a volume (file voxel order, `x` fastest) as NIfTI with `header` as reference
/// (affine, pixdim, codes, description), atomically. Compressed when the name ends with
/// `.gz`.
pub fn write_nifti_atomic<T>(
    target: &Path,
    header: &nifti::NiftiHeader,
    data: &ndarray::Array3<T>,
) -> Result<()>
where
    T: nifti::DataElement + bytemuck::Pod,
{
    let pending = write_nifti_pending(target, header, data)?;
    pending
        .commit()
        .map(|_| ())
        .map_err(|reason| IoError::Write {
            path: target.into(),
            reason,
        })
}

/// [`write_nifti_atomic`] up to the rename.
fn write_nifti_pending<T>(
    target: &Path,
    header: &nifti::NiftiHeader,
    data: &ndarray::Array3<T>,
) -> Result<PendingFile>
where
    T: nifti::DataElement + bytemuck::Pod,
{
    let gz = target.to_string_lossy().ends_with(".gz");
    // The nifti writer picks compression from the extension, so the temp name keeps it.
    let extension = if gz { ".nii.gz" } else { ".nii" };
    write_pending(target, extension, |temp| {
        nifti::writer::WriterOptions::new(temp)
            .reference_header(header)
            .write_nifti(data)
            .map_err(|e| match e {
                // nifti's own text for I/O errors is a Debug dump of the OS error.
                nifti::NiftiError::Io(io) => io.to_string(),
                other => other.to_string(),
            })
    })
    .map_err(|reason| IoError::Write {
        path: target.into(),
        reason,
    })
}

/// `<subject>_<seq>_synthetic.nii.gz`.
pub fn default_export_name(subject: &str, seq: Sequence) -> String {
    export_name(subject, seq, ExportKind::Synthesized)
}

/// `<subject>_<seq>_synthetic.nii.gz`, or `<subject>_<seq>_synthetic_uncertainty.nii.gz`.
fn export_name(subject: &str, seq: Sequence, kind: ExportKind) -> String {
    match kind {
        ExportKind::Synthesized => format!("{subject}_{}_synthetic.nii.gz", seq.slug()),
        ExportKind::Uncertainty { .. } => {
            format!("{subject}_{}_synthetic_uncertainty.nii.gz", seq.slug())
        }
    }
}

/// Write synthesized volumes as float32 NIfTI on the study's source grid (affine, pixdim
/// and codes of the reference file), with `descrip` saying they are synthetic: all of them
/// or none. Each is written to a temp file first; only when every one succeeded are they
/// renamed onto their targets, so a failed export leaves no partial set.
///
/// `out` is a folder (default names are used) or, for one volume, a file path; a file name
/// that does not say "synthetic" gets `_synthetic` added, and `.nii.gz` when it has no
/// NIfTI extension. Input files of the study are never replaced. Returns the paths written.
pub fn export_synthetic(
    study: &Study,
    requests: &[ExportRequest<'_>],
    out: &Path,
) -> Result<Vec<PathBuf>> {
    export_volumes(study, requests, ExportKind::Synthesized, out)
}

/// [`export_synthetic`] for volumes of another [`ExportKind`] (e.g. uncertainty maps).
pub fn export_volumes(
    study: &Study,
    requests: &[ExportRequest<'_>],
    kind: ExportKind,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    if requests.len() > 1 && !out.is_dir() {
        return Err(IoError::Write {
            path: out.into(),
            reason: format!(
                "{} volumes are exported into a folder, and this is none",
                requests.len()
            ),
        });
    }
    let mut pending = Vec::with_capacity(requests.len());
    for request in requests {
        match export_pending(study, request, kind, out) {
            Ok(p) => pending.push(p),
            Err(e) => {
                pending.into_iter().for_each(PendingFile::discard);
                return Err(e);
            }
        }
    }
    let mut written = Vec::with_capacity(pending.len());
    let mut pending = pending.into_iter();
    while let Some(p) = pending.next() {
        let target = p.target.clone();
        match p.commit() {
            Ok(path) => written.push(path),
            Err(reason) => {
                pending.for_each(PendingFile::discard);
                return Err(IoError::Write {
                    path: target,
                    reason,
                });
            }
        }
    }
    Ok(written)
}

/// One synthesized volume checked and written to its temp file.
fn export_pending(
    study: &Study,
    request: &ExportRequest<'_>,
    kind: ExportKind,
    out: &Path,
) -> Result<PendingFile> {
    let target = export_path(study, request.sequence, kind, out);
    if target.exists() && !target.is_file() {
        return Err(IoError::Write {
            path: target,
            reason: "exists and is not a file".into(),
        });
    }
    let dims = request.data.shape();
    if dims != study.grid.dims {
        return Err(IoError::InvalidData {
            what: format!("synthetic {}", request.sequence),
            reason: format!(
                "array {dims:?} is not on the study grid {:?}",
                study.grid.dims
            ),
        });
    }
    // fold walks memory order (iter() would stride across the Fortran-order volume).
    let bad = request
        .data
        .fold(None, |found, &v| found.or((!v.is_finite()).then_some(v)));
    if let Some(bad) = bad {
        return Err(IoError::InvalidData {
            what: format!("synthetic {}", request.sequence),
            reason: format!("contains a non-finite value ({bad}); nothing written"),
        });
    }
    let folder = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    if !folder.is_dir() {
        return Err(IoError::Write {
            path: folder,
            reason: "folder does not exist".into(),
        });
    }
    let same_file = |a: &Path| match (a.canonicalize(), target.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    if study.input_paths().into_iter().any(same_file) {
        return Err(IoError::WouldOverwriteInput { path: target });
    }

    let reference = study.reference_volume();
    let mut header = reference.header.clone();
    let sources: Vec<&str> = request.sources.iter().map(|s| s.name()).collect();
    let description = match kind {
        ExportKind::Synthesized => format!(
            "SYNTHETIC {}, {} from {}",
            request.sequence.name(),
            request.method,
            sources.join(",")
        ),
        ExportKind::Uncertainty { passes } => format!(
            "SYNTHETIC {} uncertainty ({passes} dropout passes + expected error) from {}",
            request.sequence.name(),
            sources.join(",")
        ),
    };
    header
        .set_description(description.as_bytes()[..description.len().min(79)].to_vec())
        .map_err(|e| IoError::InvalidData {
            what: "NIfTI description".into(),
            reason: e.to_string(),
        })?;
    header.intent_name = *b"MMGAN synthetic\0";
    header.cal_min = 0.0;
    header.cal_max = 0.0;
    header.glmin = 0;
    header.glmax = 0;
    // Back to the file's own voxel order so the reference affine applies unchanged.
    let source_order = reference.reorientation.to_source(request.data);

    write_nifti_pending(&target, &header, &source_order)
}

fn export_path(study: &Study, seq: Sequence, kind: ExportKind, out: &Path) -> PathBuf {
    if out.is_dir() {
        return out.join(export_name(&study.subject, seq, kind));
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| export_name(&study.subject, seq, kind));
    let (stem, ext) = if let Some(s) = name.strip_suffix(".nii.gz") {
        (s.to_string(), ".nii.gz")
    } else if let Some(s) = name.strip_suffix(".nii") {
        (s.to_string(), ".nii")
    } else {
        (name.clone(), ".nii.gz")
    };
    let stem = if stem.to_ascii_lowercase().contains("synthetic") {
        stem
    } else {
        format!("{stem}_synthetic")
    };
    out.with_file_name(format!("{stem}{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_says_synthetic() {
        assert_eq!(
            default_export_name("BraTS-001", Sequence::Flair),
            "BraTS-001_flair_synthetic.nii.gz"
        );
    }
}
