//! The viewer, driven headlessly with egui_kittest: open the demo study, mark FLAIR
//! missing, let the worker synthesize it, check the SYNTHETIC marking, the difference map,
//! scrubbing and export, and take a snapshot of the layout.
//!
//! Uses the shipped weights (weights/) unless MMGAN_TEST_WEIGHTS names another folder.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use mmgan::engine::BackendChoice;
use mmgan::io::Sequence;
use mmgan::ui::{demo_study, ViewerApp, ViewerOptions};

fn weights() -> PathBuf {
    std::env::var_os("MMGAN_TEST_WEIGHTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights"))
}

/// Step the UI (the worker runs on its own thread) until `done` or the timeout.
fn run_until(h: &mut Harness<'_, ViewerApp>, what: &str, done: impl Fn(&ViewerApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}; message: {:?}",
            h.state().message()
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(3);
}

#[test]
fn mark_flair_missing_synthesize_compare_scrub_export() {
    let options = ViewerOptions {
        study: Some(demo_study()),
        weights: weights(),
        backend: BackendChoice::Cpu,
        frames: None,
        missing: vec![],
    };
    let mut h = Harness::builder()
        .with_size([1200.0, 860.0])
        .build_eframe(|cc| ViewerApp::new(cc, options));
    run_until(&mut h, "the demo study", |a| a.has_study());
    assert!(
        h.query_by_label_contains("SYNTHETIC").is_none(),
        "nothing is synthetic before a sequence is missing"
    );

    h.get_by_label("FLAIR missing").click();
    h.run_steps(2);
    run_until(&mut h, "the FLAIR synthesis", |a| {
        a.synthesized(Sequence::Flair) && !a.is_synthesizing()
    });
    assert!(
        h.query_by_label_contains("SYNTHETIC").is_some(),
        "the FLAIR panel is marked synthetic"
    );
    assert!(!h.state().synthesized(Sequence::T1));
    assert!(h.query_by_label_contains("synthesis failed").is_none());
    // The default export folder is the study's, which depends on where the checkout is.
    h.state_mut()
        .set_export_path(std::path::Path::new("synthetic-exports"));
    h.run_steps(2);
    h.snapshot("viewer_demo_flair_synthetic");

    // The difference map toggles on and off.
    h.get_by_label("Difference to ground truth").click();
    h.run_steps(3);
    assert!(h.state().showing_difference(Sequence::Flair));
    h.get_by_label("Difference to ground truth").click();
    h.run_steps(3);
    assert!(!h.state().showing_difference(Sequence::Flair));

    // Scrubbing with the keyboard changes the slice.
    let z = h.state().slice();
    h.key_press(eframe::egui::Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(h.state().slice(), z + 1);
    h.key_press(eframe::egui::Key::PageDown);
    h.run_steps(2);
    assert_eq!(h.state().slice(), z + 1 - 10);

    // Export writes a NIfTI marked synthetic that reads back on the study grid.
    let out = tempfile::tempdir().unwrap();
    h.state_mut().set_export_path(out.path());
    h.get_by_label("Export synthesized").click();
    run_until(&mut h, "the export", |a| {
        a.message()
            .is_some_and(|(m, _)| m.starts_with("exported") || m.starts_with("export failed"))
    });
    let (m, error) = h.state().message().unwrap();
    assert!(!error, "{m}");
    let file = out.path().join("Phantom-2026-000_flair_synthetic.nii.gz");
    let v = mmgan::io::read_volume(&file).unwrap();
    assert_eq!(v.dims(), [240, 240, 155]);
    assert!(String::from_utf8_lossy(&v.header.descrip)
        .starts_with("SYNTHETIC FLAIR, MM-GAN from T1,T1c,T2"));
}
