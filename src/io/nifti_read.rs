//! Reading one NIfTI-1 volume (`.nii` or `.nii.gz`) into the canonical RAS voxel order.
//!
//! The header is parsed and sanity-checked (`nifti_header`) before any voxel buffer is
//! allocated, so a corrupt or hostile header cannot make us allocate gigabytes; the voxel
//! data is then inflated in one pass (zlib-rs) and converted to `f32` with the header's
//! scaling, or, for a label map, to `u8` codes (a quarter of the memory: the map is
//! mostly zeros, and fresh pages are most of what opening it costs).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use ndarray::{Array3, ShapeBuilder};
use nifti::{Endianness, NiftiHeader, NiftiType};

use super::intensity::{IntensityStats, StatsAccumulator};
use super::nifti_header::{check_header, header_warnings, parse_header, Layout};
use super::orientation::{affine_from_header, Affine, AffineSource, Orientation, Reorientation};
use super::{IoError, Result};

/// One 3D volume as read from a NIfTI file, held in canonical RAS voxel order: intensities
/// as `f32` ([`read_volume`]), a label map as `u8` codes ([`read_label_map`]).
#[derive(Debug, Clone)]
pub struct Volume<T = f32> {
    pub path: PathBuf,
    /// The header as read from the file; the reference for writing back onto this grid.
    pub header: NiftiHeader,
    /// Voxels in RAS order, Fortran layout (`x` fastest, axial slices contiguous), after
    /// `scl_slope`/`scl_inter`, with NaN and Inf replaced by 0 (and, as `u8`, every value
    /// that is not an integer in 0-254 by [`NOT_A_LABEL`]).
    pub data: Array3<T>,
    /// Voxel-to-world affine of the file's own voxel order.
    pub source_affine: Affine,
    pub affine_source: AffineSource,
    /// Voxel-to-world affine of `data` (canonical order).
    pub affine: Affine,
    /// Orientation of the file's voxel axes (its code, e.g. "LPS", is reported).
    pub orientation: Orientation,
    /// How the file's voxel order maps onto `data`.
    pub reorientation: Reorientation,
    pub datatype: NiftiType,
    /// Of the values held (for a label map, its codes).
    pub stats: IntensityStats,
    /// Things a user should know (NaNs replaced, oblique grid), already logged.
    pub warnings: Vec<String>,
}

impl<T> Volume<T> {
    /// Dimensions of `data` (canonical order).
    pub fn dims(&self) -> [usize; 3] {
        let s = self.data.shape();
        [s[0], s[1], s[2]]
    }

    /// The file's orientation code, e.g. "LPS".
    pub fn orientation_code(&self) -> String {
        self.orientation.code()
    }

    /// Voxel sizes in mm along the canonical axes.
    pub fn voxel_size(&self) -> [f64; 3] {
        super::orientation::voxel_sizes(&self.affine)
    }
}

/// A file opened up to its voxel data: the stream positioned after the 348-byte header,
/// the header parsed and checked.
struct Opened {
    input: Box<dyn Read>,
    header: NiftiHeader,
    layout: Layout,
    gz: bool,
    file_len: u64,
}

fn open_header(path: &Path) -> Result<Opened> {
    super::study::check_regular_file(path)?;
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| IoError::io(path, e))?.len();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut magic = [0u8; 2];
    let gz = match reader.read_exact(&mut magic) {
        Ok(()) => magic == [0x1f, 0x8b],
        Err(_) => false,
    };
    // Re-open rather than seek: the first bytes went into the BufReader.
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    let mut input: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 16,
            file,
        )))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    let mut raw_header = [0u8; 348];
    read_exact_or(
        &mut input,
        &mut raw_header,
        path,
        "the file ends inside the 348-byte header",
    )?;
    let header = parse_header(&raw_header, path)?;
    let layout = check_header(&header, path, gz, file_len)?;
    Ok(Opened {
        input,
        header,
        layout,
        gz,
        file_len,
    })
}

/// The grid a file's volume will have once read (canonical dimensions and affine), from
/// its header alone: a study checks every file's grid before any voxel buffer exists.
pub fn read_grid(path: &Path) -> Result<([usize; 3], Affine)> {
    let opened = open_header(path)?;
    let (affine, source) = checked_affine(&opened.header, path)?;
    let orientation = Orientation::of_affine(&affine).map_err(|reason| IoError::Unsupported {
        path: path.into(),
        reason: format!("{reason} in the {source}"),
    })?;
    let reorientation = Reorientation::new(&orientation, opened.layout.dims);
    Ok((
        reorientation.canonical_dims(),
        reorientation.canonical_affine(&affine),
    ))
}

