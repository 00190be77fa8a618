//! The four MRI sequences and the file roles of a study.

use std::fmt;
use std::str::FromStr;

/// One of the four structural MRI sequences MM-GAN works with.
///
/// The order of [`Sequence::ALL`] is the project's channel order (T1, T1c, T2, FLAIR: the
/// order of the viewer's panels). The reference implementation orders channels
/// T1, T2, T1c, FLAIR; only the order differs, not the method.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Sequence {
    T1,
    T1c,
    T2,
    Flair,
}

impl Sequence {
    pub const ALL: [Sequence; 4] = [Sequence::T1, Sequence::T1c, Sequence::T2, Sequence::Flair];

    /// Channel index in the project's order.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Display name as radiologists write it.
    pub fn name(self) -> &'static str {
        match self {
            Sequence::T1 => "T1",
            Sequence::T1c => "T1c",
            Sequence::T2 => "T2",
            Sequence::Flair => "FLAIR",
        }
    }

    /// Lower-case short name used in file names and on the command line.
    pub fn slug(self) -> &'static str {
        match self {
            Sequence::T1 => "t1",
            Sequence::T1c => "t1c",
            Sequence::T2 => "t2",
            Sequence::Flair => "flair",
        }
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Sequence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Role::from_token(&s.to_ascii_lowercase()) {
            Some(Role::Sequence(seq)) => Ok(seq),
            _ => Err(format!(
                "unknown sequence '{s}' (expected t1, t1c, t2 or flair)"
            )),
        }
    }
}

/// What a file of a study holds: one of the sequences, or the tumour label map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Sequence(Sequence),
    Label,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Sequence(Sequence::T1),
        Role::Sequence(Sequence::T1c),
        Role::Sequence(Sequence::T2),
        Role::Sequence(Sequence::Flair),
        Role::Label,
    ];

    /// The role a single file-name token names, for the layouts in use: BraTS 2018-2021
    /// (`t1 t1ce t2 flair seg`), BraTS 2023+ (`t1n t1c t2w t2f seg`), BIDS-like (`t1w t2w`)
    /// and toolkit names (`t1gd`, `fla`, `t2flair`, `segmentation`, `label`).
    pub fn from_token(token: &str) -> Option<Role> {
        let role = match token {
            "t1" | "t1n" | "t1w" | "t1native" => Role::Sequence(Sequence::T1),
            "t1c" | "t1ce" | "t1gd" | "t1post" | "t1contrast" => Role::Sequence(Sequence::T1c),
            "t2" | "t2w" => Role::Sequence(Sequence::T2),
            "flair" | "fla" | "t2flair" | "t2f" => Role::Sequence(Sequence::Flair),
            "seg" | "segmentation" | "label" | "labels" => Role::Label,
            _ => return None,
        };
        Some(role)
    }

    /// The command-line flag that names a file of this role explicitly.
    pub fn flag(self) -> &'static str {
        match self {
            Role::Sequence(s) => s.slug(),
            Role::Label => "seg",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Sequence(s) => s.name(),
            Role::Label => "label map",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_every_layout_map_to_roles() {
        for (tok, seq) in [
            ("t1", Sequence::T1),
            ("t1n", Sequence::T1),
            ("t1ce", Sequence::T1c),
            ("t1c", Sequence::T1c),
            ("t1gd", Sequence::T1c),
            ("t2", Sequence::T2),
            ("t2w", Sequence::T2),
            ("t2f", Sequence::Flair),
            ("fla", Sequence::Flair),
            ("flair", Sequence::Flair),
            ("t2flair", Sequence::Flair),
        ] {
            assert_eq!(Role::from_token(tok), Some(Role::Sequence(seq)), "{tok}");
        }
        assert_eq!(Role::from_token("segmentation"), Some(Role::Label));
        assert_eq!(Role::from_token("bet"), None);
        assert_eq!("FLAIR".parse::<Sequence>(), Ok(Sequence::Flair));
        assert!("pd".parse::<Sequence>().is_err());
    }
}
