//! Uncertainty maps (Monte Carlo dropout): shape, units, the brain only, a real spread,
//! and their export marked synthetic.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::atomic::AtomicBool;

use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::io::{export_volumes, read_volume, ExportKind, ExportRequest, Sequence, Study};
use mmgan::model::{save_generator, GeneratorConfig, Scenario};

#[test]
fn dropout_passes_give_a_non_negative_spread_inside_the_brain() {
    let dir = tempfile::tempdir().unwrap();
    let study_dir = dir.path().join("toy");
    common::write_toy_subject(&study_dir, [56, 60, 10], 1);
    let config = GeneratorConfig::new().with_width(4).with_depth(4);
    let meta = common::test_weights_meta(config.clone());
    let device = burn::tensor::Device::flex();
    let w = dir.path().join("w");
    save_generator(&w, &config.init(&device), &meta).unwrap();
    let synth = Synthesizer::load(&w, BackendChoice::Cpu).unwrap();
    let study = Study::open(&study_dir).unwrap();
    let scenario = Scenario::with_missing(&[Sequence::Flair]).unwrap();
    let prepared = synth.prepare(&study, scenario).unwrap();
    let maps = synth
        .uncertainty_volume(&prepared, 4, &mut |_, _| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(maps.len(), 1);
    let sd = &maps[0].data;
    assert_eq!(sd.shape(), &[56, 60, 10]);
    assert!(sd.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(
        sd.iter().any(|v| *v > 0.0),
        "dropout must make the passes differ"
    );
    let brain = mmgan::eval::study_brain(&study);
    assert!(sd
        .iter()
        .zip(brain.iter())
        .all(|(v, inside)| *inside || *v == 0.0));
    // Cancelled: an error, nothing returned.
    assert!(synth
        .uncertainty_volume(&prepared, 4, &mut |_, _| {}, &AtomicBool::new(true))
        .is_err());

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let req = ExportRequest {
        sequence: Sequence::Flair,
        data: sd.view(),
        sources: &[Sequence::T1, Sequence::T1c, Sequence::T2],
    };
    let written = export_volumes(&study, &[req], ExportKind::Uncertainty { passes: 4 }, &out)
        .unwrap()
        .remove(0);
    assert_eq!(
        written.file_name().unwrap().to_string_lossy(),
        "toy_flair_synthetic_uncertainty.nii.gz"
    );
    let back = read_volume(&written).unwrap();
    let descrip = String::from_utf8_lossy(&back.header.descrip);
    assert!(
        descrip.starts_with("SYNTHETIC FLAIR uncertainty"),
        "{descrip}"
    );
    // An uncertainty file is never taken as an input of the study.
    assert!(!Study::open(&out).is_ok_and(|s| s.has(Sequence::Flair)));
}
