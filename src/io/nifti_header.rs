//! The NIfTI-1 header: parsed from its 348 bytes in either byte order and checked
//! (dimensions, datatype, offsets, sizes against the file's) before a voxel is read, so
//! a corrupt or hostile header is refused naming the file and the field; and the
//! warnings a valid but unusual header deserves.

use std::path::Path;

use nifti::{Endianness, NiftiHeader, NiftiType};

use super::{IoError, Result};

/// Voxels above which a volume is refused from its header: 2^26 (512x512x256). It bounds
/// the memory one file can claim (256 MiB as f32, twice that while reorienting) whatever
/// its size on disk, far above any clinical MRI of the brain.
pub const MAX_VOXELS: u64 = 1 << 26;

/// deflate cannot compress better than about 1032:1; a `.nii.gz` whose header promises more
/// data than that is lying about its size.
const MAX_DEFLATE_RATIO: u64 = 1032;

pub(super) struct Layout {
    pub(super) dims: [usize; 3],
    pub(super) datatype: NiftiType,
    pub(super) vox_offset: u64,
    pub(super) data_bytes: u64,
}

pub(super) fn parse_header(raw: &[u8; 348], path: &Path) -> Result<NiftiHeader> {
    let sizeof_le = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let sizeof_be = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if sizeof_le == 540 || sizeof_be == 540 {
        return Err(IoError::Unsupported {
            path: path.into(),
            reason: "NIfTI-2 files are not supported; convert to NIfTI-1".into(),
        });
    }
    if sizeof_le != 348 && sizeof_be != 348 {
        return Err(IoError::NotNifti {
            path: path.into(),
            reason: format!("header size field is {sizeof_le}, not 348"),
        });
    }
    let header = NiftiHeader::from_reader(&raw[..]).map_err(|e| IoError::NotNifti {
        path: path.into(),
        reason: match e {
            nifti::NiftiError::InvalidFormat => "bad magic (expected \"n+1\")".to_string(),
            other => other.to_string(),
        },
    })?;
    // nifti guesses the byte order from dim[0] (1..7); sizeof_hdr says it for sure. When
    // they disagree, dim[0] is out of range and would be reported byte-swapped.
    let little = sizeof_le == 348;
    if little != (header.endianness == Endianness::Little) {
        let dim0 = if little {
            i16::from_le_bytes([raw[40], raw[41]])
        } else {
            i16::from_be_bytes([raw[40], raw[41]])
        };
        return Err(IoError::AbsurdHeader {
            path: path.into(),
            reason: format!("dim[0] = {dim0}, must be 1..7"),
        });
    }
    if &header.magic == b"ni1\0" {
        return Err(IoError::Unsupported {
            path: path.into(),
            reason: "a NIfTI .hdr/.img pair; convert it to a single .nii or .nii.gz".into(),
        });
    }
    Ok(header)
}

pub(super) fn check_header(
    h: &NiftiHeader,
    path: &Path,
    gz: bool,
    file_len: u64,
) -> Result<Layout> {
    let absurd = |reason: String| IoError::AbsurdHeader {
        path: path.into(),
        reason,
    };
    let ndim = usize::from(h.dim[0]);
    if !(1..=7).contains(&ndim) {
        return Err(absurd(format!("dim[0] = {ndim}, must be 1..7")));
    }
    // Dimensions are signed 16-bit in the file.
    let dims: Vec<i64> = (1..=ndim).map(|i| i64::from(h.dim[i] as i16)).collect();
    if dims.iter().any(|&d| d <= 0) {
        return Err(absurd(format!("non-positive dimension in {dims:?}")));
    }
    if ndim < 3 {
        return Err(IoError::Unsupported {
            path: path.into(),
            reason: format!("a {ndim}D image; a 3D volume is needed"),
        });
    }
    let extra: i64 = dims[3..].iter().product();
    if extra > 1 {
        return Err(IoError::Unsupported {
            path: path.into(),
            reason: format!(
                "a {ndim}D image with {extra} volumes (dims {dims:?}); one 3D volume per file is needed"
            ),
        });
    }
    let datatype = h.data_type().map_err(|_| IoError::Unsupported {
        path: path.into(),
        reason: format!("unknown datatype code {}", h.datatype),
    })?;
    if !matches!(
        datatype,
        NiftiType::Uint8
            | NiftiType::Int8
            | NiftiType::Int16
            | NiftiType::Uint16
            | NiftiType::Int32
            | NiftiType::Uint32
            | NiftiType::Int64
            | NiftiType::Uint64
            | NiftiType::Float32
            | NiftiType::Float64
    ) {
        return Err(IoError::Unsupported {
            path: path.into(),
            reason: format!("datatype {datatype:?} is not a scalar intensity type"),
        });
    }
    let voxels = (dims[0] * dims[1] * dims[2]) as u64;
    if voxels > MAX_VOXELS {
        return Err(absurd(format!(
            "{}x{}x{} = {voxels} voxels, over the limit of {MAX_VOXELS} (512x512x256)",
            dims[0], dims[1], dims[2]
        )));
    }
    let data_bytes = voxels * datatype.size_of() as u64;
    if !h.vox_offset.is_finite() || h.vox_offset < 0.0 || h.vox_offset > 1e9 {
        return Err(absurd(format!("vox_offset {}", h.vox_offset)));
    }
    // Old writers put 348 in vox_offset of single files; data then follow the 4 extension bytes.
    let vox_offset = (h.vox_offset as u64).max(352);
    if gz {
        let bound = file_len.saturating_mul(MAX_DEFLATE_RATIO) + 4096;
        if data_bytes > bound {
            return Err(absurd(format!(
                "{}x{}x{} {datatype:?} needs {data_bytes} bytes, more than a {file_len}-byte gzip file can hold",
                dims[0], dims[1], dims[2]
            )));
        }
    } else if vox_offset + data_bytes > file_len {
        return Err(IoError::Truncated {
            path: path.into(),
            reason: format!(
                "the header ({}x{}x{} {datatype:?}) needs {} bytes, the file has {file_len}",
                dims[0],
                dims[1],
                dims[2],
                vox_offset + data_bytes
            ),
        });
    }
    Ok(Layout {
        dims: [dims[0] as usize, dims[1] as usize, dims[2] as usize],
        datatype,
        vox_offset,
        data_bytes,
    })
}

/// Header fields that are wrong but harmless to read past, said in words.
pub(super) fn header_warnings(h: &NiftiHeader, datatype: NiftiType) -> Vec<String> {
    let mut w = Vec::new();
    let bits = datatype.size_of() * 8;
    if i64::from(h.bitpix) != bits as i64 {
        w.push(format!(
            "bitpix {} disagrees with the datatype ({datatype:?}, {bits} bits); the datatype is used",
            h.bitpix
        ));
    }
    if !h.scl_slope.is_finite() {
        w.push(format!(
            "scl_slope is {}: no intensity scaling applied",
            h.scl_slope
        ));
    } else if h.scl_slope != 0.0 && !h.scl_inter.is_finite() {
        w.push(format!(
            "scl_inter is {} (scl_slope {}): no intensity scaling applied",
            h.scl_inter, h.scl_slope
        ));
    }
    w
}
