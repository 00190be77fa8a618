//! The `mmgan` command: the viewer and the command-line tools (thin: the work is in the
//! library).

mod cli;

use clap::Parser;

/// The networks' large temporaries (a training step frees and allocates the same sizes
/// every few milliseconds) come back from the allocator's own pages; with glibc's malloc
/// each was a fresh mapping the kernel zeroed page by page (`mmgan bench model`: the
/// training step 1052 -> 871 ms, study opening a fifth faster).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc.h's `mi_option_purge_delay` (the sys crate names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed pages stay with the process instead of going back to the kernel 10 ms later (the
/// default), which made the next step fault and zero them again: the width-32 training
/// step 1015 / 1021 / 1042 -> 860 / 908 / 854 ms, alternating. The price is that the
/// process keeps its peak footprint (about 0.5 GB synthesizing a study).
fn keep_freed_pages() {
    // SAFETY: mi_option_set only stores the value; mimalloc reads options at any time.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1)
    };
}

fn main() -> std::process::ExitCode {
    keep_freed_pages();
    ensure_runtime_dir();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Mesa's Vulkan drivers (used by wgpu without a GPU) complain on every start when
/// XDG_RUNTIME_DIR is unset, as on servers and in CI: give them a private one.
fn ensure_runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let user = std::env::var("USER").unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("mmgan-runtime-{user}"));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    if builder.create(&dir).is_ok() || dir.is_dir() {
        // Single-threaded here: nothing else reads the environment yet.
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
    }
}
