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
}

/// Replace `target` atomically: `write` fills a temp file in the same folder (its name
/// ends with `extension`, for writers that choose a format by it), which is synced and
/// renamed onto `target`; on any failure the temp file is removed and `target` is
/// untouched.
pub fn replace_atomically(
    target: &Path,
    extension: &str,
    write: impl FnOnce(&Path) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let folder = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(extension).unwrap_or(&name);
    let temp = folder.join(format!(".{stem}.partial-{}{extension}", std::process::id()));
    let result = write(&temp)
        .and_then(|()| {
            std::fs::File::open(&temp)
                .and_then(|f| f.sync_all())
                .map_err(|e| e.to_string())
        })
        .and_then(|()| std::fs::rename(&temp, target).map_err(|e| e.to_string()));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
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
    let gz = target.to_string_lossy().ends_with(".gz");
    // The nifti writer picks compression from the extension, so the temp name keeps it.
    let extension = if gz { ".nii.gz" } else { ".nii" };
    replace_atomically(target, extension, |temp| {
        nifti::writer::WriterOptions::new(temp)
            .reference_header(header)
            .write_nifti(data)
            .map_err(|e| e.to_string())
    })
    .map_err(|reason| IoError::Write {
        path: target.into(),
        reason,
    })
}

/// `<subject>_<seq>_synthetic.nii.gz`.
pub fn default_export_name(subject: &str, seq: Sequence) -> String {
    format!("{subject}_{}_synthetic.nii.gz", seq.slug())
}

/// Write a synthesized volume as float32 NIfTI on the study's source grid (affine, pixdim
/// and codes of the reference file), with `descrip` saying it is synthetic.
///
/// `out` is a folder (the default name is used) or a file path; a file name that does not
/// say "synthetic" gets `_synthetic` added, and `.nii.gz` when it has no NIfTI extension.
/// The write is atomic (temp file in the same folder, then rename) and never replaces an
/// input file of the study. Returns the path written.
pub fn export_synthetic(study: &Study, request: ExportRequest<'_>, out: &Path) -> Result<PathBuf> {
    let target = export_path(study, request.sequence, out);
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
    if let Some(bad) = request.data.iter().find(|v| !v.is_finite()) {
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
    let description = format!(
        "SYNTHETIC {}, MM-GAN from {}",
        request.sequence.name(),
        sources.join(",")
    );
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

    write_nifti_atomic(&target, &header, &source_order)?;
    Ok(target)
}

fn export_path(study: &Study, seq: Sequence, out: &Path) -> PathBuf {
    if out.is_dir() {
        return out.join(default_export_name(&study.subject, seq));
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| default_export_name(&study.subject, seq));
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
