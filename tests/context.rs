//! 2.5D MM-GAN (neighbouring slices as input): a 2D generator given neighbours with zero
//! weights synthesizes what it did alone, through the engine, slice by slice as the viewer
//! asks and for the whole volume; a run started from 2D weights trains and its weights
//! load and synthesize.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use mmgan::engine::{BackendChoice, Synthesizer};
use mmgan::io::{Sequence, SequenceSet, Study};
use mmgan::model::{save_generator, GeneratorConfig, Scenario};
use mmgan::train::train;

#[test]
fn neighbours_with_zero_weights_synthesize_what_the_slice_alone_did() {
    let dir = tempfile::tempdir().unwrap();
    let study_dir = dir.path().join("toy");
    common::write_toy_subject(&study_dir, [56, 60, 10], 3);
    let flat = GeneratorConfig::new().with_width(4).with_depth(4);
    let deep = flat.clone().with_context(2);
    let g = flat.init(&Device::flex());
    let (w_flat, w_deep) = (dir.path().join("flat"), dir.path().join("deep"));
    save_generator(&w_flat, &g, &common::test_weights_meta(flat.clone())).unwrap();
    let g = g.add_context(&flat, &deep).unwrap();
    save_generator(&w_deep, &g, &common::test_weights_meta(deep)).unwrap();

    let study = Study::open(&study_dir).unwrap();
    let scenario = Scenario::with_missing(SequenceSet::BRATS, &[Sequence::T1c]).unwrap();
    let volume = |w: &std::path::Path| {
        let synth = Synthesizer::load(w, BackendChoice::Cpu).unwrap();
        let prepared = synth.prepare(&study, scenario).unwrap();
        let out = synth
            .synthesize_volume(&prepared, &mut |_, _| {}, &AtomicBool::new(false))
            .unwrap();
        out[0].data.clone()
    };
    let (alone, with_neighbours) = (volume(&w_flat), volume(&w_deep));
    assert!(alone.iter().any(|v| *v != 0.0));
    let worst = common::max_abs_diff(alone.iter(), with_neighbours.iter());
    let scale = alone.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(worst <= 1e-4 * scale, "moved by {worst} of {scale}");

    // As the viewer asks: one slice prepared, then synthesized; its neighbours (two a
    // side) were converted with it, and the edge slice reads zeros past the volume.
    let synth = Synthesizer::load(&w_deep, BackendChoice::Cpu).unwrap();
    // The viewer's first pass, on an empty input of the network's shape.
    synth.warm_up().unwrap();
    for z in [5, 0, 9] {
        let prepared = synth.prepare_for(&study, scenario, &[z]).unwrap();
        let slices = synth.synthesize_slices(&prepared, &[z]).unwrap();
        let (seq, slice) = &slices[0][0];
        assert_eq!(*seq, Sequence::T1c);
        let expected = with_neighbours.index_axis(ndarray::Axis(2), z);
        let worst = common::max_abs_diff(slice.iter(), expected.iter());
        assert!(worst <= 1e-4 * scale.max(1e-6), "slice {z}: {worst}");
    }
}

#[test]
fn a_run_from_2d_weights_reads_neighbours_and_its_weights_synthesize() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::toy_data(dir.path(), 3);
    let device = Device::flex();
    let stop = AtomicBool::new(false);
    let flat = common::tiny_config(&data, 1).with_max_batches(Some(1));
    let run2d = dir.path().join("run2d");
    train(&flat, &run2d, false, &device, &stop, &mut |_| {}).unwrap();

    let mut deep = flat.clone();
    deep.generator = deep.generator.clone().with_context(1);
    let deep = deep.with_init(Some(run2d.join("weights").display().to_string()));
    let run = dir.path().join("run25d");
    train(&deep, &run, false, &device, &stop, &mut |_| {}).unwrap();
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("weights").join("generator.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["generator"]["context"], 1, "{sidecar}");

    let synth = Synthesizer::load(&run.join("weights"), BackendChoice::Cpu).unwrap();
    let study = Study::open(&data.join("toy-00")).unwrap();
    let scenario = Scenario::with_missing(SequenceSet::BRATS, &[Sequence::Flair]).unwrap();
    let prepared = synth.prepare(&study, scenario).unwrap();
    let out = synth
        .synthesize_volume(&prepared, &mut |_, _| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(out[0].data.shape(), &[56, 60, 10]);
    assert!(out[0].data.iter().all(|v| v.is_finite()));
    assert!(out[0].data.iter().any(|v| *v != 0.0));
}
