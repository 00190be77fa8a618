//! Which sequences of a slice are available to the model; the rest are synthesized.

use std::fmt;

use crate::io::{Sequence, SequenceSet};

/// A missing-sequence scenario over a model's [`SequenceSet`]: the AVAILABLE sequences (1
/// to 3 of the 4); the others are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scenario {
    set: SequenceSet,
    /// Bit `c` set: channel `c` of the set is available.
    available: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("nothing is missing: every sequence is available, there is nothing to synthesize")]
    NothingMissing,
    #[error("every sequence is missing: at least one must be available to synthesize from")]
    NothingAvailable,
    #[error("{seq} is not one of this model's sequences ({set})")]
    NotInSet { seq: Sequence, set: SequenceSet },
    #[error("{0}")]
    Parse(String),
}

impl Scenario {
    /// The scenario of `set` with exactly these sequences available.
    pub fn with_available(
        set: SequenceSet,
        available: &[Sequence],
    ) -> Result<Scenario, ScenarioError> {
        Scenario::from_bits(set, Scenario::bits(set, available)?)
    }

    /// The scenario of `set` with exactly these sequences missing.
    pub fn with_missing(set: SequenceSet, missing: &[Sequence]) -> Result<Scenario, ScenarioError> {
        Scenario::from_bits(set, !Scenario::bits(set, missing)? & 0b1111)
    }

    /// The scenario of `set` whose MISSING sequences `s` lists, comma-separated: `t2,flair`.
    pub fn parse(set: SequenceSet, s: &str) -> Result<Scenario, ScenarioError> {
        let missing = s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<Sequence>().map_err(ScenarioError::Parse))
            .collect::<Result<Vec<_>, _>>()?;
        Scenario::with_missing(set, &missing)
    }

    fn bits(set: SequenceSet, seqs: &[Sequence]) -> Result<u8, ScenarioError> {
        seqs.iter().try_fold(0u8, |b, &seq| {
            let c = set
                .channel(seq)
                .ok_or(ScenarioError::NotInSet { seq, set })?;
            Ok(b | (1 << c))
        })
    }

    fn from_bits(set: SequenceSet, bits: u8) -> Result<Scenario, ScenarioError> {
        match bits & 0b1111 {
            0b1111 => Err(ScenarioError::NothingMissing),
            0 => Err(ScenarioError::NothingAvailable),
            b => Ok(Scenario { set, available: b }),
        }
    }

    /// All 14 scenarios of `set`, sorted as the curriculum needs them: by the number of
    /// available sequences (indices 0-3: one available, 4-9: two, 10-13: three), then by
    /// channel. The order depends on channels only, so an index means the same scenario
    /// shape in every set.
    pub fn all(set: SequenceSet) -> [Scenario; 14] {
        let mut v: Vec<Scenario> = (1u8..15).map(|b| Scenario { set, available: b }).collect();
        v.sort_by_key(|s| (s.available.count_ones(), s.available));
        v.try_into().expect("14 scenarios")
    }

    /// The model's sequences this scenario is over.
    pub fn set(self) -> SequenceSet {
        self.set
    }

    /// Whether `seq` is an input (`false` for a sequence outside the set).
    pub fn is_available(self, seq: Sequence) -> bool {
        self.set.channel(seq).is_some_and(|c| self.has_channel(c))
    }

    /// The available sequences, in channel order.
    pub fn available(self) -> Vec<Sequence> {
        self.channels(true)
    }

    /// The missing sequences, in channel order.
    pub fn missing(self) -> Vec<Sequence> {
        self.channels(false)
    }

    /// The channels of the available sequences, ascending: what a network reads.
    pub fn available_channels(self) -> Vec<usize> {
        (0..4).filter(|&c| self.has_channel(c)).collect()
    }

    /// The channels of the missing sequences, ascending: what a network writes.
    pub fn missing_channels(self) -> Vec<usize> {
        (0..4).filter(|&c| !self.has_channel(c)).collect()
    }

    /// Whether channel `c` is an input.
    pub fn has_channel(self, c: usize) -> bool {
        c < 4 && self.available & (1 << c) != 0
    }

    fn channels(self, available: bool) -> Vec<Sequence> {
        (0..4)
            .filter(|&c| self.has_channel(c) == available)
            .map(|c| self.set.get(c))
            .collect()
    }

    /// The channel of `seq` in the model's input and output tensors.
    ///
    /// Panics for a sequence outside the set: callers pass the scenario's own sequences.
    pub fn channel(self, seq: Sequence) -> usize {
        self.set
            .channel(seq)
            .unwrap_or_else(|| panic!("{seq} is not in the set {}", self.set))
    }

    /// 1.0 for available channels, 0.0 for missing ones, in channel order.
    pub fn mask(self) -> [f32; 4] {
        std::array::from_fn(|c| f32::from(u8::from(self.has_channel(c))))
    }

    /// Position in [`Scenario::all`].
    pub fn index(self) -> usize {
        Scenario::all(self.set)
            .iter()
            .position(|s| *s == self)
            .expect("every scenario is listed")
    }
}

