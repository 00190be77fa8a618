//! Which sequences of a slice are available to the model; the rest are synthesized.

use std::fmt;
use std::str::FromStr;

use crate::io::Sequence;

/// A missing-sequence scenario: the set of AVAILABLE sequences (1 to 3 of the 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Scenario {
    /// Bit `i` set: `Sequence::ALL[i]` is available.
    available: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("nothing is missing: every sequence is available, there is nothing to synthesize")]
    NothingMissing,
    #[error("every sequence is missing: at least one must be available to synthesize from")]
    NothingAvailable,
    #[error("{0}")]
    Parse(String),
}

impl Scenario {
    /// The scenario with exactly these sequences available.
    pub fn with_available(available: &[Sequence]) -> Result<Scenario, ScenarioError> {
        let bits = available.iter().fold(0u8, |b, s| b | (1 << s.index()));
        Scenario::from_bits(bits)
    }

    /// The scenario with exactly these sequences missing.
    pub fn with_missing(missing: &[Sequence]) -> Result<Scenario, ScenarioError> {
        let bits = missing.iter().fold(0u8, |b, s| b | (1 << s.index()));
        Scenario::from_bits(!bits & 0b1111)
    }

    fn from_bits(bits: u8) -> Result<Scenario, ScenarioError> {
        match bits & 0b1111 {
            0b1111 => Err(ScenarioError::NothingMissing),
            0 => Err(ScenarioError::NothingAvailable),
            b => Ok(Scenario { available: b }),
        }
    }

    /// All 14 scenarios, sorted as the curriculum needs them: by the number of available
    /// sequences (indices 0-3: one available, 4-9: two, 10-13: three), then by channel.
    pub fn all() -> [Scenario; 14] {
        let mut v: Vec<Scenario> = (1u8..15).map(|b| Scenario { available: b }).collect();
        v.sort_by_key(|s| (s.available.count_ones(), s.available));
        v.try_into().expect("14 scenarios")
    }

    pub fn is_available(self, seq: Sequence) -> bool {
        self.available & (1 << seq.index()) != 0
    }

    pub fn available(self) -> Vec<Sequence> {
        Sequence::ALL
            .into_iter()
            .filter(|s| self.is_available(*s))
            .collect()
    }

    pub fn missing(self) -> Vec<Sequence> {
        Sequence::ALL
            .into_iter()
            .filter(|s| !self.is_available(*s))
            .collect()
    }

    /// 1.0 for available channels, 0.0 for missing ones, in channel order.
    pub fn mask(self) -> [f32; 4] {
        Sequence::ALL.map(|s| if self.is_available(s) { 1.0 } else { 0.0 })
    }

    /// Position in [`Scenario::all`].
    pub fn index(self) -> usize {
        Scenario::all()
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

impl FromStr for Scenario {
    type Err = ScenarioError;
    /// Parses the MISSING sequences, comma-separated: `t2,flair`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let missing = s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<Sequence>().map_err(ScenarioError::Parse))
            .collect::<Result<Vec<_>, _>>()?;
        Scenario::with_missing(&missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Sequence::*;

    #[test]
    fn fourteen_scenarios_sorted_by_available_count() {
        let all = Scenario::all();
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
        let s: Scenario = "t2, FLAIR".parse().unwrap();
        assert_eq!(s.missing(), vec![T2, Flair]);
        assert_eq!(s.available(), vec![T1, T1c]);
        assert_eq!(s.mask(), [1.0, 1.0, 0.0, 0.0]);
        assert_eq!(s.to_string(), "T1,T1c -> T2,FLAIR");
        assert_eq!(
            "t1,t1c,t2,flair".parse::<Scenario>(),
            Err(ScenarioError::NothingAvailable)
        );
        assert_eq!("".parse::<Scenario>(), Err(ScenarioError::NothingMissing));
        assert!("t3".parse::<Scenario>().is_err());
        assert_eq!(Scenario::with_available(&[T1, T1c]).unwrap(), s);
    }
}
