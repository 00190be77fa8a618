//! Curriculum learning: which scenarios a training epoch may draw from.

use std::ops::Range;

/// The window of [`super::Scenario::all`] indices epoch `epoch` (1-based) draws its batches
/// from, uniformly. With the curriculum on, training starts with the easiest scenarios (one
/// missing) and widens every 10 epochs: 1-10 -> 10..14, 11-20 -> 7..14, 21-30 -> 3..14,
/// later -> all 14. Off: all 14 from the start.
pub fn scenario_window(epoch: usize, curriculum: bool) -> Range<usize> {
    if !curriculum {
        return 0..14;
    }
    match epoch {
        0..=10 => 10..14,
        11..=20 => 7..14,
        21..=30 => 3..14,
        _ => 0..14,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_widen_every_ten_epochs() {
        assert_eq!(scenario_window(1, true), 10..14);
        assert_eq!(scenario_window(10, true), 10..14);
        assert_eq!(scenario_window(11, true), 7..14);
        assert_eq!(scenario_window(20, true), 7..14);
        assert_eq!(scenario_window(21, true), 3..14);
        assert_eq!(scenario_window(30, true), 3..14);
        assert_eq!(scenario_window(31, true), 0..14);
        assert_eq!(scenario_window(60, true), 0..14);
        assert_eq!(scenario_window(1, false), 0..14);
    }
}
