//! Fine-tuning: a run that starts from given weights (`--init`), with folder-balanced
//! batches and mirroring. Its own test binary: burn's random generator is process-wide
//! (see tests/training.rs).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use mmgan::data::Fit;
use mmgan::model::{load_generator, DiscriminatorConfig, GeneratorConfig};
use mmgan::train::{train, TrainConfig};

use common::{tiny_config, toy_data};

#[test]
fn fine_tuning_starts_from_given_weights_of_the_same_shape() {
    let dir = tempfile::tempdir().unwrap();
    let data = toy_data(dir.path(), 3);
    let device = Device::flex();
    let stop = AtomicBool::new(false);
    let base = dir.path().join("base");
    train(
        &tiny_config(&data, 1),
        &base,
        false,
        &device,
        &stop,
        &mut |_| {},
    )
    .unwrap();

    let tuned = dir.path().join("tuned");
    let c = tiny_config(&data, 1)
        .with_init(Some(base.join("weights").display().to_string()))
        .with_balance_folders(true)
        .with_flip(true)
        .with_curriculum(false);
    train(&c, &tuned, false, &device, &stop, &mut |_| {}).unwrap();
    let (_, meta) = load_generator(&tuned.join("weights"), &device).unwrap();
    let from = meta
        .training
        .started_from
        .expect("fine-tuned weights name their start");
    assert_eq!(from.training.epochs, 1);
    assert!(from.weights.ends_with("weights"));

    // The run really starts from those weights: with a learning rate of 0 the generator
    // comes out exactly as it went in (a run that ignored --init would be a fresh random
    // network).
    let frozen = dir.path().join("frozen");
    train(
        &c.clone().with_lr(0.0),
        &frozen,
        false,
        &device,
        &stop,
        &mut |_| {},
    )
    .unwrap();
    let output = |w: &std::path::Path| -> Vec<f32> {
        use burn::tensor::{Tensor, TensorData};
        let (g, _) = load_generator(w, &device).unwrap();
        let x: Vec<f32> = (0..4 * 64 * 64)
            .map(|i| ((i * 37) % 101) as f32 / 101.0)
            .collect();
        g.forward(Tensor::<4>::from_data(
            TensorData::new(x, [1, 4, 64, 64]),
            &device,
        ))
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
    };
    let (start, after) = (
        output(&base.join("weights")),
        output(&frozen.join("weights")),
    );
    assert_eq!(start, after, "the run did not start from --init");
    let fresh = dir.path().join("fresh");
    train(
        &tiny_config(&data, 1).with_lr(0.0),
        &fresh,
        false,
        &device,
        &stop,
        &mut |_| {},
    )
    .unwrap();
    assert_ne!(start, output(&fresh.join("weights")), "a fresh run differs");

    // Wider MM-GAN weights start from the narrow function (Net2Net widening): with a
    // learning rate of 0 the width-16 generator computes what the width-8 one did.
    let run = |width: usize, name: &str| {
        let c = TrainConfig::new(
            GeneratorConfig::new().with_width(width).with_depth(6),
            DiscriminatorConfig::new().with_width(8),
            vec![data.display().to_string()],
        )
        .with_side(64)
        .with_fit(Fit::Pad)
        .with_epochs(1)
        .with_max_batches(Some(1))
        .with_lr(0.0)
        .with_init(Some(base.join("weights").display().to_string()));
        let out = dir.path().join(name);
        train(&c, &out, false, &device, &stop, &mut |_| {}).map(|_| out.join("weights"))
    };
    let wide = run(16, "wide").unwrap();
    let (_, meta) = load_generator(&wide, &device).unwrap();
    assert_eq!(
        meta.network().unwrap().describe(),
        "MM-GAN width 16, depth 6"
    );
    let scale = start.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = start
        .iter()
        .zip(&output(&wide))
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        scale > 0.0 && diff <= 1e-5 * scale.max(1.0),
        "widened output differs by {diff}"
    );

    // Narrower weights are refused, naming the folder and both widths.
    let err = run(4, "narrow").unwrap_err().to_string();
    assert!(
        err.contains("weights") && err.contains("width 8") && err.contains("width 4"),
        "{err}"
    );
}
