//! What the viewer keeps between runs (eframe's storage): display choices, recent studies
//! and the window/level set on each of them. Volumes, GPU resources and worker handles are
//! never persisted.

use super::render::{Difference, LabelStyle};
use super::view::ViewState;
use crate::io::Sequence;

/// A user-set window per sequence (`None`: automatic). Stored as a list in
/// [`Sequence::ALL`] order; a shorter list (settings saved when there were four sequences)
/// leaves the others automatic.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "Vec<Option<(f32, f32)>>", into = "Vec<Option<(f32, f32)>>")]
pub struct Windows([Option<(f32, f32)>; Sequence::COUNT]);

impl Windows {
    pub fn get(&self, seq: Sequence) -> Option<(f32, f32)> {
        self.0[seq.slot()]
    }

    pub fn set(&mut self, seq: Sequence, window: Option<(f32, f32)>) {
        self.0[seq.slot()] = window;
    }
}

impl From<Vec<Option<(f32, f32)>>> for Windows {
    fn from(list: Vec<Option<(f32, f32)>>) -> Self {
        let mut w = Windows::default();
        for (slot, v) in w.0.iter_mut().zip(list) {
            *slot = v;
        }
        w
    }
}

impl From<Windows> for Vec<Option<(f32, f32)>> {
    fn from(w: Windows) -> Self {
        w.0.to_vec()
    }
}

/// How many recent studies (and their windows) are remembered.
const RECENT: usize = 8;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    pub recent: Vec<String>,
    pub radiological: bool,
    pub difference: Difference,
    pub difference_opacity: f32,
    pub labels: LabelStyle,
    pub label_opacity: f32,
    pub view: ViewState,
    /// Window/level changes apply to all four sequences (relative to each one's own).
    pub link_windows: bool,
    /// The self-check side panel (and running the check).
    pub self_check: bool,
    /// The last window/level of each recent study (by folder).
    pub windows: Vec<(String, Windows)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recent: Vec::new(),
            radiological: true,
            difference: Difference::Off,
            difference_opacity: 0.7,
            labels: LabelStyle::Off,
            label_opacity: 0.5,
            view: ViewState::default(),
            link_windows: false,
            self_check: true,
            windows: Vec::new(),
        }
    }
}

impl Settings {
    /// These settings with no overlay drawn (difference, uncertainty, labels).
    pub fn without_overlays(&self) -> Settings {
        Settings {
            difference: match self.difference {
                Difference::SideBySide => Difference::SideBySide,
                _ => Difference::Off,
            },
            labels: LabelStyle::Off,
            ..self.clone()
        }
    }

    /// Put `study` first in the recent list.
    pub fn remember_recent(&mut self, study: &str) {
        self.recent.retain(|r| r != study);
        self.recent.insert(0, study.to_string());
        self.recent.truncate(RECENT);
    }

    /// The windows last used on `study` (all automatic if none).
    pub fn windows_of(&self, study: &str) -> Windows {
        self.windows
            .iter()
            .find(|(s, _)| s == study)
            .map(|(_, w)| *w)
            .unwrap_or_default()
    }

    /// Keep the windows of `study`; all automatic forgets them.
    pub fn remember_windows(&mut self, study: &str, windows: Windows) {
        self.windows.retain(|(k, _)| k != study);
        if windows != Windows::default() {
            self.windows.insert(0, (study.to_string(), windows));
            self.windows.truncate(RECENT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_studies_and_their_windows_are_kept_most_recent_first() {
        let mut s = Settings::default();
        for i in 0..10 {
            s.remember_recent(&format!("/s{i}"));
        }
        s.remember_recent("/s3");
        assert_eq!(s.recent.len(), RECENT);
        assert_eq!(s.recent[0], "/s3");
        assert_eq!(s.recent.iter().filter(|r| *r == "/s3").count(), 1);

        let mut w = Windows::default();
        w.set(Sequence::T1, Some((0.0, 10.0)));
        s.remember_windows("/a", w);
        s.remember_windows("/b", Windows::default());
        assert_eq!(s.windows_of("/a"), w);
        assert_eq!(s.windows_of("/b"), Windows::default());
        assert_eq!(s.windows.len(), 1, "all-automatic windows are not stored");
        s.remember_windows("/a", Windows::default());
        assert!(s.windows.is_empty());
    }

    #[test]
    fn settings_round_trip_and_old_files_fill_in_defaults() {
        let mut s = Settings {
            radiological: false,
            ..Settings::default()
        };
        let mut w = Windows::default();
        w.set(Sequence::Dwi, Some((1.0, 2.0)));
        s.remember_windows("/a", w);
        let json = serde_json::to_string(&s).unwrap_or_default();
        let back: Settings = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, s);
        // Settings saved with four windows per study (T1, T1c, T2, FLAIR) still load.
        let old: Settings =
            serde_json::from_str(r#"{"windows": [["/b", [null, [1.0, 2.0], null, null]]]}"#)
                .unwrap_or_default();
        assert_eq!(old.windows_of("/b").get(Sequence::T1c), Some((1.0, 2.0)));
        assert_eq!(old.windows_of("/b").get(Sequence::Dwi), None);
        let partial: Settings =
            serde_json::from_str(r#"{"radiological": false}"#).unwrap_or_default();
        assert!(!partial.radiological);
        assert_eq!(partial.difference_opacity, 0.7);
    }
}
