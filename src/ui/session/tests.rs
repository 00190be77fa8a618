//! `Session` logic without weights or a window: requests, stale answers, planes, figures.
#![allow(clippy::unwrap_used)] // tests fail loudly by design
use super::*;
use crate::engine::Response;
use ndarray::Array2;

fn demo() -> Study {
    Study::open(&crate::shipped::demo_study().unwrap()).unwrap()
}

/// A slice response for every missing sequence of `s`, all voxels `value`.
fn slice(s: &Session, generation: u64, z: usize, value: f32) -> Response {
    let [nx, ny, _] = s.study.grid.dims;
    Response::Slice {
        generation,
        z,
        slices: s
            .missing()
            .into_iter()
            .map(|seq| (seq, Array2::from_elem((nx, ny), value)))
            .collect(),
    }
}

fn generation_of(r: &Request) -> u64 {
    match r {
        Request::Synthesize { generation, .. } => *generation,
        other => panic!("{other:?}"),
    }
}

#[test]
fn ticking_asks_for_the_missing_set_and_unticking_cancels_and_clears() {
    let mut s = Session::new(
        demo(),
        SequenceSet::BRATS,
        Plane::Axial,
        &[],
        Windows::default(),
    );
    assert!(s.missing().is_empty());
    let r = s.set_marked(Sequence::Flair, true).unwrap().unwrap();
    let Request::Synthesize {
        scenario, focus, ..
    } = &r
    else {
        panic!("{r:?}")
    };
    assert_eq!(scenario.missing(), vec![Sequence::Flair]);
    assert_eq!(*focus, s.slice());
    assert!(s.set_marked(Sequence::Flair, true).is_none(), "no change");

    let g = generation_of(&r);
    s.apply(slice(&s, g, s.slice(), 5.0));
    assert!(s.is_synthetic_shown(Sequence::Flair));

    // Unticked: the worker is told to stop and the marking and slices are gone.
    let r = s.set_marked(Sequence::Flair, false).unwrap().unwrap();
    assert!(matches!(r, Request::Cancel), "{r:?}");
    assert!(!s.is_synthetic_shown(Sequence::Flair));
    assert!(s.synthesized_volume(Sequence::Flair).is_none());
    assert!(s.missing().is_empty());
}

#[test]
fn late_answers_of_an_old_request_are_ignored() {
    let mut s = Session::new(
        demo(),
        SequenceSet::BRATS,
        Plane::Axial,
        &[Sequence::T2],
        Windows::default(),
    );
    let old = generation_of(&s.synthesis_request().unwrap());
    let new = generation_of(&s.set_marked(Sequence::Flair, true).unwrap().unwrap());
    assert_ne!(old, new);
    let z = s.slice();
    let stale = s.apply(slice(&s, old, z, 9.0));
    assert!(!stale.focus_shown);
    assert!(s.synthesized_volume(Sequence::T2).is_none());
    let stale = s.apply(Response::Done {
        generation: old,
        stage: Stage::Synthesis,
    });
    assert!(stale.completed.is_empty());
    let stale = s.apply(Response::Failed {
        generation: old,
        message: "old".into(),
    });
    assert!(stale.failed.is_none());

    let fresh = s.apply(slice(&s, new, z, 3.0));
    assert!(fresh.focus_shown);
    assert_eq!(
        s.synthesized_volume(Sequence::T2).unwrap().data[[10, 10, z]],
        3.0
    );
    // The old generation's window and figures do not land either.
    s.set_synthesized_window(old, Sequence::T2, (7.0, 8.0));
    assert_ne!(
        s.synthesized_volume(Sequence::T2).unwrap().window,
        (7.0, 8.0)
    );
}

