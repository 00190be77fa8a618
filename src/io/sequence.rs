//! The MRI sequences the project knows, the ordered sets of them a model works with, and
//! the file roles of a study.

use std::fmt;
use std::str::FromStr;

/// One MRI sequence a study file can hold.
///
/// [`Sequence::ALL`] lists every sequence this build recognises; a model works with an
/// ordered [`SequenceSet`] of four of them (its channel order), named in its sidecar.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Sequence {
    T1,
    T1c,
    T2,
    Flair,
    /// Diffusion-weighted (trace, b = 1000 s/mm^2), as in ISLES.
    Dwi,
    /// Apparent diffusion coefficient map, derived from the diffusion acquisition.
    Adc,
}

impl Sequence {
    /// Every recognised sequence, in a fixed order ([`Sequence::slot`]).
    pub const ALL: [Sequence; 6] = [
        Sequence::T1,
        Sequence::T1c,
        Sequence::T2,
        Sequence::Flair,
        Sequence::Dwi,
        Sequence::Adc,
    ];
    pub const COUNT: usize = Sequence::ALL.len();

    /// Position in [`Sequence::ALL`]: the index of per-sequence tables that hold every
    /// recognised sequence (a study's files). A model's channel index is
    /// [`SequenceSet::channel`], not this.
    pub fn slot(self) -> usize {
        self as usize
    }

    /// Display name as radiologists write it.
    pub fn name(self) -> &'static str {
        match self {
            Sequence::T1 => "T1",
            Sequence::T1c => "T1c",
            Sequence::T2 => "T2",
            Sequence::Flair => "FLAIR",
            Sequence::Dwi => "DWI",
            Sequence::Adc => "ADC",
        }
    }

    /// Lower-case short name used in file names and on the command line.
    pub fn slug(self) -> &'static str {
        match self {
            Sequence::T1 => "t1",
            Sequence::T1c => "t1c",
            Sequence::T2 => "t2",
            Sequence::Flair => "flair",
            Sequence::Dwi => "dwi",
            Sequence::Adc => "adc",
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
                "unknown sequence '{s}' (expected t1, t1c, t2, flair, dwi or adc)"
            )),
        }
    }
}

/// The four sequences a model synthesizes among, in its channel order.
///
/// BraTS (the default) is T1, T1c, T2, FLAIR, the order of the viewer's panels; ISLES 2015
/// (ischaemic stroke) is T1, T2, DWI, FLAIR. The reference implementation orders the BraTS
/// channels T1, T2, T1c, FLAIR; only the order differs, not the method.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct SequenceSet([Sequence; 4]);

impl SequenceSet {
    pub const BRATS: SequenceSet =
        SequenceSet([Sequence::T1, Sequence::T1c, Sequence::T2, Sequence::Flair]);
    pub const ISLES: SequenceSet =
        SequenceSet([Sequence::T1, Sequence::T2, Sequence::Dwi, Sequence::Flair]);

    /// A set of four distinct sequences, in this channel order.
    pub fn new(sequences: [Sequence; 4]) -> Result<SequenceSet, String> {
        for (i, s) in sequences.iter().enumerate() {
            if sequences[..i].contains(s) {
                return Err(format!("{s} is listed twice in the sequence set"));
            }
        }
        Ok(SequenceSet(sequences))
    }

    /// The sequences in channel order.
    pub fn sequences(self) -> [Sequence; 4] {
        self.0
    }

    /// The sequence of channel `c` (0..4).
    pub fn get(self, c: usize) -> Sequence {
        self.0[c]
    }

    /// The channel that holds `seq`, if the set has it.
    pub fn channel(self, seq: Sequence) -> Option<usize> {
        self.0.iter().position(|s| *s == seq)
    }

    pub fn contains(self, seq: Sequence) -> bool {
        self.channel(seq).is_some()
    }

    /// Display names in channel order, as the sidecar's `channel_order` lists them.
    pub fn names(self) -> Vec<String> {
        self.0.iter().map(|s| s.name().to_string()).collect()
    }

    /// The set from a sidecar's list of names.
    pub fn from_names(names: &[String]) -> Result<SequenceSet, String> {
        let seqs = names
            .iter()
            .map(|n| n.parse::<Sequence>())
            .collect::<Result<Vec<_>, _>>()?;
        let four: [Sequence; 4] = seqs.try_into().map_err(|v: Vec<Sequence>| {
            format!("a model has 4 sequences, {} are listed", v.len())
        })?;
        SequenceSet::new(four)
    }
}

