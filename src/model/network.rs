//! The synthesis methods behind one interface: which method a weights folder holds, its
//! configuration, and the network that runs it. The engine and training see a
//! [`Network`]; only this file knows which methods exist.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::io::SequenceSet;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use super::{
    Generator, GeneratorConfig, MmSynthesis, MmSynthesisConfig, PGan, PGanConfig, Replica,
    ReplicaConfig, Scenario,
};

/// A synthesis method, as sidecars and `--method` spell it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// MM-GAN (Sharma and Hamarneh 2020): UNet generator, PatchGAN, implicit conditioning.
    #[default]
    #[value(name = "mmgan")]
    MmGan,
    /// MM-Synthesis (Chartsias et al. 2018): per-sequence encoders, max-fused latent,
    /// per-sequence decoders.
    #[value(name = "mmsynthesis")]
    MmSynthesis,
    /// REPLICA (Jog et al. 2017): random-forest regression from multi-scale features.
    #[value(name = "replica")]
    Replica,
    /// pGAN (Dar et al. 2019): one generator per (source, target) pair, one sequence in;
    /// here without its perceptual loss.
    #[value(name = "pgan")]
    PGan,
}

impl Method {
    /// How sidecars and `--method` spell it (serde and clap spell it so too).
    pub fn name(self) -> &'static str {
        match self {
            Method::MmGan => "mmgan",
            Method::MmSynthesis => "mmsynthesis",
            Method::Replica => "replica",
            Method::PGan => "pgan",
        }
    }

    /// The name papers and tables use.
    pub fn title(self) -> &'static str {
        match self {
            Method::MmGan => "MM-GAN",
            Method::MmSynthesis => "MM-Synthesis",
            Method::Replica => "REPLICA",
            // The variant said wherever it is shown: no VGG weights, no perceptual loss.
            Method::PGan => "pGAN (pixel+adv)",
        }
    }

    /// Whether the method synthesizes `scenario`: pGAN is unimodal (exactly one
    /// sequence available); the others take any subset.
    pub fn supports(self, scenario: Scenario) -> bool {
        match self {
            Method::PGan => PGan::supports(scenario),
            _ => true,
        }
    }

    /// What [`Method::supports`] refuses, in words, for errors.
    pub fn scope(self) -> &'static str {
        match self {
            Method::PGan => "synthesizes from exactly one available sequence",
            _ => "synthesizes from any available sequences",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// The configuration of one method's network.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkConfig {
    MmGan(GeneratorConfig),
    MmSynthesis(MmSynthesisConfig),
    Replica(ReplicaConfig),
    PGan(PGanConfig),
}

impl NetworkConfig {
    pub fn method(&self) -> Method {
        match self {
            NetworkConfig::MmGan(_) => Method::MmGan,
            NetworkConfig::MmSynthesis(_) => Method::MmSynthesis,
            NetworkConfig::Replica(_) => Method::Replica,
            NetworkConfig::PGan(_) => Method::PGan,
        }
    }

    /// The record's file name in a weights folder or checkpoint.
    pub fn record_file(&self) -> &'static str {
        match self {
            NetworkConfig::MmGan(_) | NetworkConfig::MmSynthesis(_) | NetworkConfig::PGan(_) => {
                super::GENERATOR_FILE
            }
            NetworkConfig::Replica(_) => super::FORESTS_FILE,
        }
    }

    /// Check the configuration for slices of `side` pixels (the error names the field).
    pub fn check(&self, side: usize) -> Result<(), String> {
        match self {
            NetworkConfig::MmGan(c) => c.check(side),
            NetworkConfig::MmSynthesis(c) => c.check(side),
            NetworkConfig::Replica(c) => c.check(side),
            NetworkConfig::PGan(c) => c.check(side),
        }
    }

    pub fn init(&self, device: &Device) -> Network {
        match self {
            NetworkConfig::MmGan(c) => Network::MmGan(c.init(device)),
            NetworkConfig::MmSynthesis(c) => Network::MmSynthesis(c.init(device)),
            NetworkConfig::Replica(c) => Network::Replica(Arc::new(c.init())),
            NetworkConfig::PGan(c) => Network::PGan(c.init(device)),
        }
    }

    /// The config in words, as errors name it ("MM-GAN width 16, depth 5").
    pub fn describe(&self) -> String {
        match self {
            NetworkConfig::MmGan(c) if c.context > 0 => format!(
                "MM-GAN width {}, depth {}, {} neighbouring slices a side",
                c.width, c.depth, c.context
            ),
            NetworkConfig::MmGan(c) => format!("MM-GAN width {}, depth {}", c.width, c.depth),
            NetworkConfig::MmSynthesis(c) => {
                format!("MM-Synthesis width {}, latent {}", c.width, c.latent)
            }
            NetworkConfig::Replica(c) => format!(
                "REPLICA {} trees of depth {} per forest",
                c.trees, c.max_depth
            ),
            NetworkConfig::PGan(c) => format!(
                "pGAN width {}, {} residual blocks per pair",
                c.width, c.blocks
            ),
        }
    }

    /// The network built from this config with the record at `path` loaded into it, for
    /// a model of the sequences `set` (the error: why the record does not fit).
    pub fn load(&self, set: SequenceSet, path: &Path, device: &Device) -> Result<Network, String> {
        let loaded = match self {
            NetworkConfig::MmGan(c) => c.init(device).try_load_file(path).map(Network::MmGan),
            NetworkConfig::MmSynthesis(c) => {
                c.init(device).try_load_file(path).map(Network::MmSynthesis)
            }
            NetworkConfig::Replica(c) => {
                return Replica::load_file(c, set, path).map(|r| Network::Replica(Arc::new(r)))
            }
            NetworkConfig::PGan(c) => c.init(device).try_load_file(path).map(Network::PGan),
        };
        loaded.map_err(|e| e.to_string())
    }
}

