//! Inference: a study and a scenario in, the missing sequences out, on the study grid.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, Array3, Axis};

use super::backend::{select_device, BackendChoice};
use super::Prepared;
use crate::data::{brain_mask, context_slices, SliceGeometry};
use crate::io::{BrainRange, Sequence, Study};
use crate::model::{impute_stacked, load_network, Network, Scenario, WeightsError, WeightsMeta};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("{0}")]
    Device(String),
    #[error("cannot synthesize {missing} for this study: {reason}")]
    Scenario { missing: String, reason: String },
    #[error("slice {z} is outside the study (it has {depth} axial slices)")]
    SliceOutOfRange { z: usize, depth: usize },
    #[error(
        "slice {z} of the study was not prepared for the model (Prepared::complete was not called)"
    )]
    SliceNotPrepared { z: usize },
    #[error("synthesis cancelled")]
    Cancelled,
    #[error("the model ({weights}) produced non-finite values (NaN or Inf): its weights are damaged or unfit for this study; nothing was changed")]
    NonFinite { weights: String },
}

/// Smallest axial plane the model is run on: below it there is no anatomy to speak of.
const MIN_AXIAL: usize = 16;

/// One axial slice of every missing sequence, in [`Scenario::missing`] order.
pub type SliceSet = Vec<(Sequence, Array2<f32>)>;

/// A synthesized sequence on the study grid (canonical RAS), in study intensity units.
#[derive(Debug, Clone)]
pub struct Synthesized {
    pub sequence: Sequence,
    pub data: Array3<f32>,
}

/// A synthesis network (any method) on a device with the sidecar that says how to feed it.
pub struct Synthesizer {
    pub(super) network: Network,
    meta: WeightsMeta,
    pub(super) device: Device,
    device_description: String,
    /// Where the weights came from, for messages.
    source: String,
    /// Slices per forward pass.
    pub batch: usize,
    /// Average the output with that of the left-right mirrored input (test-time flip,
    /// as SynthSR does): twice the compute. Starts as the sidecar's `test_time_flip`.
    pub flip_average: bool,
}

impl Synthesizer {
    /// Load the weights folder and pick the device.
    pub fn load(weights_dir: &Path, backend: BackendChoice) -> Result<Synthesizer, EngineError> {
        // The sidecar first, so that a missing folder is reported before any GPU probing.
        WeightsMeta::load(weights_dir)?;
        let selected = select_device(backend).map_err(EngineError::Device)?;
        let (network, meta) = load_network(weights_dir, &selected.device)?;
        let flip_average = meta.test_time_flip;
        Ok(Synthesizer {
            source: weights_dir
                .join(network.record_file())
                .display()
                .to_string(),
            network,
            meta,
            device: selected.device,
            device_description: selected.description,
            batch: 4,
            flip_average,
        })
    }

    /// Wrap an in-memory network (training's evaluation uses this).
    pub fn from_parts(network: Network, meta: WeightsMeta, device: Device) -> Synthesizer {
        Synthesizer {
            network,
            meta,
            device,
            device_description: "in-memory model".into(),
            source: "in-memory model".into(),
            batch: 4,
            flip_average: false,
        }
    }

    pub fn meta(&self) -> &WeightsMeta {
        &self.meta
    }

    /// One forward pass on an empty slice: the first pass of a process pays for thread
    /// pools and buffers (shipped weights here: 35-50 ms against 20-29 ms for the next),
    /// which the viewer's first synthesized slice should not.
    pub fn warm_up(&self) -> Result<(), EngineError> {
        let side = self.meta.side;
        let channels = self.network.input_channels();
        let x = Tensor::<4>::zeros([1, channels, side, side], &self.device);
        let three = Scenario::all(self.meta.sequences())[10];
        self.read_output(self.network.forward(x, three)).map(|_| ())
    }

    /// Replace the output calibration (fitting one starts from none).
    pub fn set_calibration(&mut self, calibration: Option<crate::data::OutputCalibration>) {
        self.meta.calibration = calibration;
    }

    pub fn device_description(&self) -> &str {
        &self.device_description
    }

