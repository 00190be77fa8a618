//! The desktop viewer: four axial panels (T1, T1c, T2, FLAIR), missing-sequence toggles,
//! background synthesis with the synthetic result unmistakably marked, difference maps
//! against the ground truth, export.
//!
//! A thin egui layer over a state model ([`app::ViewerApp`]): volumes come from
//! [`crate::io`], synthesis from the [`crate::engine`] worker through messages; the UI
//! never touches tensors and never waits on the model.

mod app;
mod render;

pub use app::{demo_study, ViewerApp, ViewerOptions};
pub use render::{diverging, window_level};

/// Open the viewer window. Returns when the window is closed (or after `frames` frames).
pub fn run(options: ViewerOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("MM-GAN Studio")
            .with_inner_size([1200.0, 860.0]),
        ..Default::default()
    };
    eframe::run_native(
        "MM-GAN Studio",
        native,
        Box::new(move |cc| Ok(Box::new(ViewerApp::new(cc, options)))),
    )
    .map_err(|e| anyhow::anyhow!("the window could not be opened: {e}"))
}
