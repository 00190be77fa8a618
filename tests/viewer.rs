//! The viewer, driven headlessly with egui_kittest: open the demo study, mark FLAIR
//! missing, let the worker synthesize it, check the SYNTHETIC marking, the difference map,
//! scrubbing and export, and take a snapshot of the layout.
//!
//! Uses the shipped weights (weights/) unless MMGAN_TEST_WEIGHTS names another folder.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

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

/// The viewer on `study` (none: empty window) with `missing` marked, on the CPU.
fn viewer(
    study: Option<PathBuf>,
    missing: Vec<Sequence>,
    size: [f32; 2],
) -> Harness<'static, ViewerApp> {
    viewer_built(Harness::builder().with_size(size), study, missing)
}

/// The viewer as `viewer` opens it, from a harness builder the caller configured (size,
/// renderer).
fn viewer_built(
    builder: egui_kittest::HarnessBuilder<ViewerApp>,
    study: Option<PathBuf>,
    missing: Vec<Sequence>,
) -> Harness<'static, ViewerApp> {
    start(builder, options(study, vec![weights()], missing))
}

/// How the tests open the viewer: on the CPU, axial, no overlay.
fn options(study: Option<PathBuf>, weights: Vec<PathBuf>, missing: Vec<Sequence>) -> ViewerOptions {
    ViewerOptions {
        study,
        weights,
        backend: BackendChoice::Cpu,
        frames: None,
        screenshot: None,
        missing,
        plane: mmgan::ui::view::Plane::Axial,
        overlay: Some(mmgan::ui::render::Difference::Off),
    }
}

/// The viewer with `options`, from a harness builder the caller configured.
fn start(
    builder: egui_kittest::HarnessBuilder<ViewerApp>,
    options: ViewerOptions,
) -> Harness<'static, ViewerApp> {
    let mut h = builder.build_eframe(|cc| ViewerApp::new(cc, options));
    // Off unless a test wants it: it competes for the cores and its panel would make
    // snapshots depend on timing.
    h.state_mut().show_self_check(false);
    h
}

/// Type `folder` as the export folder and press "Export synthesized"; it must succeed.
fn export_through_the_ui(h: &mut Harness<'_, ViewerApp>, folder: &std::path::Path) {
    h.state_mut().set_export_path(folder);
    h.get_by_label("Export synthesized").click();
    run_until(h, "the export", |a| {
        a.message()
            .is_some_and(|(m, _)| m.starts_with("exported") || m.starts_with("export failed"))
    });
    let (m, error) = h.state().message().unwrap();
    assert!(!error, "{m}");
}

/// Step the UI (the worker runs on its own thread) until `done` or the timeout. The
/// timeout only catches a hang: on 2 busy cores a self-check took 87 s alone and past 120 s
/// beside the other viewer tests, so it is generous.
fn run_until(h: &mut Harness<'_, ViewerApp>, what: &str, done: impl Fn(&ViewerApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(300),
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
    let mut h = viewer(
        Some(mmgan::shipped::demo_study().unwrap()),
        vec![],
        [1200.0, 860.0],
    );
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
    let [x, y, _] = h.state().crosshair().expect("a click places the crosshair");
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
    assert_eq!(h.state().crosshair().map(|[x, y, _]| [x, y]), Some([x, y]));

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
                .filter(|l| **l > 0)
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
    export_through_the_ui(&mut h, out.path());
    let file = out.path().join("Phantom-2026-000_flair_synthetic.nii.gz");
    let v = mmgan::io::read_volume(&file).unwrap();
    assert_eq!(v.dims(), [240, 240, 155]);
    assert!(String::from_utf8_lossy(&v.header.descrip)
        .starts_with("SYNTHETIC FLAIR, MM-GAN from T1,T1c,T2"));
}