    /// Check the scenario against the study and precompute what every slice needs.
    pub fn prepare(&self, study: &Study, scenario: Scenario) -> Result<Prepared, EngineError> {
        let mut prepared = self.prepare_for(study, scenario, &[])?;
        prepared.complete(study);
        Ok(prepared)
    }

    /// [`Self::prepare`] with only the axial slices `first` converted (those past the
    /// study are ignored): what the viewer's first slice needs. [`Prepared::complete`]
    /// converts the others.
    pub fn prepare_for(
        &self,
        study: &Study,
        scenario: Scenario,
        first: &[usize],
    ) -> Result<Prepared, EngineError> {
        let names = |seqs: &[Sequence]| seqs.iter().map(|s| s.name()).collect::<Vec<_>>().join(",");
        let missing_names = || names(&scenario.missing());
        let model_set = self.meta.sequences();
        if scenario.set() != model_set {
            return Err(EngineError::Scenario {
                missing: missing_names(),
                reason: format!(
                    "the scenario is over {}, this model's sequences are {model_set}",
                    scenario.set()
                ),
            });
        }
        let method = self.meta().method;
        if !method.supports(scenario) {
            return Err(EngineError::Scenario {
                missing: missing_names(),
                reason: format!(
                    "{method} {} and this scenario has {} ({}); choose a method that takes several inputs, or mark the others missing",
                    method.scope(),
                    scenario.available().len(),
                    names(&scenario.available())
                ),
            });
        }
        let absent: Vec<Sequence> = scenario
            .available()
            .into_iter()
            .filter(|s| !study.has(*s))
            .collect();
        if !absent.is_empty() {
            return Err(EngineError::Scenario {
                missing: missing_names(),
                reason: format!(
                    "the model would need {} as input, which the study does not have",
                    names(&absent)
                ),
            });
        }
        let available: Vec<_> = scenario
            .available()
            .into_iter()
            .filter_map(|s| study.volume(s))
            .collect();
        // An empty input would be taken as an acquired black image.
        if let Some(empty) = available
            .iter()
            .find(|v| v.stats.min == 0.0 && v.stats.max == 0.0)
        {
            return Err(EngineError::Scenario {
                missing: missing_names(),
                reason: format!(
                    "{} is empty (all zeros, or NaN/Inf set to 0); mark it missing to synthesize it instead",
                    empty.path.display()
                ),
            });
        }
        let [nx, ny, _] = study.grid.dims;
        if nx.min(ny) < MIN_AXIAL {
            return Err(EngineError::Scenario {
                missing: missing_names(),
                reason: format!(
                    "the axial plane is {nx}x{ny} voxels; the model needs at least {MIN_AXIAL}x{MIN_AXIAL}"
                ),
            });
        }
        let brain = brain_mask(available.iter().map(|v| v.data.view()));
        let geometry = SliceGeometry::new(brain.view(), self.meta.side, self.meta.fit);
        let mut ranges = [None; 4];
        // One thread per input: each range is a selection over the whole brain.
        let found: Vec<_> = std::thread::scope(|scope| {
            let jobs: Vec<_> = scenario
                .available()
                .into_iter()
                .filter_map(|seq| study.volume(seq).map(|v| (seq, v)))
                .map(|(seq, volume)| {
                    let brain = brain.view();
                    scope.spawn(move || (seq, BrainRange::of(volume.data.view(), brain)))
                })
                .collect();
            jobs.into_iter().map(|j| j.join()).collect()
        });
        let n = self.meta.side * self.meta.side;
        let depth = study.grid.dims[2];
        let mut inputs = vec![Vec::new(); 4];
        for job in found {
            let (seq, range) = job.map_err(|_| {
                EngineError::Device("measuring an input failed (a thread panicked)".into())
            })?;
            ranges[scenario.channel(seq)] = range;
            inputs[scenario.channel(seq)] = vec![0.0; depth * n];
        }
        let acquired: Vec<(usize, BrainRange)> = scenario
            .available_channels()
            .into_iter()
            .filter_map(|c| ranges[c].map(|r| (c, r)))
            .collect();
        for seq in scenario.missing() {
            let c = scenario.channel(seq);
            ranges[c] = Some(self.meta.output_scale.predict(c, &acquired));
        }
        let mut prepared = Prepared {
            scenario,
            geometry,
            ranges,
            inputs,
            ready: vec![false; depth],
            brain,
            depth,
            context: self.network.context(),
        };
        prepared.ensure(study, first);
        Ok(prepared)
    }

