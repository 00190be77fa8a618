//! MM-GAN's networks and its implicit conditioning, in Burn.
//!
//! Owns the UNet generator, the per-sequence PatchGAN discriminator, the [`Scenario`] type
//! (which sequences are available), imputation, real pass-through, the sequence-selective
//! losses and the curriculum schedule. Backend-agnostic: the [`burn::tensor::Device`]
//! passed in decides whether it runs on the CPU (flex) or the GPU (wgpu); training on flex,
//! the generator's final layer takes [`flex_conv`]'s faster weight gradient. Knows
//! nothing of files or the UI.

mod conditioning;
mod curriculum;
mod discriminator;
pub mod flex_conv;
mod generator;
mod scenario;
mod weights;

pub use conditioning::{
    availability_mask, discriminator_target_fake, impute, pass_through, selective_l1, Imputation,
};
pub use curriculum::scenario_window;
pub use discriminator::{Discriminator, DiscriminatorConfig};
pub use generator::{Generator, GeneratorConfig, Macs};
pub use scenario::{Scenario, ScenarioError};
pub use weights::{
    code_version, load_generator, save_generator, StartedFrom, TrainingInfo, WeightsError,
    WeightsMeta, GENERATOR_FILE, META_FILE, NORMALISATION,
};