fn names(seqs: &[Sequence]) -> String {
    seqs.iter().map(|s| s.name()).collect::<Vec<_>>().join(",")
}

impl fmt::Display for Scenario {
    /// E.g. `T1,T1c,T2 -> FLAIR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {}",
            names(&self.available()),
            names(&self.missing())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Sequence::*;
    const BRATS: SequenceSet = SequenceSet::BRATS;

    #[test]
    fn fourteen_scenarios_sorted_by_available_count() {
        let all = Scenario::all(BRATS);
        let counts: Vec<usize> = all.iter().map(|s| s.available().len()).collect();
        assert_eq!(counts, vec![1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3]);
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), 14);
        assert_eq!(all[0].to_string(), "T1 -> T1c,T2,FLAIR");
        assert_eq!(all[13].to_string(), "T1c,T2,FLAIR -> T1");
        for (i, s) in all.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
    }

    #[test]
    fn parse_and_masks() {
        let s = Scenario::parse(BRATS, "t2, FLAIR").unwrap();
        assert_eq!(s.missing(), vec![T2, Flair]);
        assert_eq!(s.available(), vec![T1, T1c]);
        assert_eq!(s.mask(), [1.0, 1.0, 0.0, 0.0]);
        assert_eq!(s.to_string(), "T1,T1c -> T2,FLAIR");
        assert_eq!(
            Scenario::parse(BRATS, "t1,t1c,t2,flair"),
            Err(ScenarioError::NothingAvailable)
        );
        assert_eq!(
            Scenario::parse(BRATS, ""),
            Err(ScenarioError::NothingMissing)
        );
        assert!(Scenario::parse(BRATS, "t3").is_err());
        assert_eq!(Scenario::with_available(BRATS, &[T1, T1c]).unwrap(), s);
    }

    #[test]
    fn scenarios_follow_the_set() {
        let isles = SequenceSet::ISLES;
        let s = Scenario::parse(isles, "dwi").unwrap();
        assert_eq!(s.to_string(), "T1,T2,FLAIR -> DWI");
        assert_eq!(s.mask(), [1.0, 1.0, 0.0, 1.0]);
        assert_eq!(s.channel(Flair), 3);
        assert_eq!(s.available_channels(), vec![0, 1, 3]);
        assert_eq!(s.missing_channels(), vec![2]);
        assert!(!s.is_available(T1c));
        assert_eq!(
            Scenario::parse(isles, "t1c"),
            Err(ScenarioError::NotInSet {
                seq: T1c,
                set: isles
            })
        );
        let msg = Scenario::parse(BRATS, "dwi").unwrap_err().to_string();
        assert!(
            msg.contains("DWI is not one of this model's sequences (T1, T1c, T2, FLAIR)"),
            "{msg}"
        );
        assert_eq!(Scenario::all(isles)[0].to_string(), "T1 -> T2,DWI,FLAIR");
    }
}
