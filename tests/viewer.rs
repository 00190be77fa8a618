//! The viewer, driven headlessly with egui_kittest: open the demo study, mark FLAIR
//! missing, let the worker synthesize it, check the SYNTHETIC marking, the difference map,
//! scrubbing and export, and take a snapshot of the layout.
//!
//! Uses the shipped weights (weights/) unless MMGAN_TEST_WEIGHTS names another folder.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui::{Event, Modifiers, PointerButton, Pos2, Vec2};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use mmgan::engine::BackendChoice;
use mmgan::io::Sequence;
use mmgan::ui::render::LabelStyle;
use mmgan::ui::{ViewerApp, ViewerOptions};

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

fn button(h: &mut Harness<'_, ViewerApp>, pos: Pos2, button: PointerButton, pressed: bool) {
    h.input_mut().events.push(Event::PointerButton {
        pos,
        button,
        pressed,
        modifiers: Modifiers::NONE,
    });
}

fn click(h: &mut Harness<'_, ViewerApp>, pos: Pos2, b: PointerButton) {
    h.input_mut().events.push(Event::PointerMoved(pos));
    h.step();
    button(h, pos, b, true);
    h.step();
    button(h, pos, b, false);
    h.run_steps(2);
}

fn drag(h: &mut Harness<'_, ViewerApp>, from: Pos2, by: Vec2, b: PointerButton) {
    h.input_mut().events.push(Event::PointerMoved(from));
    h.step();
    button(h, from, b, true);
    h.step();
    for i in 1..=4 {
        h.input_mut()
            .events
            .push(Event::PointerMoved(from + by * (i as f32 / 4.0)));
        h.step();
    }
    button(h, from + by, b, false);
    h.run_steps(2);
}

#[test]
fn mark_flair_missing_synthesize_compare_scrub_export() {
    let options = ViewerOptions {
        study: Some(mmgan::shipped::demo_study().unwrap()),
        weights: weights(),
        backend: BackendChoice::Cpu,
        frames: None,
        screenshot: None,
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

    // The whole-volume metrics arrive from their thread, in the eval's range.
    run_until(&mut h, "the slice and whole-volume metrics", |a| {
        a.volume_quality(Sequence::Flair).is_some() && a.slice_quality(Sequence::Flair).is_some()
    });
    h.snapshot("viewer_demo_flair_synthetic");
    let q = h.state().volume_quality(Sequence::Flair).unwrap();
    assert!(q.brain.ssim > 0.3 && q.brain.ssim < 1.0, "{q:?}");

    // The comparison modes: signed difference, absolute error, side by side, off.
    for mode in ["Signed difference", "Absolute error"] {
        h.get_by_label(mode).click();
        h.run_steps(3);
        assert!(h.state().showing_difference(Sequence::Flair), "{mode}");
        assert!(
            !h.state().showing_difference(Sequence::T1),
            "T1 is acquired"
        );
    }
    h.get_by_label("Side by side").click();
    h.run_steps(3);
    assert!(h.state().showing_side_by_side(Sequence::Flair));
    h.get_by_label("Off").click();
    h.run_steps(3);
    assert!(!h.state().showing_difference(Sequence::Flair));
    assert!(!h.state().showing_side_by_side(Sequence::Flair));

    // A click places the crosshair; the status bar gives every sequence's value there,
    // the synthesized one labelled.
    let t1 = h.state().panel_rect(Sequence::T1).unwrap();
    click(&mut h, t1.center(), PointerButton::Primary);
    let [x, y] = h.state().crosshair().expect("a click places the crosshair");
    assert!(
        (100..140).contains(&x) && (100..140).contains(&y),
        "{x} {y}"
    );
    let status = h.state().crosshair_status().unwrap();
    assert!(status.contains(&format!("voxel ({x}, {y}, ")), "{status}");
    assert!(
        status.contains("FLAIR") && status.contains("synthetic (acquired"),
        "{status}"
    );
    assert!(h.query_by_label_contains("RAS (").is_some());

    // Ctrl+wheel (a zoom gesture) zooms every panel; the voxel under the pointer stays.
    h.input_mut().events.push(Event::PointerMoved(t1.center()));
    h.input_mut().events.push(Event::Zoom(2.0));
    h.run_steps(2);
    assert!(
        (h.state().zoom() - 2.0).abs() < 1e-3,
        "{}",
        h.state().zoom()
    );
    click(&mut h, t1.center(), PointerButton::Primary);
    assert_eq!(h.state().crosshair(), Some([x, y]));

    // Right-drag sets the window of that sequence only; "auto W/L" resets it.
    drag(
        &mut h,
        t1.center(),
        Vec2::new(60.0, 0.0),
        PointerButton::Secondary,
    );
    let (lo, hi) = h
        .state()
        .user_window(Sequence::T1)
        .expect("right-drag sets a window");
    assert!(hi > lo);
    assert!(h.state().user_window(Sequence::T2).is_none());
    h.get_by_label("auto W/L").click();
    h.run_steps(2);
    assert!(h.state().user_window(Sequence::T1).is_none());

    // The tumour labels of the phantom draw on every panel.
    h.state_mut().set_labels(LabelStyle::Outline);
    h.run_steps(2);
    assert!(h.state().showing_labels(Sequence::T2));
    // Zoomed, crosshair, outlines, FLAIR side by side with its ground truth, on the slice
    // with the most tumour.
    let study = mmgan::io::Study::open(&mmgan::shipped::demo_study().unwrap()).unwrap();
    let labels = &study.label.as_ref().unwrap().data;
    let tumour_z = (0..labels.shape()[2])
        .max_by_key(|&z| {
            labels
                .index_axis(ndarray::Axis(2), z)
                .iter()
                .filter(|l| **l > 0.0)
                .count()
        })
        .unwrap();
    h.state_mut().set_slice(tumour_z);
    h.get_by_label("Side by side").click();
    h.run_steps(3);
    run_until(&mut h, "the slice metrics", |a| {
        a.slice_quality(Sequence::Flair).is_some()
    });
    h.snapshot("viewer_demo_side_by_side_labels");
    h.get_by_label("Off").click();
    h.state_mut().set_labels(LabelStyle::Off);
    h.run_steps(2);
    assert!(!h.state().showing_labels(Sequence::T2));

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
