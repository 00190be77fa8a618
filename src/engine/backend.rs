//! Choosing the compute device: the GPU through wgpu when a hardware adapter exists,
//! else burn's flex CPU backend. Decided by probing, never by panicking.

use burn::tensor::Device;

/// What the user asked for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// wgpu on a hardware GPU if there is one, else the CPU.
    #[default]
    Auto,
    /// wgpu (fails clearly when no adapter can be opened).
    Wgpu,
    /// burn flex on the CPU.
    Cpu,
}

/// The device picked, and a sentence saying which and why (for logs and the UI).
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    pub device: Device,
    pub description: String,
    pub gpu: bool,
}

/// Pick the device. `Auto` probes the wgpu adapters first: a software adapter (Mesa's
/// llvmpipe/lavapipe) is 10-30x slower than flex, so it counts as "no GPU" for the model.
pub fn select_device(choice: BackendChoice) -> Result<SelectedDevice, String> {
    let cpu = |why: String| SelectedDevice {
        device: Device::flex(),
        // No thread count here: the description is shown in the viewer, whose snapshots
        // must not depend on the machine's core count (it is logged below instead).
        description: format!("CPU (burn flex): {why}"),
        gpu: false,
    };
    let selected = match choice {
        BackendChoice::Cpu => cpu("requested".into()),
        BackendChoice::Auto => match hardware_adapter() {
            Some(name) => match open_wgpu() {
                Ok(device) => SelectedDevice {
                    device,
                    description: format!("GPU through wgpu: {name}"),
                    gpu: true,
                },
                Err(e) => cpu(format!("the GPU {name} could not be opened ({e})")),
            },
            None => cpu("no hardware GPU adapter found".into()),
        },
        BackendChoice::Wgpu => {
            let device = open_wgpu().map_err(|e| format!("wgpu backend unavailable: {e}"))?;
            let name = hardware_adapter().unwrap_or_else(|| "software adapter".into());
            SelectedDevice {
                device,
                description: format!("wgpu: {name}"),
                gpu: true,
            }
        }
    };
    log::info!(
        "compute device: {} ({} CPU threads)",
        selected.description,
        threads()
    );
    Ok(selected)
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The name of the first non-CPU wgpu adapter, if any.
fn hardware_adapter() -> Option<String> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters
        .into_iter()
        .map(|a| a.get_info())
        .find(|info| info.device_type != wgpu::DeviceType::Cpu)
        .map(|info| format!("{} ({:?})", info.name, info.backend))
}

fn open_wgpu() -> Result<Device, String> {
    Device::wgpu_options().init().map_err(|e| e.to_string())
}
