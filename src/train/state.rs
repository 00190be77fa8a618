//! The networks and optimisers of a run, per method: built fresh or from `--init`
//! weights, one training step, and the checkpoint (saved atomically, loaded on resume).

use std::path::Path;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;

use super::step::{mmsynthesis_step, pgan_step, train_step, StepLosses};
use super::{run_err, Progress, TrainConfig, TrainError};
use crate::io::write_atomic;
use crate::model::{Network, NetworkConfig, Scenario};

/// The networks and optimisers of a run, per method.
// One per run: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Nets {
    MmGan {
        g: crate::model::Generator,
        d: crate::model::Discriminator,
        opt_g: ModuleOptimizer,
        opt_d: ModuleOptimizer,
    },
    MmSynthesis {
        m: crate::model::MmSynthesis,
        opt: ModuleOptimizer,
    },
    PGan {
        g: crate::model::PGan,
        d: crate::model::PGanCritics,
        opt_g: ModuleOptimizer,
        opt_d: ModuleOptimizer,
    },
}

/// The networks, optimisers and progress of a run.
pub(super) struct State {
    nets: Nets,
    pub(super) progress: Progress,
}

/// REPLICA reached the step loop (its forests are fitted by [`replica::fit_run`]).
fn not_by_steps() -> TrainError {
    TrainError::Data("REPLICA's forests are fitted in one pass, not trained by steps".into())
}

/// The optimiser every network of a run trains with (and `mmgan bench model` times).
pub fn adam(c: &TrainConfig) -> ModuleOptimizer {
    super::FusedAdam::module_optimizer(c.beta1, c.beta2, 1e-8)
}

/// Checkpoint file names: the trained network keeps `generator.bpk` and `optim_g.bpk`
/// whatever the method; MM-GAN's discriminator adds the other two.
const NETWORK: &str = "generator.bpk";
const OPTIM: &str = "optim_g.bpk";
const CRITIC: &str = "discriminator.bpk";
const OPTIM_D: &str = "optim_d.bpk";

impl State {
    pub(super) fn fresh(c: &TrainConfig, device: &Device) -> Result<State, TrainError> {
        device.seed(c.seed);
        let network = match &c.init {
            None => c.network().init(device),
            Some(dir) => {
                let dir = Path::new(dir);
                let (network, meta) = crate::model::load_method(dir, c.method, device)?;
                let wanted = c.network();
                let found = meta.network().map_err(|e| run_err(dir, e))?;
                let network = match (network, &found, &wanted) {
                    // A wider MM-GAN starts from a narrower one's function.
                    (Network::MmGan(g), NetworkConfig::MmGan(from), NetworkConfig::MmGan(to))
                        if to.width > from.width && meta.side == c.side && meta.fit == c.fit =>
                    {
                        let wide = g
                            .widen(from, to, c.seed, device)
                            .map_err(|e| run_err(dir, e))?;
                        log::info!(
                            "widened {} to width {} (Net2Net copies, same function)",
                            found.describe(),
                            to.width
                        );
                        return State::from_network(c, Network::MmGan(wide), device);
                    }
                    // A 2.5D MM-GAN starts from the same generator reading fewer slices.
                    (Network::MmGan(g), NetworkConfig::MmGan(from), NetworkConfig::MmGan(to))
                        if to.context > from.context
                            && meta.side == c.side
                            && meta.fit == c.fit =>
                    {
                        let g = g.add_context(from, to).map_err(|e| run_err(dir, e))?;
                        log::info!(
                            "{} now reads {} neighbouring slices a side (zero weights, same function)",
                            found.describe(),
                            to.context
                        );
                        return State::from_network(c, Network::MmGan(g), device);
                    }
                    (network, _, _) => network,
                };
                if found != wanted || meta.side != c.side || meta.fit != c.fit {
                    return Err(run_err(
                        dir,
                        format!(
                            "these weights are {}, side {}, fit {:?}; the run asks for {}, side {}, fit {:?}",
                            found.describe(), meta.side, meta.fit, wanted.describe(), c.side, c.fit
                        ),
                    ));
                }
                network
            }
        };
        State::from_network(c, network, device)
    }

    fn from_network(
        c: &TrainConfig,
        network: Network,
        device: &Device,
    ) -> Result<State, TrainError> {
        let nets = match network {
            Network::MmGan(g) => Nets::MmGan {
                g,
                d: c.discriminator.init(device),
                opt_g: adam(c),
                opt_d: adam(c),
            },
            Network::MmSynthesis(m) => Nets::MmSynthesis { m, opt: adam(c) },
            Network::PGan(g) => Nets::PGan {
                g,
                d: c.pgan.init_critics(device),
                opt_g: adam(c),
                opt_d: adam(c),
            },
            Network::Replica(_) => return Err(not_by_steps()),
        };
        Ok(State {
            nets,
            progress: Progress::default(),
        })
    }

    /// The trained network, for inference (no gradients, dropout off).
    pub(super) fn network(&self) -> Network {
        match &self.nets {
            Nets::MmGan { g, .. } => Network::MmGan(g.valid()),
            Nets::MmSynthesis { m, .. } => Network::MmSynthesis(m.valid()),
            Nets::PGan { g, .. } => Network::PGan(g.valid()),
        }
    }

