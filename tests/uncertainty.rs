//! Uncertainty maps (Monte Carlo dropout joined with the expected error): shape, units, the
//! brain only, a real spread, the error table `mmgan calibrate` fits, and their export
//! marked synthetic.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::atomic::AtomicBool;

use mmgan::data::{ExpectedError, ERROR_BINS};
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
    let scenario =
        Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap();
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
        method: "MM-GAN",
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

#[test]
fn calibration_fits_an_error_table_and_maps_never_fall_below_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = GeneratorConfig::new().with_width(4).with_depth(4);
    let device = burn::tensor::Device::flex();
    let generator = config.init(&device);
    let w = dir.path().join("w");
    save_generator(&w, &generator, &common::test_weights_meta(config.clone())).unwrap();
    let studies: Vec<Study> = (1..=2)
        .map(|seed| {
            let d = dir.path().join(format!("toy{seed}"));
            common::write_toy_subject(&d, [56, 60, 10], seed);
            Study::open(&d).unwrap()
        })
        .collect();
    let mut synth = Synthesizer::load(&w, BackendChoice::Cpu).unwrap();
    let only = [Sequence::T1, Sequence::Flair];
    let (calibration, expected) = synth.fit_calibration(&studies, &only, &mut |_| {}).unwrap();
    for (c, seq) in mmgan::io::SequenceSet::BRATS
        .sequences()
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            calibration.curves[c].is_empty(),
            !only.contains(&seq),
            "{seq}: only the chosen sequences are calibrated"
        );
        let table = &expected.by_intensity[c];
        assert_eq!(
            table.len(),
            ERROR_BINS,
            "{seq}: every sequence gets a table"
        );
        assert!(table
            .iter()
            .all(|e| e.is_finite() && (0.0..=1.0).contains(e)));
        assert!(
            table.iter().any(|e| *e > 0.0),
            "{seq}: an untrained model errs"
        );
    }

    // With a known table the map is at least that error, in study units, in the brain.
    let mut meta = common::test_weights_meta(config.clone());
    meta.expected_error = Some(ExpectedError {
        by_intensity: std::array::from_fn(|_| vec![0.25; ERROR_BINS]),
    });
    let w2 = dir.path().join("w2");
    save_generator(&w2, &generator, &meta).unwrap();
    let synth = Synthesizer::load(&w2, BackendChoice::Cpu).unwrap();
    let scenario = Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::T2]).unwrap();
    let prepared = synth.prepare(&studies[0], scenario).unwrap();
    let range = prepared.range(Sequence::T2).unwrap();
    let floor = 0.25 * (range.hi - range.lo);
    let map = synth
        .uncertainty_volume(&prepared, 2, &mut |_, _| {}, &AtomicBool::new(false))
        .unwrap()
        .remove(0)
        .data;
    let brain = mmgan::eval::study_brain(&studies[0]);
    let mut inside = 0;
    ndarray::Zip::from(&map).and(&brain).for_each(|&v, &b| {
        if b {
            inside += 1;
            assert!(v >= floor * 0.999, "{v} below the expected error {floor}");
        } else {
            assert_eq!(v, 0.0);
        }
    });
    assert!(inside > 0);
}
