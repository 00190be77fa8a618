//! `mmgan curves`: redraw a run's learning curves (training writes them after each epoch).

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CurvesArgs {
    /// Run folder (holds log.jsonl)
    pub run: PathBuf,
    /// PNG to write (default: RUN/curves.png)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: &CurvesArgs) -> anyhow::Result<()> {
    let logs = mmgan::train::read_log(&a.run.join("log.jsonl")).map_err(anyhow::Error::msg)?;
    let out = a.out.clone().unwrap_or_else(|| a.run.join("curves.png"));
    let title = a
        .run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    mmgan::train::draw_curves(&logs, &title, &out).map_err(anyhow::Error::msg)?;
    eprintln!("{} epochs drawn into {}", logs.len(), out.display());
    Ok(())
}