/// The header's affine, refused when it holds NaN or Inf.
fn checked_affine(header: &NiftiHeader, path: &Path) -> Result<(Affine, AffineSource)> {
    let (affine, source) = affine_from_header(header);
    if affine.iter().flatten().any(|v| !v.is_finite()) {
        return Err(IoError::AbsurdHeader {
            path: path.into(),
            reason: format!("the {source} holds non-finite values (NaN or Inf)"),
        });
    }
    Ok((affine, source))
}

/// Read a NIfTI-1 volume from `path`. Errors name the file and the problem.
pub fn read_volume(path: &Path) -> Result<Volume> {
    read_as(path)
}

/// Read a label map (tumour codes) from `path` as `u8` codes: integers 0-254 as they are,
/// anything else (fractions, negatives, larger values) as [`NOT_A_LABEL`].
pub fn read_label_map(path: &Path) -> Result<Volume<u8>> {
    read_as(path)
}

/// The code a label map holds where the file's value is not an integer in 0-254.
pub const NOT_A_LABEL: u8 = u8::MAX;

/// What a volume's voxels are held as, decoded chunk by chunk from the file's bytes, the
/// statistics gathered from each chunk while it is in cache.
trait Voxel: Copy + Default + Send + 'static {
    /// Append `bytes`' voxels (of `datatype`, scaled as `header` says) to `out` and to
    /// `stats`, through `scratch` where need be; returns the number of non-finite values
    /// set to 0.
    fn decode(
        bytes: &[u8],
        datatype: NiftiType,
        header: &NiftiHeader,
        out: &mut Vec<Self>,
        scratch: &mut Vec<f32>,
        stats: &mut StatsAccumulator,
    ) -> usize;

    /// The statistics' accumulator for a file of `datatype` (exact integer histograms for
    /// values known to be small integers).
    fn accumulator(datatype: NiftiType, scaled: bool) -> StatsAccumulator;

    /// The whole volume's values for [`StatsAccumulator::finish`], which reads them again
    /// only for f32 data (an integer histogram is exact without them).
    fn as_f32(values: &[Self]) -> &[f32];
}

impl Voxel for f32 {
    fn decode(
        bytes: &[u8],
        datatype: NiftiType,
        header: &NiftiHeader,
        out: &mut Vec<f32>,
        _: &mut Vec<f32>,
        stats: &mut StatsAccumulator,
    ) -> usize {
        let before = out.len();
        let n = decode_into(bytes, datatype, header.endianness, header, out);
        stats.push(&out[before..]);
        n
    }

    fn accumulator(datatype: NiftiType, scaled: bool) -> StatsAccumulator {
        match (datatype, scaled) {
            (NiftiType::Uint8, false) => StatsAccumulator::integers(0, 255),
            (NiftiType::Int8, false) => StatsAccumulator::integers(-128, 127),
            (NiftiType::Int16, false) => StatsAccumulator::integers(-32768, 32767),
            (NiftiType::Uint16, false) => StatsAccumulator::integers(0, 65535),
            _ => StatsAccumulator::new(),
        }
    }

    fn as_f32(values: &[f32]) -> &[f32] {
        values
    }
}

impl Voxel for u8 {
    fn decode(
        bytes: &[u8],
        datatype: NiftiType,
        header: &NiftiHeader,
        out: &mut Vec<u8>,
        scratch: &mut Vec<f32>,
        stats: &mut StatsAccumulator,
    ) -> usize {
        let before = out.len();
        let mut non_finite = 0;
        if datatype == NiftiType::Uint8 && scaling(header).is_none() {
            // The usual label map: its bytes are the codes (255 is NOT_A_LABEL itself).
            out.extend_from_slice(bytes);
        } else {
            scratch.clear();
            non_finite = decode_into(bytes, datatype, header.endianness, header, scratch);
            out.extend(scratch.iter().map(|&v| {
                if v.fract() == 0.0 && (0.0..f32::from(NOT_A_LABEL)).contains(&v) {
                    v as u8
                } else {
                    NOT_A_LABEL
                }
            }));
        }
        // The statistics are of the codes held.
        stats.push_codes(&out[before..]);
        non_finite
    }

    fn accumulator(_: NiftiType, _: bool) -> StatsAccumulator {
        StatsAccumulator::integers(0, 255)
    }