/// A file dropped on the window, as the platform integration hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl eframe::egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn dropped_files_open_unticking_cancels_and_file_save_screenshot_writes_the_window() {
    let mut h = viewer(None, vec![Sequence::T2], [1000.0, 760.0]);
    h.run_steps(2);
    assert!(!h.state().has_study());

    // The demo's four files (not its folder) dropped on the window open as one study.
    let demo = mmgan::shipped::demo_study().unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".nii.gz"))
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        h.input_mut()
            .dropped_files
            .push(std::sync::Arc::new(Dropped(f)));
    }
    run_until(&mut h, "the dropped study", |a| a.has_study());

    // T2 was asked missing at start: its first slice arrives, then the user unticks it
    // mid-synthesis: marking, slices and progress are gone at once, and late answers of
    // that request never bring them back.
    run_until(&mut h, "the first synthesized T2 slice", |a| {
        a.is_synthetic_shown(Sequence::T2)
    });
    h.get_by_label("T2 missing").click();
    h.run_steps(2);
    assert!(!h.state().is_synthetic_shown(Sequence::T2));
    assert!(!h.state().is_synthesizing());
    for _ in 0..30 {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!h.state().is_synthetic_shown(Sequence::T2));
    assert!(!h.state().synthesized(Sequence::T2));
    assert!(h.query_by_label_contains("SYNTHETIC").is_none());

    // Ticked again, then File > Save screenshot (PNG): the window lands in the export
    // folder, named synthetic because a synthesized panel is on screen.
    h.get_by_label("T2 missing").click();
    run_until(&mut h, "T2 again", |a| a.is_synthetic_shown(Sequence::T2));
    let out = tempfile::tempdir().unwrap();
    h.state_mut().set_export_path(out.path());
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Save screenshot (PNG)").click();
    run_until(&mut h, "the screenshot", |a| {
        a.message()
            .is_some_and(|(m, _)| m.starts_with("screenshot"))
    });
    let (m, error) = h.state().message().unwrap();
    assert!(!error, "{m}");
    let shots: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(shots.len(), 1, "{shots:?}");
    let name = shots[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("_view_synthetic.png"), "{name}");
    let image = image::open(&shots[0]).unwrap().to_rgba8();
    assert!(
        image.width() >= 900 && image.height() >= 700,
        "{:?}",
        image.dimensions()
    );
}

#[test]
fn export_of_a_real_lps_study_through_the_ui_equals_the_synthesizer_checked_by_nibabel() {
    let study_dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real/tcga-du-7294");
    assert!(study_dir.is_dir(), "{} is missing", study_dir.display());
    let mut h = viewer(
        Some(study_dir.clone()),
        vec![Sequence::Flair],
        [1000.0, 760.0],
    );
    run_until(&mut h, "the FLAIR synthesis", |a| {
        a.synthesized(Sequence::Flair)
    });
    let ui_out = tempfile::tempdir().unwrap();
    export_through_the_ui(&mut h, ui_out.path());

    // The same synthesis without the viewer, exported the same way.
    let study = mmgan::io::Study::open(&study_dir).unwrap();
    let synth = mmgan::engine::Synthesizer::load(&weights(), BackendChoice::Cpu).unwrap();
    let scenario =
        mmgan::model::Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair])
            .unwrap();
    let prepared = synth.prepare(&study, scenario).unwrap();
    let direct = synth
        .synthesize_volume(
            &prepared,
            &mut |_, _| {},
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
    let direct_out = tempfile::tempdir().unwrap();
    let request = mmgan::io::ExportRequest {
        sequence: Sequence::Flair,
        data: direct[0].data.view(),
        sources: &[Sequence::T1, Sequence::T1c, Sequence::T2],
        method: "MM-GAN",
    };
    let direct_file = mmgan::io::export_synthetic(&study, &[request], direct_out.path())
        .unwrap()
        .remove(0);
    let ui_file = ui_out.path().join(direct_file.file_name().unwrap());
    assert!(ui_file.is_file(), "{} not written", ui_file.display());

    // The viewer's whole-volume figures are mmgan eval's for the same volume.
    run_until(&mut h, "the whole-volume figures", |a| {
        a.volume_quality(Sequence::Flair).is_some()
    });
    let eval = mmgan::eval::volume_quality(&study, Sequence::Flair, direct[0].data.view());
    assert_eq!(h.state().volume_quality(Sequence::Flair), eval);

    // nibabel: the UI's file has the source FLAIR's affine (LPS), codes and voxels equal to
    // the Synthesizer's, and signal inside the acquired brain.
    let script = r#"
import sys, nibabel as nib, numpy as np
ui, direct, source = (nib.load(p) for p in sys.argv[1:4])
assert nib.aff2axcodes(ui.affine) == ('L', 'P', 'S'), nib.aff2axcodes(ui.affine)
assert np.allclose(ui.affine, source.affine, atol=1e-5), (ui.affine, source.affine)
assert ui.header['sform_code'] == source.header['sform_code']
assert ui.header['qform_code'] == source.header['qform_code']
a, b, s = (np.asarray(i.dataobj, dtype=np.float64) for i in (ui, direct, source))
assert a.shape == s.shape, (a.shape, s.shape)
assert np.array_equal(a, b), np.abs(a - b).max()
assert ui.header['descrip'].tobytes().startswith(b'SYNTHETIC FLAIR')
brain = s > 0
assert (a[brain] != 0).mean() > 0.9, (a[brain] != 0).mean()
print('ok')
"#;
    let source = study_dir.join("TCGA-DU-7294_fla_bet.nii.gz");
    common::python(script, &[&ui_file, &direct_file, &source]);
}

