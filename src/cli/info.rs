//! `mmgan info`: what a study holds, per role, and whether its volumes share one grid.

use mmgan::io::{Role, SequenceSet, Study, Volume};

use super::StudyArgs;

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    pub study: StudyArgs,
}

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let study = args.study.open()?;
    print!("{}", describe(&study));
    Ok(())
}

fn describe(study: &Study) -> String {
    let mut out = format!("Study {}\n", study.subject);
    for role in Role::ALL {
        let described = match role {
            Role::Sequence(s) => study.volume(s).map(|v| describe_volume(role, v)),
            Role::Label => study.label.as_ref().map(|v| describe_volume(role, v)),
        };
        match described {
            Some(text) => out += &text,
            // DWI and ADC belong to stroke studies: absent from a glioma study they are
            // not news.
            None if matches!(role, Role::Sequence(s) if SequenceSet::BRATS.contains(s)) => {
                out += &format!("  {:<9} absent\n", role.name())
            }
            None if matches!(role, Role::Sequence(_)) => {}
            None => out += &format!("  {:<9} none\n", role.name()),
        }
    }
    let count = study.present().len() + usize::from(study.label.is_some());
    out += &format!(
        "Grid: {} (canonical RAS); all {count} volumes on one grid\n",
        study.grid.describe()
    );
    // What a model of each known set would have to synthesize (the set a study is closest
    // to is the one it has most of: DWI says stroke, T1c glioma).
    for (name, set) in [("BraTS", SequenceSet::BRATS), ("ISLES", SequenceSet::ISLES)] {
        let missing: Vec<&str> = study.lacking(set).iter().map(|s| s.name()).collect();
        if !missing.is_empty() && missing.len() < set.sequences().len() {
            out += &format!(
                "Missing for a {name} model ({set}): {}\n",
                missing.join(", ")
            );
        }
    }
    out
}

fn describe_volume<T>(role: Role, v: &Volume<T>) -> String {
    let d = v.header.dim;
    let vs = v.voxel_size();
    let mut s = format!(
        "  {:<9} {}\n            {}x{}x{} voxels, {:.3}x{:.3}x{:.3} mm, orientation {} ({}), {:?}\n            intensity [{}, {}], display window [{}, {}]\n",
        role.name(),
        v.path.display(),
        d[1], d[2], d[3],
        vs[0], vs[1], vs[2],
        v.orientation_code(),
        v.affine_source,
        v.datatype,
        v.stats.min, v.stats.max,
        v.stats.window.0, v.stats.window.1,
    );
    for w in &v.warnings {
        s += &format!("            warning: {w}\n");
    }
    s
}