/// A synthesis network of any method: available sequences in, all four out.
// One per synthesizer or run, moved rarely: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Network {
    MmGan(Generator),
    MmSynthesis(MmSynthesis),
    /// Forests are read-only once fitted: copies share them.
    Replica(Arc<Replica>),
    PGan(PGan),
}

impl Network {
    pub fn method(&self) -> Method {
        match self {
            Network::MmGan(_) => Method::MmGan,
            Network::MmSynthesis(_) => Method::MmSynthesis,
            Network::Replica(_) => Method::Replica,
            Network::PGan(_) => Method::PGan,
        }
    }

    /// `x`: [b, 4, side, side] (a 2.5D MM-GAN: [b, 4 · (2 · context + 1), side, side],
    /// [`Self::context`]) with the channels `scenario` misses imputed (MM-GAN reads them;
    /// the others do not); returns [b, 4, side, side].
    pub fn forward(&self, x: Tensor<4>, scenario: Scenario) -> Tensor<4> {
        match self {
            Network::MmGan(g) => g.forward(x),
            Network::MmSynthesis(m) => m.forward(x, scenario),
            Network::Replica(r) => {
                // The forests run on the CPU, whatever the device.
                let (dims, device) = (x.dims(), x.device());
                let values = x
                    .into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .unwrap_or_default();
                let y = r.forward(&values, dims[2], scenario);
                Tensor::from_data(TensorData::new(y, dims), &device)
            }
            Network::PGan(p) => p.forward(x, scenario),
        }
    }

    /// Neighbouring slices a side the network reads with each slice (its input is
    /// `[b, 4 · (2 · context + 1), side, side]`, see [`crate::model::impute_stacked`]): 0
    /// but for a 2.5D MM-GAN generator.
    pub fn context(&self) -> usize {
        match self {
            Network::MmGan(g) => g.context(),
            _ => 0,
        }
    }

    /// Channels of the input [`Self::forward`] takes: 4, or a 2.5D generator's stack.
    pub fn input_channels(&self) -> usize {
        match self {
            Network::MmGan(g) => g.input_channels(),
            _ => 4,
        }
    }

    pub fn to_device(self, device: &Device) -> Network {
        match self {
            Network::MmGan(g) => Network::MmGan(g.to_device(device)),
            Network::MmSynthesis(m) => Network::MmSynthesis(m.to_device(device)),
            Network::PGan(p) => Network::PGan(p.to_device(device)),
            r @ Network::Replica(_) => r,
        }
    }

    /// Training mode (dropout on, where the method has dropout).
    pub fn train(self) -> Network {
        match self {
            Network::MmGan(g) => Network::MmGan(g.train()),
            Network::MmSynthesis(m) => Network::MmSynthesis(m.train()),
            Network::PGan(p) => Network::PGan(p.train()),
            r @ Network::Replica(_) => r,
        }
    }

    /// An inference copy: no gradients, dropout off.
    pub fn valid(&self) -> Network {
        match self {
            Network::MmGan(g) => Network::MmGan(g.valid()),
            Network::MmSynthesis(m) => Network::MmSynthesis(m.valid()),
            Network::Replica(r) => Network::Replica(r.clone()),
            Network::PGan(p) => Network::PGan(p.valid()),
        }
    }

    /// Whether repeated passes differ (dropout at inference): what the uncertainty's
    /// spread part needs.
    pub fn is_stochastic(&self) -> bool {
        matches!(self, Network::MmGan(_))
    }

    /// The record's file name (as [`NetworkConfig::record_file`]).
    pub fn record_file(&self) -> &'static str {
        match self {
            Network::MmGan(_) | Network::MmSynthesis(_) | Network::PGan(_) => super::GENERATOR_FILE,
            Network::Replica(_) => super::FORESTS_FILE,
        }
    }

    /// Save the record to `path` (burnpack; REPLICA: gzipped JSON).
    pub fn save_file(&self, path: &Path) -> Result<(), String> {
        let r = match self {
            Network::MmGan(g) => g.clone().save_file(path),
            Network::MmSynthesis(m) => m.clone().save_file(path),
            Network::PGan(p) => p.clone().save_file(path),
            Network::Replica(r) => return r.save_file(path),
        };
        r.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_and_the_command_line_spell_a_method_as_its_name() {
        use clap::ValueEnum;
        for m in Method::value_variants() {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
            assert_eq!(m.to_possible_value().unwrap().get_name(), m.name());
        }
    }
}