#[test]
fn done_completes_every_missing_volume_once_and_keeps_the_slices() {
    let mut s = Session::new(
        demo(),
        SequenceSet::BRATS,
        Plane::Axial,
        &[Sequence::T1, Sequence::T1c],
        Windows::default(),
    );
    let g = generation_of(&s.synthesis_request().unwrap());
    assert_eq!(
        s.apply(Response::Started {
            generation: g,
            scenario: Scenario::with_missing(SequenceSet::BRATS, &s.missing()).unwrap(),
            total: 2,
        }),
        Outcome::default()
    );
    assert_eq!(s.progress(), Some((Stage::Synthesis, 0, 2)));
    s.apply(slice(&s, g, 40, 2.0));
    assert!(!s.synthesized(Sequence::T1));
    assert!(s.exportable().0.is_empty(), "nothing to export half done");
    let done = s.apply(Response::Done {
        generation: g,
        stage: Stage::Synthesis,
    });
    assert_eq!(done.completed, vec![Sequence::T1, Sequence::T1c]);
    assert!(s.synthesized(Sequence::T1) && s.synthesized(Sequence::T1c));
    assert_eq!(s.progress(), None);
    let v = s.synthesized_volume(Sequence::T1c).unwrap();
    assert_eq!(v.data[[5, 5, 40]], 2.0);
    assert_eq!(v.data[[5, 5, 41]], 0.0, "slices that never came stay zero");
    let (volumes, sources) = s.exportable();
    assert_eq!(
        volumes.iter().map(|v| v.0).collect::<Vec<_>>(),
        vec![Sequence::T1, Sequence::T1c]
    );
    assert_eq!(sources, vec![Sequence::T2, Sequence::Flair]);
    // A slice of the wrong size (a confused worker) is dropped, not a panic.
    s.apply(Response::Slice {
        generation: g,
        z: 1,
        slices: vec![(Sequence::T1, Array2::zeros((3, 3)))],
    });
}

#[test]
fn scrubbing_refocuses_the_worker_and_slice_figures_are_measured_once() {
    let mut s = Session::new(
        demo(),
        SequenceSet::BRATS,
        Plane::Axial,
        &[Sequence::Flair],
        Windows::default(),
    );
    let g = generation_of(&s.synthesis_request().unwrap());
    let z = s.slice();
    assert!(s.set_slice(z).is_none());
    match s.set_slice(z + 3) {
        Some(Request::Focus { generation, z: to }) => {
            assert_eq!((generation, to), (g, z + 3))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.set_slice(100_000),
        Some(Request::Focus { z, .. }) if z == s.depth() - 1
    ));
    s.set_slice(z);
    assert!(s.slices_to_measure().is_empty(), "nothing synthesized yet");
    s.apply(slice(&s, g, z, 1.0));
    let jobs = s.slices_to_measure();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].sequence, Sequence::Flair);
    assert!(s.slices_to_measure().is_empty(), "asked once");
    let q = crate::eval::slice_quality(jobs[0].synthesized.view(), jobs[0].truth.view());
    s.set_slice_quality(Sequence::Flair, jobs[0].key, q);
    assert_eq!(s.slice_quality(Sequence::Flair), Some(q));
    s.set_slice(z + 1);
    assert_eq!(s.slice_quality(Sequence::Flair), None, "another slice");
}