    fn as_f32(_: &[u8]) -> &[f32] {
        &[]
    }
}

fn read_as<T: Voxel>(path: &Path) -> Result<Volume<T>> {
    let started = std::time::Instant::now();
    let Opened {
        mut input,
        header,
        layout,
        gz,
        file_len,
    } = open_header(path)?;

    // Skip extensions up to the data.
    let skip = layout.vox_offset - 348;
    let skipped = std::io::copy(&mut (&mut input).take(skip), &mut std::io::sink())
        .map_err(|e| stream_error(path, e))?;
    if skipped < skip {
        return Err(IoError::Truncated {
            path: path.into(),
            reason: format!(
                "the file ends before the voxel data (vox_offset {})",
                layout.vox_offset
            ),
        });
    }

    // Capacity from what the file can hold, never from the header alone.
    let capacity = layout.data_bytes.min(if gz {
        gzip_isize_hint(path).unwrap_or(file_len)
    } else {
        file_len
    }) / layout.datatype.size_of() as u64;
    // Inflate in cache-sized chunks straight into the volume: no volume-sized byte
    // buffer (its page faults cost as much as the inflating).
    let mut values: Vec<T> = Vec::with_capacity(capacity as usize);
    let mut chunk = Vec::with_capacity(CHUNK_BYTES);
    let mut scratch = Vec::new();
    let mut remaining = layout.data_bytes;
    let mut non_finite = 0;
    let mut read = 0u64;
    let mut stats = T::accumulator(layout.datatype, scaling(&header).is_some());
    while remaining > 0 {
        chunk.clear();
        let want = remaining.min(CHUNK_BYTES as u64);
        (&mut input)
            .take(want)
            .read_to_end(&mut chunk)
            .map_err(|e| stream_error(path, e))?;
        read += chunk.len() as u64;
        if (chunk.len() as u64) < want {
            return Err(IoError::Truncated {
                path: path.into(),
                reason: format!(
                    "the header ({}x{}x{} {:?}) needs {} bytes of voxel data, the file holds {}",
                    layout.dims[0],
                    layout.dims[1],
                    layout.dims[2],
                    layout.datatype,
                    layout.data_bytes,
                    read
                ),
            });
        }
        non_finite += T::decode(
            &chunk,
            layout.datatype,
            &header,
            &mut values,
            &mut scratch,
            &mut stats,
        );
        remaining -= want;
    }
    if gz {
        // Drain the stream so that the gzip CRC and length trailer are verified.
        std::io::copy(&mut input, &mut std::io::sink()).map_err(|e| stream_error(path, e))?;
    }

    let inflated = started.elapsed();
    let mut warnings = Vec::new();
    if non_finite > 0 {
        warnings.push(format!("{non_finite} NaN or infinite voxels were set to 0"));
    }

    let (source_affine, affine_source) = checked_affine(&header, path)?;
    if affine_source != AffineSource::Sform {
        let bad: Vec<String> = (1..=3)
            .filter(|&i| !(header.pixdim[i].is_finite() && header.pixdim[i] > 0.0))
            .map(|i| format!("pixdim[{i}] = {}", header.pixdim[i]))
            .collect();
        if !bad.is_empty() {
            warnings.push(format!("{} taken as 1 mm", bad.join(", ")));
        }
    }
    let orientation =
        Orientation::of_affine(&source_affine).map_err(|reason| IoError::Unsupported {
            path: path.into(),
            reason: format!("{reason} in the {affine_source}"),
        })?;
    warnings.extend(header_warnings(&header, layout.datatype));
    if orientation.oblique {
        warnings.push(format!(
            "oblique grid: held in the closest axis order ({}), not resampled",
            orientation.code()
        ));
    }
    // Only a `Bits` histogram (f32 data) reads the values again.
    let stats = stats.finish(T::as_f32(&values));
    let reorientation = Reorientation::new(&orientation, layout.dims);
    let source =
        Array3::from_shape_vec((layout.dims[0], layout.dims[1], layout.dims[2]).f(), values)
            .map_err(|e| IoError::InvalidData {
                what: path.display().to_string(),
                reason: e.to_string(),
            })?;
    let data = reorientation.to_canonical(source);
    let affine = reorientation.canonical_affine(&source_affine);
    log::debug!(
        "{}: inflate, decode and statistics {:.1} ms, percentiles and reorientation {:.1} ms",
        path.display(),
        inflated.as_secs_f64() * 1e3,
        (started.elapsed() - inflated).as_secs_f64() * 1e3
    );
    for w in &warnings {
        log::warn!("{}: {w}", path.display());
    }
    Ok(Volume::<T> {
        path: path.into(),
        header,
        data,
        source_affine,
        affine_source,
        affine,
        orientation,
        reorientation,
        datatype: layout.datatype,
        stats,
        warnings,
    })
}