#[test]
fn coronal_and_sagittal_planes_follow_the_crosshair_and_show_the_synthesis() {
    use mmgan::ui::view::Plane;
    let demo = mmgan::shipped::demo_study().unwrap();
    let mut h = viewer(Some(demo), vec![Sequence::Flair], [1000.0, 760.0]);
    run_until(&mut h, "the FLAIR synthesis", |a| {
        a.synthesized(Sequence::Flair) && !a.is_synthesizing()
    });
    let z = h.state().slice();

    // C switches to coronal: the slice is the crosshair's y, the synthesized panel stays
    // marked, and its figures are measured on the coronal slice.
    h.key_press(eframe::egui::Key::C);
    h.run_steps(3);
    assert_eq!(h.state().plane(), Plane::Coronal);
    assert!(h.state().is_synthetic_shown(Sequence::Flair));
    assert!(h.query_by_label_contains("SYNTHETIC").is_some());
    run_until(&mut h, "coronal slice figures", |a| {
        a.slice_quality(Sequence::Flair).is_some()
    });

    // A click on the coronal T2 panel places the crosshair in x and z; y stays the slice.
    let y = h.state().slice();
    let r = h.state().panel_rect(Sequence::T2).unwrap();
    click(
        &mut h,
        r.center() + Vec2::new(0.0, -r.height() / 8.0),
        PointerButton::Primary,
    );
    let [x, cy, cz] = h.state().crosshair().expect("a click places the crosshair");
    assert_eq!(cy, y);
    assert!(cz > z, "above the centre is superior: {cz} > {z}");

    // The sagittal plane shows the crosshair's x; the axial plane its z.
    h.get_by_label("Sagittal").click();
    h.run_steps(2);
    assert_eq!((h.state().plane(), h.state().slice()), (Plane::Sagittal, x));
    h.key_press(eframe::egui::Key::A);
    h.run_steps(2);
    assert_eq!((h.state().plane(), h.state().slice()), (Plane::Axial, cz));
    // Scrolling in coronal moves y only; the report names the switches.
    h.key_press(eframe::egui::Key::C);
    h.key_press(eframe::egui::Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(h.state().crosshair(), Some([x, y + 1, cz]));
    // Both figures in, so the snapshot does not depend on timing.
    run_until(&mut h, "the figures of the new slice", |a| {
        a.slice_quality(Sequence::Flair).is_some() && a.volume_quality(Sequence::Flair).is_some()
    });
    h.snapshot("viewer_demo_coronal");
    let report = h.state().frame_report();
    assert!(!report.ends_with("drawn in -"), "{report}");
    eprintln!("{report}"); // the plane-switch frame times, for the test log

    // F1 opens the help listing every action, and closes it.
    h.key_press(eframe::egui::Key::F1);
    h.run_steps(2);
    assert!(h.query_by_label("Keys and mouse").is_some());
    assert!(h.query_by_label("hide every overlay while held").is_some());
    h.key_press(eframe::egui::Key::F1);
    h.run_steps(2);
    assert!(h.query_by_label("Keys and mouse").is_none());

    // Save as... sits on the synthesized panel alone.
    assert_eq!(h.query_all_by_label("Save as...").count(), 1);

    // A window preset on T1 only; linked, a preset carries to all four sequences.
    h.get_all_by_label("W/L").next().unwrap().click();
    h.run_steps(2);
    h.get_by_label("Narrow").click();
    h.run_steps(2);
    let (lo, hi) = h
        .state()
        .user_window(Sequence::T1)
        .expect("a preset window");
    assert!(hi > lo);
    assert!(h.state().user_window(Sequence::T2).is_none());
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Link window/level across sequences").click();
    h.run_steps(2);
    h.key_press(eframe::egui::Key::Escape);
    h.run_steps(2);
    h.get_all_by_label("W/L").nth(2).unwrap().click();
    h.run_steps(2);
    h.get_by_label("Bright lesions").click();
    h.run_steps(2);
    for seq in mmgan::io::SequenceSet::BRATS.sequences() {
        assert!(h.state().user_window(seq).is_some(), "{seq:?} linked");
    }
}

#[test]
fn the_uncertainty_overlay_arrives_in_the_background_and_keys_toggle_and_hide_it() {
    use eframe::egui::Key;
    let demo = mmgan::shipped::demo_study().unwrap();
    let mut h = viewer(Some(demo), vec![Sequence::Flair], [1000.0, 760.0]);
    run_until(&mut h, "the FLAIR synthesis", |a| {
        a.synthesized(Sequence::Flair) && !a.is_synthesizing()
    });
    assert!(
        !h.state().uncertainty_ready(Sequence::Flair),
        "not asked yet"
    );
    h.get_by_label("Uncertainty").click();
    h.run_steps(2);
    run_until(&mut h, "the uncertainty", |a| {
        a.uncertainty_ready(Sequence::Flair) && !a.is_synthesizing()
    });
    h.run_steps(2);
    assert!(h.state().showing_uncertainty(Sequence::Flair));
    assert!(
        !h.state().showing_uncertainty(Sequence::T1),
        "T1 is acquired"
    );
    assert!(!h.state().showing_difference(Sequence::Flair));

    // O turns it off and on again; H held hides it.
    let key = |h: &mut Harness<'_, ViewerApp>, key: Key, pressed: bool| {
        h.input_mut().events.push(Event::Key {
            key,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers: Modifiers::NONE,
        });
        h.run_steps(2);
    };
    h.key_press(Key::O);
    h.run_steps(2);
    assert!(!h.state().showing_uncertainty(Sequence::Flair));
    h.key_press(Key::O);
    h.run_steps(2);
    assert!(h.state().showing_uncertainty(Sequence::Flair));
    key(&mut h, Key::H, true);
    assert!(
        !h.state().showing_uncertainty(Sequence::Flair),
        "hidden while H is held"
    );
    key(&mut h, Key::H, false);
    assert!(h.state().showing_uncertainty(Sequence::Flair));

    // Unticked: the synthesis and its uncertainty are gone with it.
    h.get_by_label("FLAIR missing").click();
    h.run_steps(2);
    assert!(!h.state().uncertainty_ready(Sequence::Flair));
    assert!(!h.state().showing_uncertainty(Sequence::Flair));
}

