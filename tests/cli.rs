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
