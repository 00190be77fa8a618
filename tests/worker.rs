//! The synthesis worker: focus slice first, whole volume after, requests superseding each
//! other, failures reported as messages while the worker lives on.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use burn::tensor::Device;
use mmgan::engine::{BackendChoice, Request, Response, Stage, SynthesisWorker, Synthesizer};
use mmgan::io::{Sequence, Study};
use mmgan::model::{save_generator, GeneratorConfig, Scenario};

fn weights(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = GeneratorConfig::new().with_width(8).with_depth(6);
    let meta = common::test_weights_meta(cfg.clone());
    let w = dir.join("weights");
    save_generator(&w, &cfg.init(&Device::flex()), &meta).unwrap();
    w
}

fn next(worker: &SynthesisWorker) -> Response {
    worker
        .recv_timeout(Duration::from_secs(60))
        .expect("the worker answers")
}

#[test]
fn focus_slice_first_then_the_volume_matching_the_direct_path() {
    let dir = tempfile::tempdir().unwrap();
    let w = weights(dir.path());
    common::write_toy_subject(&dir.path().join("s"), [56, 60, 10], 1);
    let study = Arc::new(Study::open(&dir.path().join("s")).unwrap());
    let scenario = Scenario::with_missing(
        mmgan::io::SequenceSet::BRATS,
        &[Sequence::T2, Sequence::Flair],
    )
    .unwrap();

    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(1);
    let w2 = w.clone();
    let worker = SynthesisWorker::spawn(
        move || {
            gate_rx.recv().unwrap(); // hold the worker until both requests are queued
            Synthesizer::load(&w2, BackendChoice::Cpu)
        },
        || {},
    );
    // Two requests before the worker starts: the first is superseded.
    worker.send(Request::Synthesize {
        generation: 1,
        study: study.clone(),
        scenario,
        focus: 2,
    });
    worker.send(Request::Synthesize {
        generation: 2,
        study: study.clone(),
        scenario,
        focus: 6,
    });
    gate_tx.send(()).unwrap();
    assert!(matches!(next(&worker), Response::Ready { .. }));
    assert!(matches!(
        next(&worker),
        Response::Started { generation: 1, .. }
    ));
    assert!(matches!(
        next(&worker),
        Response::Cancelled { generation: 1 }
    ));
    let total = match next(&worker) {
        Response::Started {
            generation: 2,
            total,
            ..
        } => total,
        other => panic!("{other:?}"),
    };
    assert!(total > 2);
    // The receiver assembles the volumes from the slices (the worker keeps none).
    let mut volumes = vec![ndarray::Array3::<f32>::zeros((56, 60, 10)); 2];
    let mut received = std::collections::BTreeSet::new();
    match next(&worker) {
        Response::Slice {
            generation: 2,
            z,
            slices,
        } => {
            assert_eq!(z, 6, "the focus slice comes first");
            assert_eq!(
                slices.iter().map(|s| s.0).collect::<Vec<_>>(),
                vec![Sequence::T2, Sequence::Flair]
            );
            assert_eq!(slices[0].1.shape(), &[56, 60]);
            received.insert(z);
            for ((_, slice), v) in slices.iter().zip(volumes.iter_mut()) {
                v.index_axis_mut(ndarray::Axis(2), z).assign(slice);
            }
        }
        other => panic!("{other:?}"),
    }
    loop {
        match next(&worker) {
            Response::Done {
                generation: 2,
                stage: Stage::Synthesis,
            } => break,
            Response::Slice {
                generation: 2,
                z,
                slices,
            } => {
                assert!(received.insert(z), "slice {z} sent twice");
                for ((_, slice), v) in slices.iter().zip(volumes.iter_mut()) {
                    v.index_axis_mut(ndarray::Axis(2), z).assign(slice);
                }
            }
            Response::Progress { generation: 2, .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(received.len(), total, "every brain slice once");
    let direct = Synthesizer::load(&w, BackendChoice::Cpu).unwrap();
    let prepared = direct.prepare(&study, scenario).unwrap();
    let expected = direct
        .synthesize_volume(&prepared, &mut |_, _| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(
        volumes.len(),
        expected.len(),
        "one volume per missing sequence"
    );
    assert!(!volumes.is_empty());
    for (a, b) in volumes.iter().zip(&expected) {
        let max = a
            .iter()
            .zip(b.data.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-3, "{max}");
    }
}

/// The worker waits after each response until the test lets it go on, so that requests
/// sent meanwhile are read between its batches, deterministically.
struct Gated {
    worker: SynthesisWorker,
    go: crossbeam_channel::Sender<()>,
}

impl Gated {
    fn spawn(w: std::path::PathBuf) -> Gated {
        let (go, gate) = crossbeam_channel::unbounded::<()>();
        let worker = SynthesisWorker::spawn(
            move || Synthesizer::load(&w, BackendChoice::Cpu),
            move || {
                let _ = gate.recv_timeout(Duration::from_secs(60));
            },
        );
        Gated { worker, go }
    }

    /// The next response; the worker stays paused until `release`.
    fn next(&self) -> Response {
        next(&self.worker)
    }

    fn release(&self) {
        self.go.send(()).unwrap();
    }

    fn next_released(&self) -> Response {
        let r = self.next();
        self.release();
        r
    }
}

#[test]
fn focus_changes_reorder_cancel_stops_and_a_new_request_runs_after_slices_came() {
    let dir = tempfile::tempdir().unwrap();
    let w = weights(dir.path());
    common::write_toy_subject(&dir.path().join("s"), [56, 60, 20], 3);
    let study = Arc::new(Study::open(&dir.path().join("s")).unwrap());
    let scenario = Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::T1c]).unwrap();
    let brain = Synthesizer::load(&w, BackendChoice::Cpu)
        .unwrap()
        .prepare(&study, scenario)
        .unwrap()
        .brain_slices();
    assert!(brain.len() > 6, "{brain:?}");
    let (first, later) = (brain[1], brain[brain.len() - 2]);

    let g = Gated::spawn(w);
    assert!(matches!(g.next_released(), Response::Ready { .. }));
    g.worker.send(Request::Synthesize {
        generation: 1,
        study: study.clone(),
        scenario,
        focus: first,
    });
    assert!(matches!(
        g.next_released(),
        Response::Started { generation: 1, .. }
    ));
    match g.next() {
        Response::Slice {
            generation: 1, z, ..
        } => assert_eq!(z, first),
        other => panic!("{other:?}"),
    }
    // The user scrolls far away while the first slice is shown: that slice comes next.
    g.worker.send(Request::Focus {
        generation: 1,
        z: later,
    });
    // A focus of an older request is ignored.
    g.worker.send(Request::Focus {
        generation: 0,
        z: first + 1,
    });
    g.release();
    assert!(matches!(
        g.next_released(),
        Response::Progress {
            generation: 1,
            done: 1,
            ..
        }
    ));
    match g.next() {
        Response::Slice {
            generation: 1, z, ..
        } => assert_eq!(z, later, "refocused"),
        other => panic!("{other:?}"),
    }
    // Cancelled after two slices: no more slices of that request.
    g.worker.send(Request::Cancel);
    g.release();
    assert!(matches!(
        g.next_released(),
        Response::Progress {
            generation: 1,
            done: 2,
            ..
        }
    ));
    assert!(matches!(
        g.next_released(),
        Response::Cancelled { generation: 1 }
    ));

    // A new request after several slices came back runs to the end on its own.
    g.worker.send(Request::Synthesize {
        generation: 2,
        study,
        scenario,
        focus: later,
    });
    let mut slices = Vec::new();
    loop {
        match g.next_released() {
            Response::Started {
                generation: 2,
                total,
                ..
            } => assert_eq!(total, brain.len()),
            Response::Slice {
                generation: 2, z, ..
            } => slices.push(z),
            Response::Progress { generation: 2, .. } => {}
            Response::Done {
                generation: 2,
                stage: Stage::Synthesis,
            } => break,
            other => panic!("an answer to the cancelled request: {other:?}"),
        }
    }
    assert_eq!(slices[0], later, "the focus slice first");
    slices.sort_unstable();
    assert_eq!(slices, brain, "every brain slice once");

    // The uncertainty of the finished synthesis, asked after it: every brain slice once,
    // the focus first, a spread (non-negative, zero outside the brain, not all zero).
    g.worker.send(Request::Uncertainty {
        generation: 2,
        passes: 3,
    });
    let mut zs = Vec::new();
    let mut spread = 0.0f32;
    loop {
        match g.next_released() {
            Response::Uncertainty {
                generation: 2,
                z,
                slices,
            } => {
                zs.push(z);
                assert_eq!(slices.len(), 1);
                let (seq, u) = &slices[0];
                assert_eq!(*seq, Sequence::T1c);
                assert_eq!(u.shape(), &[56, 60]);
                assert!(u.iter().all(|v| *v >= 0.0 && v.is_finite()));
                assert_eq!(u[[0, 0]], 0.0, "outside the brain");
                spread = spread.max(u.iter().copied().fold(0.0, f32::max));
            }
            Response::Progress {
                generation: 2,
                stage: Stage::Uncertainty,
                ..
            } => {}
            Response::Done {
                generation: 2,
                stage: Stage::Uncertainty,
            } => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(zs[0], later, "the focus slice first");
    zs.sort_unstable();
    assert_eq!(zs, brain);
    assert!(spread > 0.0, "dropout passes differ");
    // Asked for an older synthesis, nothing happens (the worker stays idle and answers
    // the next request).
    g.worker.send(Request::Uncertainty {
        generation: 1,
        passes: 3,
    });
    g.worker.send(Request::Cancel);
    assert!(g.worker.recv_timeout(Duration::from_millis(300)).is_none());
}

#[test]
fn failures_come_back_as_messages_and_the_worker_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let w = weights(dir.path());
    common::write_toy_subject(&dir.path().join("s"), [56, 60, 10], 2);
    std::fs::remove_file(dir.path().join("s/t1.nii.gz")).unwrap();
    let study = Arc::new(Study::open(&dir.path().join("s")).unwrap());
    let worker = SynthesisWorker::spawn(move || Synthesizer::load(&w, BackendChoice::Cpu), || {});
    assert!(matches!(next(&worker), Response::Ready { .. }));
    // FLAIR from T1, T1c, T2: but the study has no T1.
    let needs_t1 =
        Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::Flair]).unwrap();
    worker.send(Request::Synthesize {
        generation: 1,
        study: study.clone(),
        scenario: needs_t1,
        focus: 5,
    });
    match next(&worker) {
        Response::Failed {
            generation: 1,
            message,
        } => assert!(message.contains("T1"), "{message}"),
        other => panic!("{other:?}"),
    }
    // T1 is absent, so synthesizing it from the other three works.
    let ok = Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::T1]).unwrap();
    worker.send(Request::Synthesize {
        generation: 2,
        study,
        scenario: ok,
        focus: 5,
    });
    loop {
        match next(&worker) {
            Response::Done {
                generation: 2,
                stage: Stage::Synthesis,
            } => break,
            Response::Failed { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
}

#[test]
fn missing_weights_are_reported_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-weights");
    let worker = SynthesisWorker::spawn(
        move || Synthesizer::load(&missing, BackendChoice::Cpu),
        || {},
    );
    match next(&worker) {
        Response::Failed { message, .. } => assert!(
            message.contains("no-weights") && message.contains("mmgan train"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    common::write_toy_subject(&dir.path().join("s"), [56, 60, 10], 0);
    let study = Arc::new(Study::open(&dir.path().join("s")).unwrap());
    worker.send(Request::Synthesize {
        generation: 1,
        study,
        scenario: Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::T2]).unwrap(),
        focus: 0,
    });
    assert!(matches!(
        next(&worker),
        Response::Failed { generation: 1, .. }
    ));
}

#[test]
fn a_study_prepared_for_one_slice_gives_that_slice_and_refuses_the_others_until_completed() {
    let dir = tempfile::tempdir().unwrap();
    let w = weights(dir.path());
    common::write_toy_subject(&dir.path().join("s"), [56, 60, 10], 1);
    let study = Study::open(&dir.path().join("s")).unwrap();
    let scenario = Scenario::with_missing(mmgan::io::SequenceSet::BRATS, &[Sequence::T1c]).unwrap();
    let synth = Synthesizer::load(&w, BackendChoice::Cpu).unwrap();
    let full = synth.prepare(&study, scenario).unwrap();
    let mut partial = synth.prepare_for(&study, scenario, &[4, 99]).unwrap();
    let values = |p: &mmgan::engine::Prepared, z: usize| -> Vec<f32> {
        let sets = synth.synthesize_slices(p, &[z]).unwrap();
        sets[0][0].1.iter().copied().collect()
    };
    assert_eq!(values(&partial, 4), values(&full, 4), "the prepared slice");
    let refused = synth.synthesize_slices(&partial, &[5]).unwrap_err();
    assert!(
        refused.to_string().contains("slice 5") && refused.to_string().contains("not prepared"),
        "{refused}"
    );
    partial.complete(&study);
    for z in 0..study.grid.dims[2] {
        assert_eq!(values(&partial, z), values(&full, z), "slice {z}");
    }
}
