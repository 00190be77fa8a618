//! The panel shader (`shaders/slice.wgsl`) against its CPU reference
//! (`ui::render::compose`): a slice of the demo study with its label map, drawn offscreen
//! by wgpu, must match the CPU image pixel for pixel (within rounding) in every look.
//!
//! Needs a wgpu adapter: on machines without a GPU, Mesa's software Vulkan (lavapipe,
//! installed by `.ci/run`). Without any adapter it fails and says what to install.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use mmgan::io::row_major;
use mmgan::io::{Sequence, Study};
use mmgan::ui::gpu::{render_offscreen, Layer, PanelPaint};
use mmgan::ui::render::{compose, Difference, LabelStyle, Look, SliceLayers};
use ndarray::Axis;

#[test]
fn shader_matches_the_cpu_reference() {
    let study = Study::open(&mmgan::shipped::demo_study().unwrap()).unwrap();
    // The slice with the most tumour.
    let labels = &study.label.as_ref().unwrap().data;
    let z = (0..labels.shape()[2])
        .max_by_key(|&z| {
            labels
                .index_axis(Axis(2), z)
                .iter()
                .filter(|l| **l > 0)
                .count()
        })
        .unwrap();
    let base = study
        .volume(Sequence::Flair)
        .unwrap()
        .data
        .index_axis(Axis(2), z);
    let truth = study
        .volume(Sequence::T2)
        .unwrap()
        .data
        .index_axis(Axis(2), z);
    let label = study
        .label
        .as_ref()
        .unwrap()
        .data
        .index_axis(Axis(2), z)
        .mapv(f32::from);
    assert!(
        label.iter().any(|l| *l > 0.0),
        "the slice crosses the tumour"
    );
    let (nx, ny) = base.dim();
    let window = study.volume(Sequence::Flair).unwrap().stats.window;
    let mean = |s: ndarray::ArrayView2<f32>| {
        let p: Vec<f32> = s.iter().copied().filter(|v| *v > 0.0).collect();
        p.iter().sum::<f32>() / p.len() as f32
    };
    let looks = [
        Look::grey(window, true),
        Look::grey((window.0, window.1 * 0.5), false),
        Look {
            difference: Difference::Signed,
            means: (mean(base), mean(truth)),
            diff_opacity: 0.7,
            ..Look::grey(window, true)
        },
        Look {
            difference: Difference::Absolute,
            means: (mean(base), mean(truth)),
            diff_scale: 0.5,
            labels: LabelStyle::Outline,
            label_opacity: 1.0,
            ..Look::grey(window, false)
        },
        Look {
            labels: LabelStyle::Filled,
            label_opacity: 0.4,
            ..Look::grey(window, true)
        },
        // The T2 slice standing in for an uncertainty map: the whole colour map is used.
        Look {
            difference: Difference::Uncertainty,
            means: (mean(truth) * 2.0, 1.0),
            diff_scale: mmgan::ui::render::UNCERTAINTY_SCALE,
            diff_opacity: 0.8,
            ..Look::grey(window, false)
        },
    ];
    let layer = |key, s: ndarray::ArrayView2<f32>| Layer {
        key,
        data: Arc::new(row_major(s)),
    };
    for look in looks {
        let paint = PanelPaint {
            panel: 0,
            dims: [nx as u32, ny as u32],
            base: layer(1, base),
            truth: Some(layer(2, truth)),
            label: Some(layer(3, label.view())),
            look,
            rect: [0.0, 0.0, nx as f32, ny as f32],
        };
        let (gpu, adapter) = render_offscreen(&paint).unwrap_or_else(|e| {
            panic!("{e} (without a GPU, install mesa-vulkan-drivers for a software adapter)")
        });
        let cpu = compose(
            &SliceLayers {
                base,
                truth: Some(truth),
                label: Some(label.view()),
            },
            &look,
        );
        assert_eq!(gpu.len(), cpu.pixels.len() * 4);
        let mut worst = 0i32;
        for (g, c) in gpu.chunks_exact(4).zip(&cpu.pixels) {
            for (a, b) in g[..3].iter().zip(c.to_array()) {
                worst = worst.max((i32::from(*a) - i32::from(b)).abs());
            }
        }
        assert!(worst <= 1, "{look:?} on {adapter}: off by {worst} levels");
        // Not trivially equal: the image has content.
        assert!(cpu.pixels.iter().any(|p| p.r() > 100));
        eprintln!("{adapter}: {look:?} matches within {worst}");
    }

    // Zoomed 2x onto the lower-right quarter, the slice reaching past the target's top and
    // left edges: each voxel covers 2 x 2 pixels, none squashed.
    let look = Look::grey(window, true);
    let paint = PanelPaint {
        panel: 1,
        dims: [nx as u32, ny as u32],
        base: layer(1, base),
        truth: None,
        label: None,
        look,
        rect: [-(nx as f32), -(ny as f32), 2.0 * nx as f32, 2.0 * ny as f32],
    };
    let (zoomed, _) = render_offscreen(&paint).unwrap();
    let cpu = compose(
        &SliceLayers {
            base,
            truth: None,
            label: None,
        },
        &look,
    );
    for (py, px) in [(0, 0), (1, 1), (ny - 1, nx - 1), (17, 100), (200, 3)] {
        let (row, col) = ((py + ny) / 2, (px + nx) / 2);
        let g = &zoomed[(py * nx + px) * 4..][..3];
        let c = cpu.pixels[row * nx + col].to_array();
        for (a, b) in g.iter().zip(c) {
            assert!(
                (i32::from(*a) - i32::from(b)).abs() <= 1,
                "pixel ({px}, {py})"
            );
        }
    }
}