#[test]
fn the_self_check_panel_scores_each_acquired_input_from_the_others() {
    let demo = mmgan::shipped::demo_study().unwrap();
    let mut h = viewer(Some(demo), vec![Sequence::Flair], [1100.0, 760.0]);
    h.state_mut().show_self_check(true);
    run_until(&mut h, "the self-check", |a| a.self_check().is_some());
    assert!(h.query_by_label("Self-check").is_some(), "the side panel");
    let rows = h.state().self_check().unwrap().to_vec();
    // FLAIR is marked missing: it is no input, so T1, T1c and T2 are checked.
    assert_eq!(
        rows.iter().map(|r| r.sequence).collect::<Vec<_>>(),
        vec![Sequence::T1, Sequence::T1c, Sequence::T2]
    );
    for r in &rows {
        assert!(
            r.quality.brain.ssim > 0.0 && r.quality.brain.ssim < 1.0,
            "{r:?}"
        );
        assert!(
            r.validation.is_some(),
            "the shipped weights carry validation figures"
        );
    }
    assert_eq!(
        h.query_all_by_label_contains(" dB").count(),
        3,
        "one row each"
    );
}

#[test]
fn the_wgsl_path_draws_the_viewer_users_see() {
    // The harness renders through wgpu (Mesa's software Vulkan without a GPU): the app
    // finds a wgpu render state and draws its slices with shaders/slice.wgsl.
    let mut h = viewer_built(
        Harness::builder().with_size([1000.0, 760.0]).wgpu(),
        Some(mmgan::shipped::demo_study().unwrap()),
        vec![Sequence::Flair],
    );
    assert!(
        h.state().renderer().starts_with("wgpu") || h.state().renderer().contains("Vulkan"),
        "{}",
        h.state().renderer()
    );
    run_until(&mut h, "the FLAIR synthesis and its figures", |a| {
        a.synthesized(Sequence::Flair)
            && a.volume_quality(Sequence::Flair).is_some()
            && a.slice_quality(Sequence::Flair).is_some()
    });
    h.snapshot("viewer_demo_flair_wgsl");
}

