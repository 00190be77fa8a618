//! `mmgan model-info`: parameter counts and compute of the networks for a configuration.

use burn::module::Module;
use burn::tensor::Device;
use mmgan::model::{DiscriminatorConfig, GeneratorConfig};

use super::NetArgs;

#[derive(clap::Args, Debug)]
pub struct ModelInfoArgs {
    #[command(flatten)]
    pub net: NetArgs,
}

pub fn run(a: &ModelInfoArgs) -> anyhow::Result<()> {
    let a = &a.net;
    a.check()?;
    let device = Device::flex();
    let g_cfg = GeneratorConfig::new()
        .with_width(a.width)
        .with_depth(a.depth);
    let g = g_cfg.init(&device);
    let d = DiscriminatorConfig::new().with_width(a.width).init(&device);
    println!(
        "MM-GAN, width {}, depth {}, {}x{} slices, 4 sequences in and out",
        a.width, a.depth, a.size, a.size
    );
    println!(
        "  generator (UNet):        {:>12} parameters ({:.1} M), {:.2} GMAC per slice",
        g.num_params(),
        g.num_params() as f64 / 1e6,
        g_cfg.macs_per_slice(a.size) as f64 / 1e9
    );
    println!("    (transposed convolutions counted per input pixel; profilers that count them per output pixel, as the reference's 18.3 GMAC does, report {:.2} GMAC)", { let m = g_cfg.macs(a.size); (m.conv + 4 * m.transposed) as f64 / 1e9 });
    println!(
        "  discriminator (PatchGAN): {:>11} parameters ({:.1} M), patch maps 4x{}x{}",
        d.num_params(),
        d.num_params() as f64 / 1e6,
        a.size / 16,
        a.size / 16
    );
    Ok(())
}
