//! The `mmgan` binary: `info` on real and bad studies, `--help`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::process::Command;

fn mmgan(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mmgan"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn info_describes_a_real_study() {
    let study = common::real_data().join("tcga-du-7294");
    let (ok, out, err) = mmgan(&["info", study.to_str().unwrap()]);
    assert!(ok, "{err}");
    for needle in [
        "TCGA-DU-7294_t1c_bet.nii.gz",
        "240x240x155",
        "orientation LPS",
        "Int16",
        "display window",
        "all 5 volumes on one grid",
        "label map",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn info_with_explicit_files_and_bad_input() {
    let real = common::real_data().join("brats-met-00110");
    let t1 = real.join("t1.nii.gz");
    let (ok, out, err) = mmgan(&[
        "info",
        "--t1",
        t1.to_str().unwrap(),
        "--t2",
        real.join("t2.nii.gz").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("FLAIR     absent"), "{out}");

    let (ok, _, err) = mmgan(&["info", "/definitely/not/here"]);
    assert!(!ok);
    assert!(
        err.contains("/definitely/not/here") && err.contains("does not exist"),
        "{err}"
    );

    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t1.nii"), b"garbage").unwrap();
    let (ok, _, err) = mmgan(&["info", d.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("t1.nii"), "{err}");
}

#[test]
fn help_lists_subcommands() {
    let (ok, out, _) = mmgan(&["--help"]);
    assert!(ok);
    assert!(out.contains("info") && out.contains("bench"), "{out}");
}

/// `mmgan bench model` on tiny networks without the PyTorch peer: every row of its table
/// printed with a time, and a size the network cannot halve refused by name.
#[test]
fn bench_model_prints_every_row_and_refuses_a_bad_size() {
    let tiny = [
        "bench",
        "model",
        "--widths",
        "8,4",
        "--size",
        "32",
        "--depth",
        "3",
        "--train-width",
        "4",
        "--batch",
        "1",
        "--runs",
        "1",
        "--no-peer",
    ];
    let (ok, out, err) = mmgan(&tiny);
    assert!(ok, "{err}");
    for row in [
        "| generator forward, 1 slice, width 8 |",
        "| generator forward, 1 slice, width 4 |",
        "| training step, batch 1, width 4 (G + D, Adam) |",
        "| MM-Synthesis forward",
        "| MM-Synthesis training step",
        "| pGAN forward",
        "| pGAN training step",
    ] {
        let line = out.lines().find(|l| l.starts_with(row));
        let line = line.unwrap_or_else(|| panic!("no row {row:?} in:\n{out}"));
        assert!(line.contains(" ms |"), "no time in {line:?}");
    }
    let (ok, out, err) = mmgan(&[&tiny[..5], &["36"], &tiny[6..]].concat());
    assert!(!ok, "{out}");
    assert!(err.contains("--size must be divisible by 2^depth"), "{err}");
}

/// MM-GAN's own training options are refused for the other methods, by name, before any
/// data is read or any run folder is made.
#[test]
fn train_refuses_mmgan_options_for_other_methods() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    for (option, value, method, needle) in [
        ("--context", "1", "pgan", "--context is MM-GAN's"),
        (
            "--input-lr-scale",
            "3",
            "mmsynthesis",
            "--input-lr-scale is MM-GAN's",
        ),
    ] {
        let (ok, _, err) = mmgan(&[
            "train",
            "--method",
            method,
            option,
            value,
            "--data",
            d.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!ok);
        assert!(err.contains(needle), "{err}");
        assert!(!out.exists(), "{option}: a run folder was made");
    }
}

#[test]
fn average_writes_the_parameter_mean_of_snapshots_and_refuses_other_networks() {
    use burn::module::Module;
    use mmgan::model::{average_modules, load_generator, save_generator, GeneratorConfig};
    let d = tempfile::tempdir().unwrap();
    let device = burn::tensor::Device::flex();
    let config = GeneratorConfig::new().with_width(4).with_depth(3);
    let (a, b) = (config.init(&device), config.init(&device));
    let mut meta = common::test_weights_meta(config.clone());
    meta.training.epochs = 1;
    save_generator(&d.path().join("e1"), &a, &meta).unwrap();
    meta.training.epochs = 2;
    meta.calibration = None;
    save_generator(&d.path().join("e2"), &b, &meta).unwrap();
    let wide = GeneratorConfig::new().with_width(8).with_depth(3);
    save_generator(
        &d.path().join("wide"),
        &wide.init(&device),
        &common::test_weights_meta(wide),
    )
    .unwrap();

    let p = |name: &str| d.path().join(name);
    common::ok(&common::mmgan(
        &["average"],
        &[
            ("--weights", &p("e1")),
            ("--weights", &p("e2")),
            ("--out", &p("mean")),
        ],
    ));
    let (mean, meta) = load_generator(&p("mean"), &device).unwrap();
    assert_eq!(meta.training.epochs, 2, "the last snapshot's sidecar");
    assert_eq!(meta.training.averaged.len(), 2);
    assert!(meta.calibration.is_none());
    // The same function as the mean computed here (dropout off: valid copies).
    let expected = average_modules(&[a, b]).unwrap();
    let x = burn::tensor::Tensor::<4>::ones([1, 4, 32, 32], &device);
    let values = |t: burn::tensor::Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
    let (y, z) = (
        values(mean.valid().forward(x.clone())),
        values(expected.valid().forward(x)),
    );
    assert!(y.iter().zip(&z).all(|(p, q)| (p - q).abs() < 1e-6));
    assert!(y.iter().any(|&v| v != 0.0), "a real output, not zeros");

    let e = common::failed(&common::mmgan(
        &["average"],
        &[
            ("--weights", &p("e1")),
            ("--weights", &p("wide")),
            ("--out", &p("x")),
        ],
    ));
    assert!(
        e.contains("wide") && e.contains("not the same network"),
        "{e}"
    );
    assert!(!p("x").exists());
    let e = common::failed(&common::mmgan(
        &["average"],
        &[
            ("--weights", &p("e1")),
            ("--weights", &p("mean")),
            ("--out", &p("mean")),
        ],
    ));
    assert!(e.contains("inputs are never overwritten"), "{e}");
}