#[test]
fn coronal_and_sagittal_slices_follow_the_cursor_and_fill_row_by_row() {
    let mut s = Session::new(
        demo(),
        SequenceSet::BRATS,
        Plane::Axial,
        &[Sequence::Flair],
        Windows::default(),
    );
    let g = generation_of(&s.synthesis_request().unwrap());
    let [nx, ny, nz] = s.study.grid.dims;
    s.set_plane(Plane::Coronal);
    assert_eq!((s.slice(), s.depth()), (ny / 2, ny));
    // Another coronal slice: the axial focus stays.
    assert!(s.set_slice(ny / 2 + 5).is_none());
    assert_eq!(s.cursor(), [nx / 2, ny / 2 + 5, nz / 2]);
    // A click in the coronal panel moves the axial slice: the worker is refocused.
    match s.set_crosshair([10, ny / 2 + 5, 30]) {
        Some(Request::Focus { z: 30, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(s.crosshair(), Some([10, ny / 2 + 5, 30]));
    assert!(!s.is_synthetic_shown(Sequence::Flair));
    let before = s.version(Sequence::Flair);
    s.apply(slice(&s, g, 70, 2.0));
    assert!(s.is_synthetic_shown(Sequence::Flair), "a row arrived");
    assert_ne!(
        s.version(Sequence::Flair),
        before,
        "the coronal slice changed"
    );
    let v = s.synthesized_volume(Sequence::Flair).unwrap();
    let shown = s.plane_slice(&v.data);
    assert_eq!(shown.dim(), (nx, nz));
    assert_eq!((shown[[3, 70]], shown[[3, 71]]), (2.0, 0.0));
    assert!(
        s.slices_to_measure().is_empty(),
        "a partial coronal slice is not scored"
    );
    s.apply(Response::Done {
        generation: g,
        stage: Stage::Synthesis,
    });
    assert_eq!(s.slices_to_measure().len(), 1);
    s.set_plane(Plane::Sagittal);
    assert_eq!((s.slice(), s.depth()), (10, nx));
    assert_eq!(s.plane_slice(&v_data(&s)).dim(), (ny, nz));
}

fn v_data(s: &Session) -> Array3<f32> {
    s.synthesized_volume(Sequence::Flair)
        .unwrap()
        .data
        .as_ref()
        .clone()
}

#[test]
fn the_crosshair_line_labels_synthetic_values() {
    let mut s = Session::new(
        demo(),
        SequenceSet::BRATS,
        Plane::Axial,
        &[Sequence::T2],
        Windows::default(),
    );
    let g = generation_of(&s.synthesis_request().unwrap());
    s.set_crosshair([120, 120, s.slice()]);
    let pending = s.crosshair_status().unwrap();
    assert!(pending.contains("T2 pending"), "{pending}");
    s.apply(slice(&s, g, s.slice(), 4.5));
    let line = s.crosshair_status().unwrap();
    assert!(line.contains("T2 4.5 synthetic (acquired"), "{line}");
    assert!(
        line.contains(&format!("voxel (120, 120, {})", s.slice())),
        "{line}"
    );
}

#[test]
fn the_self_check_runs_once_per_marking_after_the_synthesis() {
    let mut s = Session::new(
        demo(),
        SequenceSet::BRATS,
        Plane::Axial,
        &[Sequence::T2],
        Windows::default(),
    );
    let g = generation_of(&s.synthesis_request().unwrap());
    // Sent, not yet started (the worker prepares the study): the first slice comes first.
    assert!(
        s.self_check_request().is_none(),
        "not before the synthesis starts"
    );
    assert_eq!(s.progress(), Some((Stage::Synthesis, 0, 0)));
    s.apply(Response::Started {
        generation: g,
        scenario: Scenario::with_missing(SequenceSet::BRATS, &s.missing()).unwrap(),
        total: 1,
    });
    assert!(s.self_check_request().is_none(), "not while synthesizing");
    s.apply(Response::Done {
        generation: g,
        stage: Stage::Synthesis,
    });
    let job = s.self_check_request().unwrap();
    assert_eq!(job.hidden, vec![Sequence::T2]);
    assert_eq!(job.generation, g);
    assert!(s.self_check_request().is_none(), "once");
    assert_eq!(*s.self_check(), SelfCheck::Running);
    // A new marking: the running check is stale, its answer is dropped.
    let g2 = generation_of(&s.set_marked(Sequence::Flair, true).unwrap().unwrap());
    s.set_self_check(g, Ok(Vec::new()));
    assert_eq!(*s.self_check(), SelfCheck::NotAsked);
    s.apply(Response::Done {
        generation: g2,
        stage: Stage::Synthesis,
    });
    let job = s.self_check_request().unwrap();
    assert_eq!(job.hidden, vec![Sequence::T2, Sequence::Flair]);
    s.set_self_check(g2, Err("no model".into()));
    assert_eq!(*s.self_check(), SelfCheck::Failed("no model".into()));
}