/// The uncompressed size stored in a gzip trailer (mod 2^32; only a capacity hint).
fn gzip_isize_hint(path: &Path) -> Option<u64> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).ok()?;
    f.seek(SeekFrom::End(-4)).ok()?;
    let mut b = [0u8; 4];
    f.read_exact(&mut b).ok()?;
    Some(u64::from(u32::from_le_bytes(b)))
}

fn read_exact_or(input: &mut dyn Read, buf: &mut [u8], path: &Path, what: &str) -> Result<()> {
    input.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            IoError::Truncated {
                path: path.into(),
                reason: what.into(),
            }
        } else {
            stream_error(path, e)
        }
    })
}

/// Errors from the (possibly gzip) stream: corrupt deflate data, truncation, or plain I/O.
fn stream_error(path: &Path, e: std::io::Error) -> IoError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => IoError::Truncated {
            path: path.into(),
            reason: "the compressed stream ends early".into(),
        },
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => IoError::Corrupt {
            path: path.into(),
            reason: e.to_string(),
        },
        _ => IoError::io(path, e),
    }
}

/// Voxel bytes inflated and converted per step: a multiple of every element size.
const CHUNK_BYTES: usize = 1 << 20;

/// Convert raw voxel bytes to `f32` with the header's scaling, appending to `out`; returns
/// the number of NaN/Inf voxels replaced by 0.
/// The header's `(slope, intercept)`, `None` when it leaves values as stored (NIfTI:
/// `scl_slope` 0 or not finite means no scaling).
fn scaling(h: &NiftiHeader) -> Option<(f64, f64)> {
    (h.scl_slope != 0.0
        && h.scl_slope.is_finite()
        && h.scl_inter.is_finite()
        && (h.scl_slope != 1.0 || h.scl_inter != 0.0))
        .then(|| (f64::from(h.scl_slope), f64::from(h.scl_inter)))
}

fn decode_into(
    bytes: &[u8],
    datatype: NiftiType,
    endianness: Endianness,
    h: &NiftiHeader,
    out: &mut Vec<f32>,
) -> usize {
    let scaling = scaling(h);
    let little = endianness == Endianness::Little;
    let start = out.len();
    // One tight loop per type and byte order, so the compiler can vectorise it.
    macro_rules! conv {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            let chunks = bytes.chunks_exact(N);
            let le = |c: &[u8]| <$t>::from_le_bytes(c.try_into().expect("N bytes"));
            let be = |c: &[u8]| <$t>::from_be_bytes(c.try_into().expect("N bytes"));
            // The byte order is chosen outside the loops, so that they vectorise.
            match (scaling, little) {
                (None, true) => out.extend(chunks.map(|c| le(c) as f32)),
                (None, false) => out.extend(chunks.map(|c| be(c) as f32)),
                (Some((slope, inter)), true) => {
                    out.extend(chunks.map(|c| (le(c) as f64 * slope + inter) as f32))
                }
                (Some((slope, inter)), false) => {
                    out.extend(chunks.map(|c| (be(c) as f64 * slope + inter) as f32))
                }
            }
        }};
    }
    match datatype {
        NiftiType::Uint8 => conv!(u8),
        NiftiType::Int8 => conv!(i8),
        NiftiType::Int16 => conv!(i16),
        NiftiType::Uint16 => conv!(u16),
        NiftiType::Int32 => conv!(i32),
        NiftiType::Uint32 => conv!(u32),
        NiftiType::Int64 => conv!(i64),
        NiftiType::Uint64 => conv!(u64),
        NiftiType::Float32 => conv!(f32),
        NiftiType::Float64 => conv!(f64),
        _ => unreachable!("datatype checked in check_header"),
    }
    // Only float data (or an overflowing scale) can hold NaN or Inf.
    let mut non_finite = 0;
    if matches!(datatype, NiftiType::Float32 | NiftiType::Float64) || scaling.is_some() {
        for v in &mut out[start..] {
            if !v.is_finite() {
                *v = 0.0;
                non_finite += 1;
            }
        }
    }
    non_finite
}