    /// Run the generator on the slices `zs`; returns, per slice, the missing channels in
    /// model space (normalised), [missing][side*side].
    fn run(&self, prepared: &Prepared, zs: &[usize]) -> Result<Vec<Vec<Vec<f32>>>, EngineError> {
        let n = self.meta.side * self.meta.side;
        let x = self.input_batch(prepared, zs, &self.device);
        let scenario = prepared.scenario;
        let net = &self.network;
        let y = if self.flip_average {
            let mirrored = net.forward(x.clone().flip([3]), scenario).flip([3]);
            (net.forward(x, scenario) + mirrored) * 0.5
        } else {
            net.forward(x, scenario)
        }; // [b, 4, side, side]
        let y = self.read_output(y)?;
        let missing = prepared.scenario.missing();
        Ok((0..zs.len())
            .map(|b| {
                missing
                    .iter()
                    .map(|s| {
                        let o = (b * 4 + scenario.channel(*s)) * n;
                        y[o..o + n].to_vec()
                    })
                    .collect()
            })
            .collect())
    }

    /// A model output as values, refused when not finite.
    pub(super) fn read_output(&self, y: Tensor<4>) -> Result<Vec<f32>, EngineError> {
        let y: Vec<f32> = y
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| EngineError::Device(format!("reading the model output: {e:?}")))?;
        if y.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::NonFinite {
                weights: self.source.clone(),
            });
        }
        Ok(y)
    }

    /// The imputed model input of slices `zs` on `device`, each with the neighbours the
    /// network reads: [zs, 4 · (2 · context + 1), side, side].
    pub(super) fn input_batch(
        &self,
        prepared: &Prepared,
        zs: &[usize],
        device: &Device,
    ) -> Tensor<4> {
        let side = self.meta.side;
        let n = side * side;
        let groups = 2 * prepared.context + 1;
        let mut x = vec![0.0f32; zs.len() * groups * 4 * n];
        for (b, &z) in zs.iter().enumerate() {
            let neighbours = context_slices(z, prepared.context, prepared.depth);
            for (g, zz) in neighbours.enumerate() {
                let Some(zz) = zz else { continue };
                for (c, input) in prepared.inputs.iter().enumerate() {
                    if !input.is_empty() {
                        x[((b * groups + g) * 4 + c) * n..][..n]
                            .copy_from_slice(&input[zz * n..(zz + 1) * n]);
                    }
                }
            }
        }
        let shape = [zs.len(), groups * 4, side, side];
        let x = Tensor::<4>::from_data(TensorData::new(x, shape), device);
        impute_stacked(x, &vec![prepared.scenario; zs.len()], self.meta.imputation)
    }

    /// Intensity span (hi - lo, study units) of a missing sequence's predicted range: what
    /// a spread in model space is worth in the study's units.
    pub(super) fn output_span(prepared: &Prepared, seq: Sequence) -> f32 {
        prepared.range(seq).map_or(1.0, |r| r.hi - r.lo)
    }

    /// Model output of one slice -> study grid, study intensity scale, zero outside the brain.
    fn to_study(
        &self,
        prepared: &Prepared,
        z: usize,
        seq: Sequence,
        model: &[f32],
        mut out: ndarray::ArrayViewMut2<f32>,
    ) {
        prepared.geometry.to_study(model, out.view_mut());
        let c = prepared.scenario.channel(seq);
        let range = prepared.ranges[c].expect("prepare predicts every missing range");
        let brain = prepared.brain.index_axis(Axis(2), z);
        let calibration = self.meta.calibration.as_ref();
        ndarray::Zip::from(&mut out).and(&brain).for_each(|v, &b| {
            *v = match (b, calibration) {
                (false, _) => 0.0,
                (true, Some(k)) => range.from_unit(k.apply(c, *v)),
                (true, None) => range.from_unit(*v),
            };
        });
    }

    /// The missing sequences of the axial slices `zs` (in [`Scenario::missing`] order per
    /// slice, slices in `zs` order), from one forward pass over those with brain; slices
    /// without brain are zero without running the model. The viewer's worker sends these
    /// as they come; [`Self::synthesize_volume`] assembles them.
    pub fn synthesize_slices(
        &self,
        prepared: &Prepared,
        zs: &[usize],
    ) -> Result<Vec<SliceSet>, EngineError> {
        prepared.check_slices(zs)?;
        let has_brain = |z: usize| prepared.brain.index_axis(Axis(2), z).iter().any(|b| *b);
        let with_brain: Vec<usize> = zs.iter().copied().filter(|&z| has_brain(z)).collect();
        let outputs = if with_brain.is_empty() {
            Vec::new()
        } else {
            self.run(prepared, &with_brain)?
        };
        let [nx, ny] = prepared.geometry.grid;
        let missing = prepared.scenario.missing();
        Ok(zs
            .iter()
            .map(|&z| {
                let output = with_brain.iter().position(|&b| b == z).map(|i| &outputs[i]);
                missing
                    .iter()
                    .enumerate()
                    .map(|(k, &seq)| {
                        let mut slice = Array2::zeros((nx, ny));
                        if let Some(per_seq) = output {
                            self.to_study(prepared, z, seq, &per_seq[k], slice.view_mut());
                        }
                        (seq, slice)
                    })
                    .collect()
            })
            .collect())
    }

    /// Zeroed volumes for the missing sequences of `prepared`, in [`Scenario::missing`]
    /// order, on the study grid (Fortran order, as the study's volumes).
    pub(crate) fn empty_volumes(prepared: &Prepared) -> Vec<Array3<f32>> {
        let [nx, ny] = prepared.geometry.grid;
        let shape = ndarray::ShapeBuilder::f((nx, ny, prepared.depth));
        let missing = prepared.scenario.missing();
        missing.iter().map(|_| Array3::zeros(shape)).collect()
    }

    /// Synthesize every missing sequence of the whole volume, `batch` slices per pass.
    /// `progress(done, total)` is called after each batch; `cancel` is checked between
    /// batches. Slices without brain are left at zero without running the model.
    pub fn synthesize_volume(
        &self,
        prepared: &Prepared,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<Synthesized>, EngineError> {
        self.assemble(prepared, progress, cancel, |chunk| {
            self.synthesize_slices(prepared, chunk)
        })
    }

    /// Every brain slice of `prepared`, `batch` slices per call of `slices`, placed into
    /// volumes (one per missing sequence; slices without brain stay zero). `progress(done,
    /// total)` after each batch; `cancel` is checked between batches.
    pub(crate) fn assemble(
        &self,
        prepared: &Prepared,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
        slices: impl Fn(&[usize]) -> Result<Vec<SliceSet>, EngineError>,
    ) -> Result<Vec<Synthesized>, EngineError> {
        let missing = prepared.scenario.missing();
        let mut out = Self::empty_volumes(prepared);
        let zs = prepared.brain_slices();
        progress(0, zs.len());
        let mut done = 0;
        for chunk in zs.chunks(self.batch.max(1)) {
            if cancel.load(Ordering::Relaxed) {
                return Err(EngineError::Cancelled);
            }
            place(chunk, slices(chunk)?, &mut out);
            done += chunk.len();
            progress(done, zs.len());
        }
        Ok(missing
            .into_iter()
            .zip(out)
            .map(|(sequence, data)| Synthesized { sequence, data })
            .collect())
    }
}

/// Put the slice sets of the axial slices `zs` into `volumes` (one per missing sequence).
pub(crate) fn place(zs: &[usize], sets: Vec<SliceSet>, volumes: &mut [Array3<f32>]) {
    for (&z, slices) in zs.iter().zip(sets) {
        for ((_, slice), volume) in slices.into_iter().zip(volumes.iter_mut()) {
            volume.index_axis_mut(Axis(2), z).assign(&slice);
        }
    }
}