    pub(super) fn save(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| run_err(dir, e))?;
        match &self.nets {
            Nets::MmGan { g, d, opt_g, opt_d } => save_gan(dir, g, d, opt_g, opt_d)?,
            Nets::PGan { g, d, opt_g, opt_d } => save_gan(dir, g, d, opt_g, opt_d)?,
            Nets::MmSynthesis { m, opt } => {
                save_file(dir, NETWORK, &|p| module_to(m, p))?;
                save_file(dir, OPTIM, &|p| opt.save(p).map_err(|e| e.to_string()))?;
            }
        }
        let json = serde_json::to_string_pretty(&self.progress).map_err(|e| run_err(dir, e))?;
        write_atomic(&dir.join("progress.json"), json.as_bytes()).map_err(|e| run_err(dir, e))
    }

    pub(super) fn load(c: &TrainConfig, dir: &Path, device: &Device) -> Result<State, TrainError> {
        let text = std::fs::read_to_string(dir.join("progress.json"))
            .map_err(|e| run_err(&dir.join("progress.json"), e))?;
        let progress: Progress =
            serde_json::from_str(&text).map_err(|e| run_err(&dir.join("progress.json"), e))?;
        let path = |name: &str| dir.join(name);
        let optimiser = |name: &str| {
            adam(c)
                .load(path(name))
                .map_err(|e| run_err(&path(name), e))
        };
        let network = c
            .network()
            .load(c.sequences, &path(NETWORK), device)
            .map_err(|e| run_err(&path(NETWORK), e))?;
        let nets = match network {
            Network::MmGan(g) => Nets::MmGan {
                g,
                d: load_critic(c.discriminator.init(device), dir)?,
                opt_g: optimiser(OPTIM)?,
                opt_d: optimiser(OPTIM_D)?,
            },
            Network::MmSynthesis(m) => Nets::MmSynthesis {
                m,
                opt: optimiser(OPTIM)?,
            },
            Network::PGan(g) => Nets::PGan {
                g,
                d: load_critic(c.pgan.init_critics(device), dir)?,
                opt_g: optimiser(OPTIM)?,
                opt_d: optimiser(OPTIM_D)?,
            },
            Network::Replica(_) => return Err(not_by_steps()),
        };
        Ok(State { nets, progress })
    }

    /// One training step on `slices` ([batch][4][side][side]); the networks move through
    /// it (burn's optimisers take them by value).
    pub(super) fn step(
        self,
        slices: &[f32],
        scenario: Scenario,
        c: &TrainConfig,
        device: &Device,
    ) -> (State, StepLosses) {
        let shape = [c.batch, c.input_channels(), c.side, c.side];
        let (nets, losses) = match self.nets {
            Nets::MmGan {
                g,
                d,
                mut opt_g,
                mut opt_d,
            } => {
                let (g, d, losses) = train_step(
                    g, d, &mut opt_g, &mut opt_d, slices, shape, scenario, c, device,
                );
                (Nets::MmGan { g, d, opt_g, opt_d }, losses)
            }
            Nets::MmSynthesis { m, mut opt } => {
                let (m, losses) = mmsynthesis_step(m, &mut opt, slices, shape, scenario, c, device);
                (Nets::MmSynthesis { m, opt }, losses)
            }
            Nets::PGan {
                g,
                d,
                mut opt_g,
                mut opt_d,
            } => {
                let (g, d, losses) = pgan_step(
                    g, d, &mut opt_g, &mut opt_d, slices, shape, scenario, c, device,
                );
                (Nets::PGan { g, d, opt_g, opt_d }, losses)
            }
        };
        let state = State {
            nets,
            progress: self.progress,
        };
        (state, losses)
    }
}

/// Write one checkpoint file: it replaces its predecessor atomically, so an interrupted
/// save leaves the previous checkpoint readable.
fn save_file(
    dir: &Path,
    name: &str,
    write: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<(), TrainError> {
    crate::io::replace_atomically(&dir.join(name), ".bpk", write)
        .map_err(|e| run_err(&dir.join(name), e))
}

fn module_to(m: &impl Module, path: &Path) -> Result<(), String> {
    m.clone().save_file(path).map_err(|e| e.to_string())
}

/// A GAN's checkpoint (MM-GAN's and pGAN's): generator, critic and their optimisers.
fn save_gan(
    dir: &Path,
    g: &impl Module,
    d: &impl Module,
    opt_g: &ModuleOptimizer,
    opt_d: &ModuleOptimizer,
) -> Result<(), TrainError> {
    save_file(dir, NETWORK, &|p| module_to(g, p))?;
    save_file(dir, CRITIC, &|p| module_to(d, p))?;
    save_file(dir, OPTIM, &|p| opt_g.save(p).map_err(|e| e.to_string()))?;
    save_file(dir, OPTIM_D, &|p| opt_d.save(p).map_err(|e| e.to_string()))
}

/// A GAN's critic from the checkpoint in `dir`, into the freshly built `critic`.
fn load_critic<M: Module>(critic: M, dir: &Path) -> Result<M, TrainError> {
    let path = dir.join(CRITIC);
    critic.try_load_file(&path).map_err(|e| run_err(&path, e))
}
