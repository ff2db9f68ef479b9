//! Reading and validating a GGUF file's header, metadata and tensor table.
//!
//! Every count and length read from the file is checked against the bytes that remain
//! before anything is allocated from it, so a hostile or damaged file yields an error
//! message, never a huge allocation or a panic.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::clean;
use super::types::GgmlType;
use super::value::{Array, Value, ValueType};
use super::{GgufError, DEFAULT_ALIGNMENT, GGML_MAX_NAME};

/// Where one tensor lives in the file and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Elements per dimension in ggml order (the first varies fastest).
    pub shape: Vec<u64>,
    pub dtype: GgmlType,
    /// Offset from the start of the data section, as stored in the file.
    pub offset: u64,
    /// Absolute position of the first byte in the file.
    pub file_offset: u64,
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Number of elements (1 for a tensor with no dimensions).
    pub fn n_elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// A parsed and validated GGUF file. Tensor data stays on disk until asked for.
#[derive(Debug, Clone)]
pub struct GgufFile {
    path: PathBuf,
    version: u32,
    file_len: u64,
    alignment: u64,
    data_offset: u64,
    metadata: Vec<(String, Value)>,
    index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
}

/// Counting reader that refuses to read past the end of the file.
struct Src<R> {
    r: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Src<R> {
    fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn fill(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<(), GgufError> {
        if (buf.len() as u64) > self.left() {
            return Err(GgufError::Truncated {
                what: what(),
                file_len: self.len,
            });
        }
        self.r.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                GgufError::Truncated {
                    what: what(),
                    file_len: self.len,
                }
            } else {
                GgufError::Io {
                    action: "read",
                    path: PathBuf::from(what()),
                    source: e,
                }
            }
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        self.fill(&mut b, what)?;
        Ok(b)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let at = self.pos;
        let len = self.u64(what)?;
        if len > self.left() {
            return Err(GgufError::LengthTooLarge {
                what: what(),
                at,
                len,
                left: self.left(),
            });
        }
        // Bounded by the bytes left in the file, checked above.
        let mut buf = vec![0u8; len as usize];
        self.fill(&mut buf, what)?;
        Ok(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn scalar(&mut self, t: ValueType, what: &dyn Fn() -> String) -> Result<Value, GgufError> {
        Ok(match t {
            ValueType::U8 => Value::U8(u8::from_le_bytes(self.array(what)?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array(what)?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(what)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            ValueType::Bool => Value::Bool(self.array::<1>(what)?[0] != 0),
            ValueType::String => Value::String(self.string(what)?),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(what)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            // Callers handle arrays themselves; a nested array is refused there.
            ValueType::Array => Value::Array(Array::U8(Vec::new())),
        })
    }

    fn value(&mut self, key: &str) -> Result<Value, GgufError> {
        let what = || format!("the type of metadata '{}'", clean(key));
        let code = self.u32(&what)?;
        let t = ValueType::from_code(code).ok_or_else(|| GgufError::UnknownValueType {
            key: clean(key),
            code,
        })?;
        let what = || format!("the value of metadata '{}'", clean(key));
        if t != ValueType::Array {
            return self.scalar(t, &what);
        }
        let code = self.u32(&what)?;
        let et = ValueType::from_code(code).ok_or_else(|| GgufError::UnknownValueType {
            key: clean(key),
            code,
        })?;
        if et == ValueType::Array {
            return Err(GgufError::NestedArray { key: clean(key) });
        }
        let n = self.u64(&what)?;
        if n.checked_mul(et.min_size()).is_none_or(|b| b > self.left()) {
            return Err(GgufError::ImpossibleCount {
                what: format!("array '{}' element", clean(key)),
                count: n,
                file_len: self.len,
            });
        }
        self.array_value(et, n, &what)
    }

    fn array_value(
        &mut self,
        et: ValueType,
        n: u64,
        what: &dyn Fn() -> String,
    ) -> Result<Value, GgufError> {
        // `n` is bounded by the file size; grow as elements are really read.
        let cap = n.min(1 << 16) as usize;
        macro_rules! read_all {
            ($variant:ident, $conv:expr) => {{
                let mut v = Vec::with_capacity(cap);
                for _ in 0..n {
                    v.push($conv(self)?);
                }
                Array::$variant(v)
            }};
        }
        let arr = match et {
            ValueType::U8 => read_all!(U8, |s: &mut Self| s.array(what).map(u8::from_le_bytes)),
            ValueType::I8 => read_all!(I8, |s: &mut Self| s.array(what).map(i8::from_le_bytes)),
            ValueType::U16 => {
                read_all!(U16, |s: &mut Self| s.array(what).map(u16::from_le_bytes))
            }
            ValueType::I16 => {
                read_all!(I16, |s: &mut Self| s.array(what).map(i16::from_le_bytes))
            }
            ValueType::U32 => {
                read_all!(U32, |s: &mut Self| s.array(what).map(u32::from_le_bytes))
            }
            ValueType::I32 => {
                read_all!(I32, |s: &mut Self| s.array(what).map(i32::from_le_bytes))
            }
            ValueType::F32 => {
                read_all!(F32, |s: &mut Self| s.array(what).map(f32::from_le_bytes))
            }
            ValueType::Bool => {
                read_all!(Bool, |s: &mut Self| s.array::<1>(what).map(|b| b[0] != 0))
            }
            ValueType::String => read_all!(String, |s: &mut Self| s.string(what)),
            ValueType::U64 => {
                read_all!(U64, |s: &mut Self| s.array(what).map(u64::from_le_bytes))
            }
            ValueType::I64 => {
                read_all!(I64, |s: &mut Self| s.array(what).map(i64::from_le_bytes))
            }
            ValueType::F64 => {
                read_all!(F64, |s: &mut Self| s.array(what).map(f64::from_le_bytes))
            }
            ValueType::Array => Array::U8(Vec::new()),
        };
        Ok(Value::Array(arr))
    }

    fn tensor_info(&mut self, i: u64) -> Result<TensorInfo, GgufError> {
        let name = self.string(&|| format!("the name of tensor #{i}"))?;
        if name.len() >= GGML_MAX_NAME {
            return Err(GgufError::BadShape {
                name: clean(&name),
                reason: format!(
                    "its name is {} bytes; llama.cpp allows at most {}",
                    name.len(),
                    GGML_MAX_NAME - 1
                ),
            });
        }
        let what = || format!("the shape of tensor '{}'", clean(&name));
        let n_dims = self.u32(&what)?;
        if n_dims > 4 {
            return Err(GgufError::BadShape {
                name: clean(&name),
                reason: format!("{n_dims} dimensions (at most 4)"),
            });
        }
        let mut shape = Vec::with_capacity(n_dims as usize);
        let mut n_elements: u64 = 1;
        for _ in 0..n_dims {
            let ne = self.u64(&what)?;
            n_elements = n_elements
                .checked_mul(ne)
                .filter(|&n| n <= i64::MAX as u64)
                .ok_or_else(|| GgufError::BadShape {
                    name: clean(&name),
                    reason: "its element count overflows".into(),
                })?;
            shape.push(ne);
        }
        let what = || format!("the type of tensor '{}'", clean(&name));
        let code = self.u32(&what)?;
        let dtype = match GgmlType::from_code(code) {
            Some(t) => t,
            None if GgmlType::is_removed_code(code) => {
                return Err(GgufError::RemovedTensorType {
                    name: clean(&name),
                    code,
                })
            }
            None => {
                return Err(GgufError::UnknownTensorType {
                    name: clean(&name),
                    code,
                })
            }
        };
        let row = shape.first().copied().unwrap_or(1);
        if !row.is_multiple_of(dtype.block_size()) {
            return Err(GgufError::BadShape {
                name: clean(&name),
                reason: format!(
                    "rows of {row} elements are not a whole number of {dtype} blocks ({})",
                    dtype.block_size()
                ),
            });
        }
        let n_bytes = dtype
            .bytes_for(n_elements)
            .ok_or_else(|| GgufError::BadShape {
                name: clean(&name),
                reason: "its size in bytes overflows".into(),
            })?;
        let offset = self.u64(&|| format!("the data offset of tensor '{}'", clean(&name)))?;
        Ok(TensorInfo {
            name,
            shape,
            dtype,
            offset,
            file_offset: 0,
            n_bytes,
        })
    }
}

fn describe_magic(m: &[u8]) -> String {
    let shown: String = m
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect();
    format!("\"{shown}\"")
}

/// Round `x` up to a multiple of `align` (a power of two).
pub(crate) fn pad(x: u64, align: u64) -> Option<u64> {
    x.checked_add(align - 1).map(|v| v & !(align - 1))
}

impl GgufFile {
    /// Open, parse and validate the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, GgufError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| GgufError::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| GgufError::io("inspect", path, e))?
            .len();
        let mut src = Src {
            r: BufReader::with_capacity(1 << 16, file),
            pos: 0,
            len,
        };
        Self::parse(&mut src, path).map_err(|e| match e {
            GgufError::Io { action, source, .. } => GgufError::io(action, path, source),
            other => other,
        })
    }

    fn parse<R: Read>(src: &mut Src<R>, path: &Path) -> Result<GgufFile, GgufError> {
        let len = src.len;
        if len == 0 {
            return Err(GgufError::Empty);
        }
        if len < 4 {
            let mut m = vec![0u8; len as usize];
            src.fill(&mut m, &|| "the magic".into())?;
            return Err(GgufError::BadMagic {
                found: describe_magic(&m),
            });
        }
        let magic: [u8; 4] = src.array(&|| "the magic".into())?;
        if &magic != super::GGUF_MAGIC {
            return Err(GgufError::BadMagic {
                found: describe_magic(&magic),
            });
        }
        let version = src.u32(&|| "the version".into())?;
        if version != 0 && version & 0xffff == 0 {
            return Err(GgufError::ByteSwapped(version));
        }
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let n_tensors = src.u64(&|| "the tensor count".into())?;
        let n_kv = src.u64(&|| "the metadata count".into())?;
        // Smallest possible entries: a tensor info is a name length, n_dims, type and
        // offset (24 bytes); a metadata entry is a key length, type and a 1-byte value.
        if n_tensors.checked_mul(24).is_none_or(|b| b > src.left()) {
            return Err(GgufError::ImpossibleCount {
                what: "tensor".into(),
                count: n_tensors,
                file_len: len,
            });
        }
        if n_kv
            .checked_mul(13)
            .and_then(|b| b.checked_add(n_tensors * 24))
            .is_none_or(|b| b > src.left())
        {
            return Err(GgufError::ImpossibleCount {
                what: "metadata".into(),
                count: n_kv,
                file_len: len,
            });
        }

        let mut metadata = Vec::with_capacity(n_kv as usize);
        let mut index = HashMap::with_capacity(n_kv as usize);
        for i in 0..n_kv {
            let key = src.string(&|| format!("metadata key #{i}"))?;
            let value = src.value(&key)?;
            if index.insert(key.clone(), metadata.len()).is_some() {
                return Err(GgufError::DuplicateKey { key: clean(&key) });
            }
            metadata.push((key, value));
        }

        let alignment = match index.get(super::ALIGNMENT_KEY).map(|&i| &metadata[i].1) {
            None => u64::from(DEFAULT_ALIGNMENT),
            Some(Value::U32(a)) if a.is_power_of_two() => u64::from(*a),
            Some(Value::U32(a)) => {
                return Err(GgufError::BadMetadata {
                    key: super::ALIGNMENT_KEY.into(),
                    reason: format!("alignment {a} is not a power of two"),
                })
            }
            Some(other) => {
                return Err(GgufError::BadMetadata {
                    key: super::ALIGNMENT_KEY.into(),
                    reason: format!("it must be a u32, not a {}", other.value_type().name()),
                })
            }
        };

        let mut tensors: Vec<TensorInfo> = Vec::with_capacity(n_tensors as usize);
        let mut names = HashMap::with_capacity(n_tensors as usize);
        for i in 0..n_tensors {
            let t = src.tensor_info(i)?;
            if names.insert(t.name.clone(), i).is_some() {
                return Err(GgufError::DuplicateTensor(clean(&t.name)));
            }
            tensors.push(t);
        }

        let data_offset = pad(src.pos, alignment).unwrap_or(u64::MAX);
        check_layout(&mut tensors, data_offset, alignment, len)?;

        let file = GgufFile {
            path: path.to_path_buf(),
            version,
            file_len: len,
            alignment,
            data_offset,
            metadata,
            index,
            tensors,
        };
        super::checks::check_semantics(&file)?;
        Ok(file)
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Alignment of tensor data (from `general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute offset where the tensor data section starts.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// All metadata in file order.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// An integer value of any width that fits in `u32`.
    pub fn get_u32(&self, key: &str) -> Option<u32> {
        self.get(key).and_then(Value::as_u32)
    }

    /// A float value (or an integer, converted).
    pub fn get_f32(&self, key: &str) -> Option<f32> {
        self.get(key).and_then(Value::as_f32)
    }

    /// An array value.
    pub fn get_array(&self, key: &str) -> Option<&Array> {
        self.get(key).and_then(Value::as_array)
    }

    /// `general.architecture`, e.g. "deepseek".
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// An architecture-scoped integer such as `<arch>.block_count`.
    pub fn arch_u32(&self, suffix: &str) -> Option<u32> {
        let arch = self.architecture()?;
        self.get_u32(&format!("{arch}.{suffix}"))
    }

    /// The tensor table in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor, read from disk.
    pub fn read_tensor_bytes(&self, info: &TensorInfo) -> Result<Vec<u8>, GgufError> {
        let end = info.file_offset.checked_add(info.n_bytes);
        if end.is_none_or(|e| e > self.file_len) {
            return Err(GgufError::TensorOutOfFile {
                name: clean(&info.name),
                start: info.file_offset,
                end: end.unwrap_or(u64::MAX),
                file_len: self.file_len,
            });
        }
        let mut f = File::open(&self.path).map_err(|e| GgufError::io("open", &self.path, e))?;
        f.seek(SeekFrom::Start(info.file_offset))
            .map_err(|e| GgufError::io("seek in", &self.path, e))?;
        // Bounded by the file length, checked above.
        let mut buf = vec![0u8; info.n_bytes as usize];
        f.read_exact(&mut buf)
            .map_err(|e| GgufError::io("read", &self.path, e))?;
        Ok(buf)
    }

    /// A tensor's values as f32, for the types [`GgmlType::can_dequantize`] accepts.
    pub fn read_tensor_f32(&self, info: &TensorInfo) -> Result<Vec<f32>, GgufError> {
        let bytes = self.read_tensor_bytes(info)?;
        super::dequant::to_f32(info.dtype, &bytes).ok_or_else(|| GgufError::UnsupportedDequant {
            name: clean(&info.name),
            dtype: info.dtype.name().into(),
        })
    }
}

/// Check that every tensor lies inside the file, aligned, without overlaps, and in the
/// back-to-back order llama.cpp's loader insists on. Fills in `file_offset`.
fn check_layout(
    tensors: &mut [TensorInfo],
    data_offset: u64,
    alignment: u64,
    file_len: u64,
) -> Result<(), GgufError> {
    for t in tensors.iter_mut() {
        if !t.offset.is_multiple_of(alignment) {
            return Err(GgufError::Misaligned {
                name: clean(&t.name),
                offset: t.offset,
                alignment,
            });
        }
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.n_bytes));
        match (start, end) {
            (Some(start), Some(end)) if end <= file_len => t.file_offset = start,
            _ => {
                return Err(GgufError::TensorOutOfFile {
                    name: clean(&t.name),
                    start: start.unwrap_or(u64::MAX),
                    end: end.unwrap_or(u64::MAX),
                    file_len,
                })
            }
        }
    }
    let mut order: Vec<&TensorInfo> = tensors.iter().filter(|t| t.n_bytes > 0).collect();
    order.sort_by_key(|t| t.offset);
    for pair in order.windows(2) {
        if pair[0].offset + pair[0].n_bytes > pair[1].offset {
            return Err(GgufError::Overlap {
                first: clean(&pair[0].name),
                second: clean(&pair[1].name),
            });
        }
    }
    let mut expected = 0u64;
    for t in tensors.iter() {
        if t.offset != expected {
            return Err(GgufError::OutOfOrder {
                name: clean(&t.name),
                offset: t.offset,
                expected,
            });
        }
        expected = pad(expected + t.n_bytes, alignment).unwrap_or(u64::MAX);
    }
    Ok(())
}
