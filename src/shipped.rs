//! What ships inside the binary: the generator weights, the demo study and the MNI152
//! anatomy the phantoms are drawn from.
//!
//! They are embedded at build time, so every command finds them from any working folder
//! (a binary copied elsewhere included), and written out once into a per-user cache
//! folder keyed by their content, where the readers that take paths open them. `--weights`
//! and a study path on the command line still override.

use std::path::{Path, PathBuf};

use crate::io::write_atomic;

/// A folder of embedded files: its name and (file name, bytes) pairs.
struct Bundle {
    name: &'static str,
    files: &'static [(&'static str, &'static [u8])],
}

const WEIGHTS: Bundle = Bundle {
    name: "weights",
    files: &[
        ("generator.bpk", include_bytes!("../weights/generator.bpk")),
        (
            "generator.json",
            include_bytes!("../weights/generator.json"),
        ),
        ("MODEL_CARD.md", include_bytes!("../weights/MODEL_CARD.md")),
    ],
};

const DEMO: Bundle = Bundle {
    name: "Phantom-2026-000",
    files: &[
        (
            "Phantom-2026-000_t1.nii.gz",
            include_bytes!("../assets/demo/Phantom-2026-000/Phantom-2026-000_t1.nii.gz"),
        ),
        (
            "Phantom-2026-000_t1ce.nii.gz",
            include_bytes!("../assets/demo/Phantom-2026-000/Phantom-2026-000_t1ce.nii.gz"),
        ),
        (
            "Phantom-2026-000_t2.nii.gz",
            include_bytes!("../assets/demo/Phantom-2026-000/Phantom-2026-000_t2.nii.gz"),
        ),
        (
            "Phantom-2026-000_flair.nii.gz",
            include_bytes!("../assets/demo/Phantom-2026-000/Phantom-2026-000_flair.nii.gz"),
        ),
        (
            "Phantom-2026-000_seg.nii.gz",
            include_bytes!("../assets/demo/Phantom-2026-000/Phantom-2026-000_seg.nii.gz"),
        ),
    ],
};

const MNI: Bundle = Bundle {
    name: "mni",
    files: &[
        ("brain.nii.gz", include_bytes!("../assets/mni/brain.nii.gz")),
        ("gm.nii.gz", include_bytes!("../assets/mni/gm.nii.gz")),
        ("wm.nii.gz", include_bytes!("../assets/mni/wm.nii.gz")),
        ("COPYRIGHT", include_bytes!("../assets/mni/COPYRIGHT")),
    ],
};

/// The shipped weights folder.
pub fn weights() -> Result<PathBuf, String> {
    unpack(&WEIGHTS)
}

/// The bundled demo study folder.
pub fn demo_study() -> Result<PathBuf, String> {
    unpack(&DEMO)
}

/// The MNI152-derived anatomy folder (with its copyright notice).
pub fn mni() -> Result<PathBuf, String> {
    unpack(&MNI)
}

/// The user's cache root: `$XDG_CACHE_HOME`, else `~/.cache`, else the temp folder.
fn cache_root() -> PathBuf {
    let from_env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("XDG_CACHE_HOME")
        .or_else(|| from_env("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("mmgan")
}

/// FNV-1a over every file: the cache folder changes whenever the content does.
fn content_key(b: &Bundle) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, bytes) in b.files {
        for byte in name.bytes().chain(bytes.iter().copied()) {
            h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Write a bundle into its cache folder (each file atomically, skipped when already there
/// with the right size) and return the folder.
fn unpack(b: &Bundle) -> Result<PathBuf, String> {
    let dir = cache_root()
        .join(format!(
            "{}-{:016x}",
            env!("CARGO_PKG_VERSION"),
            content_key(b)
        ))
        .join(b.name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("{}: cannot create the cache folder: {e}", dir.display()))?;
    for (name, bytes) in b.files {
        let path = dir.join(name);
        if file_len(&path) != Some(bytes.len() as u64) {
            write_atomic(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(dir)
}

fn file_len(p: &Path) -> Option<u64> {
    std::fs::metadata(p).ok().map(|m| m.len())
}
