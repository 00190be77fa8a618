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
    let config = mmgan::train::load_saved_config(&a.run.join("config.json"))?;
    let folder = a
        .run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = format!("{folder} - {}", config.method);
    mmgan::train::draw_curves(&logs, &title, config.validation_label(), &out)
        .map_err(anyhow::Error::msg)?;
    eprintln!("{} epochs drawn into {}", logs.len(), out.display());
    Ok(())
}
