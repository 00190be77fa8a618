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
    let keeping = c2.clone().with_keep_epochs(true);
    train(&keeping, &straight, false, &device, &stop, &mut |_| {}).unwrap();
    // Every epoch's weights kept; the last is the run's weights.
    let record = |dir: std::path::PathBuf| std::fs::read(dir.join("generator.bpk")).unwrap();
    let epochs = straight.join("epochs");
    assert!(epochs.join("1").join("generator.json").is_file());
    assert_eq!(record(epochs.join("2")), record(straight.join("weights")));
    assert_ne!(record(epochs.join("1")), record(epochs.join("2")));
    // Interrupted in the middle of epoch 1 (after its second batch), as Ctrl-C does.
    let resumed = dir.path().join("resumed");
    let interrupt = AtomicBool::new(false);
    let mut interrupted_at = None;
    train(
        &c2,
        &resumed,
        false,
        &device,
        &interrupt,
        &mut |e| match e {
            mmgan::train::TrainEvent::Batch {
                epoch: 1, done: 2, ..
            } => interrupt.store(true, std::sync::atomic::Ordering::SeqCst),
            mmgan::train::TrainEvent::Interrupted {
                epoch,
                batches_done,
            } => interrupted_at = Some((epoch, batches_done)),
            _ => {}
        },
    )
    .unwrap();
    assert_eq!(interrupted_at, Some((1, 2)));
    // A second fresh start on the same folder is refused.
    assert!(train(&c2, &resumed, false, &device, &stop, &mut |_| {})
        .unwrap_err()
        .to_string()
        .contains("--resume"));
    // Resuming with another network is refused, naming what to keep.
    let mut wider = common::tiny_config(&data, 2);
    wider.generator = mmgan::model::GeneratorConfig::new()
        .with_width(16)
        .with_depth(6);
    let err = train(&wider, &resumed, true, &device, &stop, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("another network config") && err.contains("--width"),
        "{err}"
    );
    train(&c2, &resumed, true, &device, &stop, &mut |_| {}).unwrap();

    let log = std::fs::read_to_string(resumed.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(straight.join("split.json")).unwrap())
            .unwrap();
    assert_eq!(split["test"].as_array().unwrap().len(), 1);

    // A subject named with --hold-out is never trained on, whatever the shuffle.
    let held = dir.path().join("held");
    let c = common::tiny_config(&data, 1)
        .with_hold_out(vec!["toy-01".into()])
        .with_max_batches(Some(1));
    train(&c, &held, false, &device, &stop, &mut |_| {}).unwrap();
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(held.join("split.json")).unwrap()).unwrap();
    let names = |k: &str| -> Vec<String> {
        split[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("test").contains(&"toy-01".to_string()));
    assert!(!names("train").contains(&"toy-01".to_string()));
    let (_, meta) = load_generator(&held.join("weights"), &device).unwrap();
    assert!(!meta.training.train_subjects.contains(&"toy-01".to_string()));

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
    let scenario = Scenario::with_missing(
        mmgan::io::SequenceSet::BRATS,
        &[Sequence::T2, Sequence::Flair],
    )
    .unwrap();
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
    let slice = synth.synthesize_slices(&prepared, &[5]).unwrap().remove(0);
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
    assert!(matches!(
        synth.synthesize_volume(&prepared, &mut |_, _| {}, &AtomicBool::new(true)),
        Err(mmgan::engine::EngineError::Cancelled)
    ));
    // A scenario needing an input the study lacks is refused.
    std::fs::remove_file(data.join("toy-02/t1.nii.gz")).unwrap();
    let partial = Study::open(&data.join("toy-02")).unwrap();
    let err = synth
        .prepare(
            &partial,
            Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("T1") && err.contains("does not have"), "{err}");

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
    // A row equals the metric computed directly: copying T2 for a missing FLAIR.
    let row = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scenario"] == "T1,T1c,T2 -> FLAIR" && r["method"] == "CopyMostSimilar")
        .unwrap();
    let toy = Study::open(&data.join("toy-00")).unwrap();
    let brain = mmgan::data::brain_mask(
        mmgan::io::SequenceSet::BRATS
            .sequences()
            .iter()
            .map(|q| toy.volume(*q).unwrap().data.view()),
    );
    let direct = mmgan::metrics::challenge_volume(
        toy.volume(Sequence::T2).unwrap().data.view(),
        toy.volume(Sequence::Flair).unwrap().data.view(),
        brain.view(),
        toy.label.as_ref().map(|l| l.data.view()),
    );
    for (field, value) in [("psnr", direct.brain.psnr), ("ssim", direct.brain.ssim)] {
        let got = row["brain"][field].as_f64().unwrap();
        assert!(
            (got - value).abs() < 1e-4,
            "{field}: table {got}, direct {value}"
        );
    }

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
