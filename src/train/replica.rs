//! REPLICA's "training": training voxels drawn from the training subjects' slices, one
//! forest fitted per (scenario, missing sequence), validated and saved like an epoch of
//! the networks (one line of `log.jsonl`, `weights/` and `best/`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::{append_log, run_err, test_metrics, EpochLog, StepLosses, TrainConfig, TrainError};
use super::{TrainEvent, WeightsMeta};
use crate::data::SubjectSlices;
use crate::model::{save_network, Network, Replica, Samples};

/// Fit REPLICA on `train`, score it on `test`, save it in `out`. A `resume` of a run whose
/// forests are saved has nothing left to do.
#[allow(clippy::too_many_arguments)]
pub(super) fn fit_run(
    c: &TrainConfig,
    out: &Path,
    resume: bool,
    train: &[SubjectSlices],
    test: &[SubjectSlices],
    meta: &dyn Fn(usize) -> WeightsMeta,
    device: &Device,
    events: &mut dyn FnMut(TrainEvent),
) -> Result<usize, TrainError> {
    if let Some(init) = &c.init {
        return Err(run_err(
            Path::new(init),
            "REPLICA's forests are fitted from scratch: --init does not apply",
        ));
    }
    let weights = out.join("weights");
    if resume && weights.join(crate::model::FORESTS_FILE).is_file() {
        return Ok(1);
    }
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed);
    let mut all: Vec<(usize, usize)> = train
        .iter()
        .enumerate()
        .flat_map(|(i, s)| (0..s.len()).map(move |z| (i, z)))
        .collect();
    all.shuffle(&mut rng);
    all.truncate(c.replica.slices);
    let per_slice = c.replica.samples.div_ceil(all.len().max(1));
    let slices: Vec<&[f32]> = all.iter().map(|&(i, z)| train[i].slices(z, 1)).collect();
    let forests = crate::model::forest_count();
    events(TrainEvent::EpochStart {
        epoch: 1,
        batches: forests,
    });
    let samples = Samples::draw(&slices, c.side, per_slice, &mut |n| rng.random_range(0..n));
    log::info!(
        "replica: {} training voxels from {} slices in {:.1} s",
        samples.len(),
        slices.len(),
        started.elapsed().as_secs_f64()
    );
    let replica = Replica::fit(&c.replica, &samples, c.sequences, c.seed, &mut |done, _| {
        events(TrainEvent::Batch {
            epoch: 1,
            done,
            losses: StepLosses::default(),
        })
    })
    .map_err(TrainError::Data)?;
    let network = Network::Replica(Arc::new(replica));
    let quality = test_metrics(&network, test, c, device);
    let log = EpochLog {
        epoch: 1,
        batches: forests,
        scenarios: "0..=13".into(),
        seconds: started.elapsed().as_secs_f64(),
        test: quality.map(|q| q.0),
        test_brain: quality.map(|q| q.1),
        ..Default::default() // no losses: nothing is trained by steps
    };
    save_network(&weights, &network, &meta(1))?;
    save_network(&out.join("best"), &network, &meta(1))?;
    append_log(&out.join("log.jsonl"), &log)?;
    events(TrainEvent::EpochEnd(log));
    Ok(1)
}
