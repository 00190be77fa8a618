//! The `mmgan` command: the viewer and the command-line tools (thin: the work is in the
//! library).

mod cli;

use clap::Parser;

/// Keep the networks' large temporaries in glibc's heap: a training step frees and
/// allocates the same sizes every few milliseconds, and by default glibc serves each above
/// its mmap threshold with a new mapping, unmapped when freed and trimmed from the heap
/// top, so the kernel faulted in and zeroed them page by page again on every step. Here
/// blocks up to 32 MiB (glibc's largest threshold, half its heap size) come from the heap,
/// which is never trimmed: the width-32 training step 1002 / 956 -> 809 / 825 ms (`mmgan
/// bench model --widths 16 --no-peer`, alternating with the binary before). The price is
/// that the process keeps its peak footprint. (mimalloc, measured first, made the step as
/// fast but the viewer's first slice twice as slow.)
fn keep_freed_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        // SAFETY: mallopt only sets malloc's parameters; it runs first in main, before any
        // other thread exists.
        #[allow(unsafe_code)]
        let ok = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        };
        if !ok {
            eprintln!("warning: glibc refused the malloc parameters; training runs slower");
        }
    }
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
