//! The desktop viewer: four axial panels (T1, T1c, T2, FLAIR), missing-sequence toggles,
//! background synthesis with the synthetic result unmistakably marked, comparison with the
//! ground truth, crosshair, zoom/pan, window/level, label overlay, export and screenshots.
//!
//! A thin egui layer over a state model, as rerun's viewer and egui's demo app are built:
//! - [`settings`]: what persists between runs;
//! - [`session`]: the open study and what is known about it (no egui), fed the synthesis
//!   worker's responses;
//! - `panels` and `bars`: drawing and input; they read the state and push [`command`]s,
//!   which `app` runs at the end of the frame;
//! - `input`: keys and dropped files, as commands;
//! - `tasks`: opening, dialogs, export, screenshots and measuring on background threads;
//! - [`view`]: panel geometry, [`render`]: what a panel looks like (and its CPU drawing),
//!   [`gpu`]: the same look drawn by `shaders/slice.wgsl`.
//!
//! Volumes come from [`crate::io`], synthesis from the [`crate::engine`] worker and the
//! figures from [`crate::eval`]; the UI never touches tensors and never waits on the model.

mod app;
mod bars;
pub mod command;
pub mod gpu;
mod input;
mod panels;
pub mod render;
pub mod session;
pub mod settings;
mod stats;
mod tasks;
pub mod view;

use std::path::Path;

pub use app::{ViewerApp, ViewerOptions};
pub use panels::T1C_NOTE;

/// Open the viewer window. Returns when the window is closed (or after `frames` frames).
pub fn run(options: ViewerOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("MM-GAN Studio")
            .with_inner_size([1200.0, 900.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "MM-GAN Studio",
        native,
        Box::new(move |cc| Ok(Box::new(ViewerApp::new(cc, options)))),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "the window could not be opened: {e}. Without a GPU, wgpu needs a software driver: \
             Mesa's Vulkan (mesa-vulkan-drivers) or OpenGL (libgl1-mesa-dri libegl1; \
             WGPU_BACKEND=gl forces it)"
        )
    })
}

/// Write an image as PNG, atomically (temp file + rename); the folder is created.
pub fn save_png(path: &Path, image: &eframe::egui::ColorImage) -> Result<(), String> {
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    }
    let [w, h] = image.size;
    let rgba: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or_else(|| format!("{}: image size does not match its pixels", path.display()))?;
    crate::io::replace_atomically(path, ".png", |temp| {
        buffer
            .save_with_format(temp, image::ImageFormat::Png)
            .map_err(|e| e.to_string())
    })
    .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eframe::egui::{Color32, ColorImage};

    #[test]
    fn screenshots_are_written_as_png_that_reads_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("shots/view_synthetic.png");
        let pixels = vec![Color32::RED, Color32::GREEN, Color32::BLUE, Color32::WHITE];
        let image = ColorImage::new([2, 2], pixels);
        save_png(&path, &image).unwrap_or_else(|e| panic!("{e}"));
        let back = image::open(&path)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_rgba8();
        assert_eq!(back.dimensions(), (2, 2));
        assert_eq!(back.get_pixel(1, 0).0, [0, 255, 0, 255]);
        assert_eq!(back.get_pixel(0, 1).0, [0, 0, 255, 255]);
        // Only the PNG is left: the temp file was renamed.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap_or(dir.path()))
                .map(|d| d.count())
                .unwrap_or(0),
            1
        );
        // An unwritable place is an error naming it, not a panic.
        let err = save_png(Path::new("/proc/nope/x.png"), &image).unwrap_err();
        assert!(err.contains("/proc/nope"), "{err}");
    }
}
