//! The synthesis networks, in Burn, behind one [`Network`] ([`Method`] names which):
//! MM-GAN (UNet generator, per-sequence PatchGAN discriminator, imputation, real
//! pass-through, sequence-selective losses, curriculum, 2.5D context) and the methods it
//! is compared with: MM-Synthesis, REPLICA and pGAN. Also the [`Scenario`] type (which
//! sequences are available).
//! Backend-agnostic: the [`burn::tensor::Device`] passed in decides whether it runs on the
//! CPU (flex) or the GPU (wgpu); training on flex, the convolutions take [`flex_conv`]'s
//! faster weight gradient where it pays. Knows nothing of files or the UI.

mod average;
mod conditioning;
mod context;
mod curriculum;
mod discriminator;
pub mod flex_activation;
pub mod flex_conv;
pub mod flex_norm;
mod generator;
mod im2col;
mod mmsynthesis;
mod network;
mod pgan;
mod replica;
mod scenario;
mod weights;
mod widen;

pub use average::average_modules;
#[cfg(test)]
pub(crate) use average::parameter_values;
pub use conditioning::{
    availability_mask, discriminator_target_fake, impute, pass_through,
    selective_distribution_loss, selective_l1, selective_ssim_loss, Imputation,
};
pub use context::{centre, impute_stacked};
pub use curriculum::scenario_window;
pub use discriminator::{Discriminator, DiscriminatorConfig};
pub use generator::{Generator, GeneratorConfig, Macs};
pub use mmsynthesis::{MmSynthesis, MmSynthesisConfig, MmSynthesisLosses};
pub use network::{Method, Network, NetworkConfig};
pub use pgan::{pair_index, PGan, PGanConfig, PGanCritics};
pub use replica::{forest_count, Replica, ReplicaConfig, Samples};
pub use scenario::{Scenario, ScenarioError};
pub use weights::{
    code_version, load_generator, load_method, load_network, save_generator, save_network,
    StartedFrom, TrainingInfo, WeightsError, WeightsMeta, FORESTS_FILE, GENERATOR_FILE, META_FILE,
    NORMALISATION,
};
