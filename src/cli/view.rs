//! `mmgan view` (and `mmgan` alone): the desktop viewer.

use std::path::PathBuf;

use mmgan::engine::BackendChoice;
use mmgan::io::Sequence;
use mmgan::ui::render::Difference;
use mmgan::ui::view::Plane;
use mmgan::ui::ViewerOptions;

#[derive(clap::Args, Debug, Default)]
pub struct ViewArgs {
    /// Study folder (default: the bundled demo study)
    pub study: Option<PathBuf>,
    /// Weights folder (default: the shipped weights); repeat it to switch between several
    /// (the Model menu), e.g. to compare methods on one study
    #[arg(long)]
    pub weights: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Sequences to mark missing at start, e.g. "flair"
    #[arg(long, value_delimiter = ',')]
    pub missing: Vec<Sequence>,
    /// The plane shown at start (A, C and S switch in the viewer)
    #[arg(long, value_enum, default_value_t = Plane::Axial)]
    pub plane: Plane,
    /// The overlay at start: the signed difference to the ground truth or the synthesis'
    /// uncertainty (O toggles it, H held hides it)
    #[arg(long, value_enum)]
    pub overlay: Option<Overlay>,
    /// Close after this many frames (smoke tests, screenshots)
    #[arg(long)]
    pub frames: Option<u64>,
    /// With --frames: save a PNG screenshot of the window at that frame, then close
    #[arg(long, requires = "frames")]
    pub screenshot: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum Overlay {
    None,
    Difference,
    Uncertainty,
}

pub fn run(a: ViewArgs) -> anyhow::Result<()> {
    let study = match a.study {
        Some(s) => s,
        None => mmgan::shipped::demo_study().map_err(anyhow::Error::msg)?,
    };
    mmgan::ui::run(ViewerOptions {
        study: Some(study),
        weights: super::weights_dirs(&a.weights)?,
        backend: a.backend,
        frames: a.frames,
        screenshot: a.screenshot,
        missing: a.missing,
        plane: a.plane,
        overlay: a.overlay.map(|o| match o {
            Overlay::None => Difference::Off,
            Overlay::Difference => Difference::Signed,
            Overlay::Uncertainty => Difference::Uncertainty,
        }),
    })
}
