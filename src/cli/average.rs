//! `mmgan average`: the parameter mean of several weights folders of one run (e.g. its
//! last epochs), written as a new weights folder (see `model::average_modules`).

use std::path::PathBuf;

use mmgan::model::{load_network, save_network, Network, WeightsMeta};

#[derive(clap::Args, Debug)]
pub struct AverageArgs {
    /// Weights folders to average: snapshots of one training run (the same network);
    /// the sidecar of the last one is kept
    #[arg(long, required = true, num_args = 1..)]
    pub weights: Vec<PathBuf>,
    /// Folder for the averaged weights (must not be one of the inputs)
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: &AverageArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.weights.len() >= 2,
        "give at least two weights folders to average"
    );
    let out = std::path::absolute(&a.out)?;
    for dir in &a.weights {
        anyhow::ensure!(
            std::path::absolute(dir)? != out,
            "{}: the output folder is one of the inputs; inputs are never overwritten",
            a.out.display()
        );
    }
    // On the CPU: averaging is a few additions per parameter.
    let device = burn::tensor::Device::flex();
    let mut networks = Vec::new();
    let mut metas: Vec<WeightsMeta> = Vec::new();
    for dir in &a.weights {
        let (network, meta) = load_network(dir, &device)?;
        if let Some(first) = metas.first() {
            let (mine, theirs) = (meta.network(), first.network());
            anyhow::ensure!(
                mine == theirs && meta.side == first.side && meta.fit == first.fit,
                "{}: not the same network as {} ({} against {}); average snapshots of one run",
                dir.display(),
                a.weights[0].display(),
                mine.map(|c| c.describe()).unwrap_or_default(),
                theirs.map(|c| c.describe()).unwrap_or_default(),
            );
            anyhow::ensure!(
                meta.channel_order == first.channel_order,
                "{}: channel order {:?} differs from {}'s {:?}",
                dir.display(),
                meta.channel_order,
                a.weights[0].display(),
                first.channel_order
            );
        }
        networks.push(network);
        metas.push(meta);
    }
    let mean = Network::average(&networks).map_err(anyhow::Error::msg)?;
    let mut meta = metas.pop().expect("two or more folders");
    // Fitted on and measured for other weights: fit and measure these again.
    meta.calibration = None;
    meta.expected_error = None;
    meta.validation = None;
    meta.training.calibrated_on.clear();
    meta.training.averaged = a.weights.iter().map(|d| d.display().to_string()).collect();
    save_network(&a.out, &mean, &meta)?;
    eprintln!(
        "{} weights folders averaged into {} (no output calibration yet: run `mmgan calibrate --weights {}`)",
        a.weights.len(),
        a.out.display(),
        a.out.display()
    );
    Ok(())
}
