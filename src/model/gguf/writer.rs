//! Writing GGUF v3 files: metadata and tensors in insertion order, so the same inputs
//! always give the same bytes; saved atomically.

use std::path::Path;

use half::f16;

use super::reader::pad;
use super::types::GgmlType;
use super::value::{Array, Value};
use super::{GgufError, ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGML_MAX_NAME, GGUF_MAGIC};

#[derive(Debug, Clone)]
struct PendingTensor {
    name: String,
    shape: Vec<u64>,
    dtype: GgmlType,
    data: Vec<u8>,
}

/// Builds a GGUF v3 file in memory.
#[derive(Debug, Clone, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<PendingTensor>,
}

impl GgufWriter {
    /// An empty file: no metadata, no tensors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `key` to `value`. Setting a key again replaces its value but keeps its place.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        let key = key.into();
        let value = value.into();
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.metadata.push((key, value)),
        }
        self
    }

    /// The value set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Add an F32 tensor; `shape` is in ggml order (first dimension varies fastest).
    pub fn add_f32(&mut self, name: &str, shape: &[u64], data: &[f32]) -> Result<(), GgufError> {
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_raw(name, shape, GgmlType::F32, bytes)
    }

    /// Add an F16 tensor converted (round to nearest even) from f32 values.
    pub fn add_f16(&mut self, name: &str, shape: &[u64], data: &[f32]) -> Result<(), GgufError> {
        let bytes = data
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect();
        self.add_raw(name, shape, GgmlType::F16, bytes)
    }

    /// Add a tensor whose bytes are already encoded as `dtype`.
    pub fn add_raw(
        &mut self,
        name: &str,
        shape: &[u64],
        dtype: GgmlType,
        data: Vec<u8>,
    ) -> Result<(), GgufError> {
        let fail = |reason: String| GgufError::InvalidTensor {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() || name.len() >= GGML_MAX_NAME {
            return Err(fail(format!(
                "names must be 1 to {} bytes long",
                GGML_MAX_NAME - 1
            )));
        }
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(fail("a tensor of that name was already added".into()));
        }
        if shape.len() > 4 {
            return Err(fail(format!("{} dimensions (at most 4)", shape.len())));
        }
        let n = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| fail("its element count overflows".into()))?;
        if !shape
            .first()
            .copied()
            .unwrap_or(1)
            .is_multiple_of(dtype.block_size())
        {
            return Err(fail(format!(
                "rows must be a multiple of {} elements for {dtype}",
                dtype.block_size()
            )));
        }
        let want = dtype
            .bytes_for(n)
            .ok_or_else(|| fail("its size overflows".into()))?;
        if want != data.len() as u64 {
            return Err(fail(format!(
                "shape {shape:?} of {dtype} needs {want} bytes, got {}",
                data.len()
            )));
        }
        self.tensors.push(PendingTensor {
            name: name.to_owned(),
            shape: shape.to_vec(),
            dtype,
            data,
        });
        Ok(())
    }

    fn alignment(&self) -> Result<u64, GgufError> {
        match self.get(ALIGNMENT_KEY) {
            None => Ok(u64::from(DEFAULT_ALIGNMENT)),
            Some(Value::U32(a)) if a.is_power_of_two() => Ok(u64::from(*a)),
            Some(_) => Err(GgufError::InvalidMetadata {
                key: ALIGNMENT_KEY.into(),
                reason: "it must be a u32 power of two".into(),
            }),
        }
    }

    /// The complete file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GgufError> {
        let align = self.alignment()?;
        let mut out = Vec::new();
        out.extend_from_slice(GGUF_MAGIC);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_str(&mut out, key);
            put_value(&mut out, value);
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.extend_from_slice(&(t.shape.len() as u32).to_le_bytes());
            for d in &t.shape {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&t.dtype.code().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset = pad(offset + t.data.len() as u64, align).unwrap_or(u64::MAX);
        }
        pad_to(&mut out, align);
        for t in &self.tensors {
            out.extend_from_slice(&t.data);
            pad_to(&mut out, align);
        }
        Ok(out)
    }

    /// Write the file atomically: a temporary file in the same directory, flushed to disk,
    /// then renamed over `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), GgufError> {
        let bytes = self.to_bytes()?;
        write_atomic(path.as_ref(), &bytes)
    }
}

/// Save `bytes` to `path` atomically (the one helper, `store::atomic`), as a GGUF error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), GgufError> {
    crate::store::atomic::write_atomic(path, bytes).map_err(|e| GgufError::io("save", path, e))
}

fn pad_to(out: &mut Vec<u8>, align: u64) {
    let len = out.len() as u64;
    let target = pad(len, align).unwrap_or(len);
    out.resize(target as usize, 0);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    out.extend_from_slice(&v.value_type().code().to_le_bytes());
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => put_str(out, s),
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Array(a) => put_array(out, a),
    }
}

fn put_array(out: &mut Vec<u8>, a: &Array) {
    out.extend_from_slice(&a.element_type().code().to_le_bytes());
    out.extend_from_slice(&(a.len() as u64).to_le_bytes());
    macro_rules! le {
        ($v:expr) => {
            for x in $v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        };
    }
    match a {
        Array::U8(v) => out.extend_from_slice(v),
        Array::I8(v) => le!(v),
        Array::U16(v) => le!(v),
        Array::I16(v) => le!(v),
        Array::U32(v) => le!(v),
        Array::I32(v) => le!(v),
        Array::F32(v) => le!(v),
        Array::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
        Array::String(v) => {
            for s in v {
                put_str(out, s);
            }
        }
        Array::U64(v) => le!(v),
        Array::I64(v) => le!(v),
        Array::F64(v) => le!(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_header_only() {
        let bytes = GgufWriter::new().to_bytes().expect("writes");
        assert_eq!(&bytes[..4], b"GGUF");
        assert_eq!(bytes.len(), 32); // 24 header bytes padded to 32
    }

    #[test]
    fn setting_a_key_twice_keeps_its_place() {
        let mut w = GgufWriter::new();
        w.set("a", 1u32).set("b", 2u32).set("a", 3u32);
        let keys: Vec<_> = w.metadata.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(w.get("a"), Some(&Value::U32(3)));
    }

    #[test]
    fn rejects_bad_tensors() {
        let mut w = GgufWriter::new();
        assert!(w.add_f32("x", &[3], &[1.0, 2.0]).is_err());
        assert!(w.add_raw("q", &[16], GgmlType::Q8_0, vec![0; 17]).is_err());
        assert!(w.add_f32(&"n".repeat(64), &[1], &[1.0]).is_err());
        w.add_f32("x", &[2], &[1.0, 2.0]).expect("valid");
        assert!(w.add_f32("x", &[2], &[1.0, 2.0]).is_err());
    }

    #[test]
    fn rejects_bad_alignment() {
        let mut w = GgufWriter::new();
        w.set(ALIGNMENT_KEY, 48u32);
        assert!(w.to_bytes().is_err());
    }
}