#[test]
fn the_model_menu_switches_weights_and_synthesizes_again_with_them() {
    // A second weights folder of another method: a small MM-Synthesis network.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("mmsynthesis");
    let device = burn::tensor::Device::flex();
    let config = mmgan::model::MmSynthesisConfig::new()
        .with_width(2)
        .with_latent(4);
    let mut meta = common::test_weights_meta(mmgan::model::GeneratorConfig::new());
    meta.set_network(mmgan::model::NetworkConfig::MmSynthesis(config.clone()));
    mmgan::model::save_network(
        &other,
        &mmgan::model::Network::MmSynthesis(config.init(&device)),
        &meta,
    )
    .unwrap();
    // And a third: pGAN, which takes exactly one input.
    let pgan = dir.path().join("pgan");
    let pgan_config = mmgan::model::PGanConfig::new().with_width(2).with_blocks(1);
    meta.set_network(mmgan::model::NetworkConfig::PGan(pgan_config.clone()));
    mmgan::model::save_network(
        &pgan,
        &mmgan::model::Network::PGan(pgan_config.init(&device)),
        &meta,
    )
    .unwrap();
    let mut h = start(
        Harness::builder().with_size([1200.0, 860.0]),
        options(
            Some(mmgan::shipped::demo_study().unwrap()),
            vec![weights(), other, pgan],
            vec![Sequence::Flair],
        ),
    );
    let done_with = |method: &'static str| {
        move |a: &ViewerApp| {
            a.model().1 == method && a.synthesized(Sequence::Flair) && !a.is_synthesizing()
        }
    };
    run_until(&mut h, "the MM-GAN synthesis", done_with("MM-GAN"));
    assert_eq!(h.state().model().0, 0);

    h.get_by_label("Model").click();
    h.run_steps(2);
    h.query_by_label_contains("mmsynthesis")
        .expect("the Model menu lists the second folder")
        .click();
    h.run_steps(2);
    assert_eq!(h.state().model().0, 1);
    run_until(
        &mut h,
        "the MM-Synthesis synthesis",
        done_with("MM-Synthesis"),
    );
    assert!(
        h.query_by_label_contains("MM-Synthesis on").is_some(),
        "the status bar names the method in use"
    );
    assert!(h.query_by_label_contains("SYNTHETIC").is_some());
    assert!(h.query_by_label_contains("synthesis failed").is_none());

    // pGAN with three inputs: refused in words, the window alive, nothing synthesizing.
    h.get_by_label("Model").click();
    h.run_steps(2);
    h.query_by_label_contains("pgan")
        .expect("the Model menu lists the third folder")
        .click();
    run_until(&mut h, "pGAN's refusal", |a: &ViewerApp| {
        a.message()
            .is_some_and(|(m, error)| error && m.contains("exactly one available sequence"))
    });
    assert_eq!(h.state().model().0, 2);
    assert!(!h.state().is_synthesizing());
}

#[test]
fn a_stroke_model_shows_its_own_panels_and_synthesizes_dwi() {
    // A small untrained T1/T2/DWI/FLAIR model: the panels and the path are what is tested.
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("stroke");
    let config = mmgan::model::GeneratorConfig::new()
        .with_width(4)
        .with_depth(3);
    let mut meta = common::test_weights_meta(config.clone());
    meta.set_sequences(mmgan::io::SequenceSet::ISLES);
    let device = burn::tensor::Device::flex();
    mmgan::model::save_generator(&weights, &config.init(&device), &meta).unwrap();
    let study = common::stroke_phantom(dir.path(), 7);
    let mut h = start(
        Harness::builder().with_size([1200.0, 860.0]),
        options(Some(study), vec![weights], vec![Sequence::Dwi]),
    );
    run_until(&mut h, "the DWI synthesis", |a| {
        a.synthesized(Sequence::Dwi) && !a.is_synthesizing()
    });
    for seq in mmgan::io::SequenceSet::ISLES.sequences() {
        assert!(h.state().panel_rect(seq).is_some(), "a {seq} panel");
    }
    assert!(
        h.state().panel_rect(Sequence::T1c).is_none(),
        "no T1c panel"
    );
    assert!(h.query_by_label("DWI missing").is_some());
    assert!(h.query_by_label("T1c missing").is_none());
    assert!(h.query_by_label_contains("SYNTHETIC").is_some());
    assert!(!h.state().synthesized(Sequence::T1));
    assert!(h.query_by_label_contains("synthesis failed").is_none());
}