impl TryFrom<Vec<String>> for SequenceSet {
    type Error = String;
    fn try_from(names: Vec<String>) -> Result<Self, Self::Error> {
        SequenceSet::from_names(&names)
    }
}

impl From<SequenceSet> for Vec<String> {
    fn from(set: SequenceSet) -> Self {
        set.names()
    }
}

impl Default for SequenceSet {
    fn default() -> Self {
        SequenceSet::BRATS
    }
}

impl fmt::Display for SequenceSet {
    /// E.g. `T1, T2, DWI, FLAIR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(", "))
    }
}

impl FromStr for SequenceSet {
    type Err = String;
    /// Comma-separated names (`t1,t2,dwi,flair`) or a preset (`brats`, `isles`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "brats" => return Ok(SequenceSet::BRATS),
            "isles" => return Ok(SequenceSet::ISLES),
            _ => {}
        }
        let names: Vec<String> = s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect();
        SequenceSet::from_names(&names)
    }
}

/// What a file of a study holds: one of the sequences, or the lesion label map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Sequence(Sequence),
    Label,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Sequence(Sequence::T1),
        Role::Sequence(Sequence::T1c),
        Role::Sequence(Sequence::T2),
        Role::Sequence(Sequence::Flair),
        Role::Sequence(Sequence::Dwi),
        Role::Sequence(Sequence::Adc),
        Role::Label,
    ];

    /// The role a single file-name token names, for the layouts in use: BraTS 2018-2021
    /// (`t1 t1ce t2 flair seg`), BraTS 2023+ (`t1n t1c t2w t2f seg`), BIDS-like (`t1w t2w
    /// dwi adc`), ISLES 2015 (`MR_DWI`, `MR_Flair`, `OT` for the lesion label) and toolkit
    /// names (`t1gd`, `fla`, `t2flair`, `segmentation`, `label`).
    pub fn from_token(token: &str) -> Option<Role> {
        let role = match token {
            "t1" | "t1n" | "t1w" | "t1native" => Role::Sequence(Sequence::T1),
            "t1c" | "t1ce" | "t1gd" | "t1post" | "t1contrast" => Role::Sequence(Sequence::T1c),
            "t2" | "t2w" => Role::Sequence(Sequence::T2),
            "flair" | "fla" | "t2flair" | "t2f" => Role::Sequence(Sequence::Flair),
            "dwi" | "dw" | "trace" => Role::Sequence(Sequence::Dwi),
            "adc" => Role::Sequence(Sequence::Adc),
            "seg" | "segmentation" | "label" | "labels" | "ot" => Role::Label,
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
            ("dwi", Sequence::Dwi),
            ("adc", Sequence::Adc),
        ] {
            assert_eq!(Role::from_token(tok), Some(Role::Sequence(seq)), "{tok}");
        }
        assert_eq!(Role::from_token("segmentation"), Some(Role::Label));
        assert_eq!(Role::from_token("bet"), None);
        assert_eq!("FLAIR".parse::<Sequence>(), Ok(Sequence::Flair));
        assert_eq!("DWI".parse::<Sequence>(), Ok(Sequence::Dwi));
        assert!("pd".parse::<Sequence>().is_err());
    }

    #[test]
    fn sets_order_channels_and_refuse_repeats() {
        let isles: SequenceSet = "t1, t2, DWI, flair".parse().unwrap();
        assert_eq!(isles, SequenceSet::ISLES);
        assert_eq!("isles".parse::<SequenceSet>(), Ok(SequenceSet::ISLES));
        assert_eq!(isles.channel(Sequence::Dwi), Some(2));
        assert_eq!(isles.channel(Sequence::T1c), None);
        assert_eq!(SequenceSet::BRATS.channel(Sequence::Flair), Some(3));
        assert_eq!(SequenceSet::default(), SequenceSet::BRATS);
        assert_eq!(
            SequenceSet::from_names(&SequenceSet::ISLES.names()),
            Ok(SequenceSet::ISLES)
        );
        let twice = "t1,t2,t2,flair".parse::<SequenceSet>().unwrap_err();
        assert!(twice.contains("T2 is listed twice"), "{twice}");
        let three = "t1,t2,flair".parse::<SequenceSet>().unwrap_err();
        assert!(three.contains("3 are listed"), "{three}");
        assert!("t1,t2,pd,flair".parse::<SequenceSet>().is_err());
    }
}
