//! What panels, menus and keys ask the app to do. They push these during the frame; the
//! app runs them at its end, so no widget calls back into the app.

use std::path::PathBuf;

use super::view::{Plane, ViewState};
use crate::io::Sequence;

/// What a file dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    StudyFolder,
    StudyFiles,
    /// The export folder; export into it right away when `export`.
    ExportFolder {
        export: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A study folder, or a set of NIfTI files whose names give their roles.
    Open(Vec<PathBuf>),
    Dialog(Pick),
    /// Export the finished synthesized volumes into the export folder.
    Export,
    /// Save one finished synthesized volume through a save dialog.
    SaveAs(Sequence),
    /// Show or hide the keys-and-mouse help.
    ToggleHelp,
    /// Save a screenshot of the window into the export folder.
    Screenshot,
    SetMissing(Sequence, bool),
    SetPlane(Plane),
    /// Show this slice of the current plane.
    SetSlice(usize),
    /// Move the slice by this many steps (keys, wheel).
    StepSlice(isize),
    /// Place the crosshair on a voxel [x, y, z].
    SetCrosshair([usize; 3]),
    /// A sequence's window/level (`None`: automatic).
    SetWindow(Sequence, Option<(f32, f32)>),
    ResetWindows,
    /// Turn the overlay off, or back on.
    ToggleOverlay,
    /// Zoom and pan of all panels.
    SetView(ViewState),
    /// Run the `i`th configured weights folder (the Model menu).
    UseModel(usize),
}
