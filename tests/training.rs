//! Training runs end to end: exact resume, then the run's weights through the inference
//! API, `mmgan eval` and `mmgan synthesize`.
//!
//! Alone in its own test binary: burn's random generator is process-wide, and tests running
//! beside it in parallel would draw from it and break the exact-resume comparison.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::atomic::AtomicBool;

use burn::tensor::{Device, Distribution, Tensor};
use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::io::{Sequence, Study};
use mmgan::model::{load_generator, Scenario};
use mmgan::train::train;

#[test]
fn training_resumes_exactly_and_writes_usable_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::toy_data(dir.path(), 3);
    let device = Device::flex();
    let stop = AtomicBool::new(false);
    let c2 = common::tiny_config(&data, 2);
    let straight = dir.path().join("straight");
    train(&c2, &straight, false, &device, &stop, &mut |_| {}).unwrap();
    let c1 = common::tiny_config(&data, 1);
    let resumed = dir.path().join("resumed");
    train(&c1, &resumed, false, &device, &stop, &mut |_| {}).unwrap();
    // A second fresh start on the same folder is refused.
    assert!(train(&c1, &resumed, false, &device, &stop, &mut |_| {})
        .unwrap_err()
        .to_string()
        .contains("--resume"));
    train(&c2, &resumed, true, &device, &stop, &mut |_| {}).unwrap();

    let log = std::fs::read_to_string(resumed.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(straight.join("split.json")).unwrap())
            .unwrap();
    assert_eq!(split["test"].as_array().unwrap().len(), 1);

    let (a, ma) = load_generator(&straight.join("weights"), &device).unwrap();
    let (b, _) = load_generator(&resumed.join("weights"), &device).unwrap();
    assert_eq!(ma.training.epochs, 2);
    let x = Tensor::<4>::random([1, 4, 64, 64], Distribution::Default, &device);
    let ya: Vec<f32> = a
        .forward(x.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let yb: Vec<f32> = b.forward(x).into_data().try_to_vec::<f32>().unwrap();
    let max = ya
        .iter()
        .zip(&yb)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max < 1e-4, "resumed run differs by {max}");

    // The weights synthesize a study on its own grid; slice and volume paths agree.
    let synth = Synthesizer::load(&straight.join("weights"), BackendChoice::Cpu).unwrap();
    let study = Study::open(&data.join("toy-01")).unwrap();
    let scenario = Scenario::with_missing(&[Sequence::T2, Sequence::Flair]).unwrap();
    let prepared = synth.prepare(&study, scenario).unwrap();
    let mut calls = 0;
    let vols = synth
        .synthesize_volume(&prepared, &mut |_, _| calls += 1, &AtomicBool::new(false))
        .unwrap();
    assert!(calls >= 2);
    assert_eq!(
        vols.iter().map(|v| v.sequence).collect::<Vec<_>>(),
        vec![Sequence::T2, Sequence::Flair]
    );
    assert_eq!(vols[0].data.shape(), &[56, 60, 10]);
    let slice = synth.synthesize_slice(&prepared, 5).unwrap();
    let from_volume = vols[1].data.index_axis(ndarray::Axis(2), 5);
    let max = slice[1]
        .1
        .iter()
        .zip(from_volume.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max < 1e-3 * (1.0 + from_volume.iter().fold(0.0f32, |a, b| a.max(*b))),
        "{max}"
    );
    // Outside the brain stays zero.
    assert_eq!(vols[0].data[[0, 0, 5]], 0.0);
    // Cancelled before the first batch: an error, nothing returned.
    assert!(synth
        .synthesize_volume(&prepared, &mut |_, _| {}, &AtomicBool::new(true))
        .is_err());
    // A scenario needing an input the study lacks is refused.
    std::fs::remove_file(data.join("toy-02/t1.nii.gz")).unwrap();
    let partial = Study::open(&data.join("toy-02")).unwrap();
    assert!(synth
        .prepare(
            &partial,
            Scenario::with_missing(&[Sequence::Flair]).unwrap()
        )
        .is_err());

    // Evaluation writes a complete table: 28 (scenario, missing sequence) pairs x 3 methods.
    let out = dir.path().join("eval");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_mmgan"))
        .args(["eval", "--backend", "cpu", "--weights"])
        .arg(straight.join("weights"))
        .arg("--data")
        .arg(data.join("toy-00"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let csv = std::fs::read_to_string(out.join("eval.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 28 * 3);
    let md = std::fs::read_to_string(out.join("eval.md")).unwrap();
    assert!(
        md.contains("T1,T1c,T2 -> FLAIR")
            && md.contains("copy most similar")
            && md.contains("mean of available")
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).unwrap()).unwrap();
    assert!(
        json["rows"][0]["tumour"]["ssim"].is_number(),
        "label map gives tumour metrics"
    );

    // `mmgan synthesize` writes the missing sequences, marked synthetic.
    let syn = dir.path().join("syn");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mmgan"))
        .args([
            "synthesize",
            "--backend",
            "cpu",
            "--missing",
            "flair",
            "--weights",
        ])
        .arg(straight.join("weights"))
        .arg(data.join("toy-01"))
        .arg("--out")
        .arg(&syn)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = mmgan::io::read_volume(&syn.join("toy-01_flair_synthetic.nii.gz")).unwrap();
    assert_eq!(v.dims(), [56, 60, 10]);
    assert!(String::from_utf8_lossy(&v.header.descrip)
        .starts_with("SYNTHETIC FLAIR, MM-GAN from T1,T1c,T2"));
}
