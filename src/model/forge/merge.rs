//! Merging a LoRA adapter into the forged weights: `W + (alpha / rank) B A`, computed in
//! f32 and rounded into the type the tensor is stored in, so the default model runs with
//! no adapter at run time. The adapter file is llama.cpp's (`*.lora_a` ne `[n_in, r(, E)]`,
//! `*.lora_b` ne `[r, n_out(, E)]`, `adapter.lora.alpha`); the result is what llama.cpp
//! computes with that adapter loaded at scale 1, up to the rounding.

use std::path::Path;

use half::f16;

use crate::model::gguf::{GgmlType, GgufFile};

/// An opened adapter.
pub(super) struct Lora {
    file: GgufFile,
    alpha: f32,
}

impl Lora {
    pub fn open(path: &Path) -> Result<Lora, String> {
        let file = GgufFile::open(path).map_err(|e| format!("adapter {}: {e}", path.display()))?;
        if file.get_str("adapter.type") != Some("lora") {
            return Err(format!("{} is not a LoRA adapter", path.display()));
        }
        let alpha = file
            .get_f32("adapter.lora.alpha")
            .filter(|a| a.is_finite())
            .unwrap_or(0.0);
        Ok(Lora { file, alpha })
    }

    /// The low-rank delta of weight `name` (ggml shape `[n_in, n_out, n_mat]`), laid out as
    /// that weight's values (row `(m, o)` of `n_in` values), scaled as llama.cpp scales it;
    /// `None` when the adapter does not touch it.
    pub fn delta(&self, name: &str, shape: &[u64]) -> Result<Option<Vec<f32>>, String> {
        let (Some(a), Some(b)) = (
            self.file.tensor(&format!("{name}.lora_a")),
            self.file.tensor(&format!("{name}.lora_b")),
        ) else {
            return Ok(None);
        };
        let dim = |s: &[u64], i: usize| s.get(i).copied().unwrap_or(1) as usize;
        let (n_in, n_out, n_mat) = (dim(shape, 0), dim(shape, 1), dim(shape, 2));
        let r = dim(&a.shape, 1);
        let fits = dim(&a.shape, 0) == n_in
            && dim(&a.shape, 2) == n_mat
            && dim(&b.shape, 0) == r
            && dim(&b.shape, 1) == n_out
            && dim(&b.shape, 2) == n_mat
            && r > 0;
        if !fits {
            return Err(format!(
                "adapter tensors of {name} have shapes {:?} and {:?}, which do not fit {shape:?}",
                a.shape, b.shape
            ));
        }
        let read = |t| self.file.read_tensor_f32(t).map_err(|e| e.to_string());
        let (av, bv) = (read(a)?, read(b)?);
        // llama.cpp: scale = adapter scale x alpha / rank (alpha 0 means 1).
        let scale = if self.alpha == 0.0 {
            1.0
        } else {
            self.alpha / r as f32
        };
        let mut out = vec![0f32; n_in * n_out * n_mat];
        for m in 0..n_mat {
            let am = &av[m * r * n_in..(m + 1) * r * n_in];
            let bm = &bv[m * n_out * r..(m + 1) * n_out * r];
            for o in 0..n_out {
                let row = &mut out[(m * n_out + o) * n_in..(m * n_out + o + 1) * n_in];
                for (j, &bj) in bm[o * r..(o + 1) * r].iter().enumerate() {
                    let s = scale * bj;
                    for (x, &aj) in row.iter_mut().zip(&am[j * n_in..(j + 1) * n_in]) {
                        *x += s * aj;
                    }
                }
            }
        }
        Ok(Some(out))
    }
}

/// Encode merged values for a tensor the teacher stored as `dtype`: F32 and F16 stay as
/// they were; every block-quantised type becomes Q8_0. Rounding `W + delta` back into a
/// 4-bit type (Q4_1: 16 levels per block) moves each weight by up to half a step, noise
/// as large as the delta itself; Q8_0's 255 levels keep it about 16 times smaller
/// (measured through the app: training/README.md, "Forge v4").
pub(super) fn encode_as(values: &[f32], dtype: GgmlType) -> Result<(GgmlType, Vec<u8>), String> {
    let (out_type, bytes) = match dtype {
        GgmlType::F32 => (
            GgmlType::F32,
            Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ),
        GgmlType::F16 => (
            GgmlType::F16,
            Some(
                values
                    .iter()
                    .flat_map(|v| f16::from_f32(*v).to_le_bytes())
                    .collect(),
            ),
        ),
        _ => (GgmlType::Q8_0, crate::model::gguf::q8_0_from_f32(values)),
    };
    bytes
        .map(|b| (out_type, b))
        .ok_or_else(|| format!("{} values are not whole blocks of 32", values.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encode `values` (whole 32-value blocks) as Q4_1: per block an f16 step `d = (max -
    /// min) / 15`, an f16 offset `m = min` and 32 nibbles `round((x - m) / d)`, element `j` in
    /// the low nibble of byte `j` and element `j + 16` in its high nibble (ggml's layout).
    /// The nibbles are rounded against `d` and `m` as stored. `None` when the count is not a
    /// multiple of 32.
    fn q4_1_from_f32(values: &[f32]) -> Option<Vec<u8>> {
        if !values.len().is_multiple_of(32) {
            return None;
        }
        let mut out = Vec::with_capacity(values.len() / 32 * 20);
        for block in values.chunks_exact(32) {
            let min = block.iter().copied().fold(f32::INFINITY, f32::min);
            let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = f16::from_f32((max - min) / 15.0);
            let m = f16::from_f32(min);
            let (df, mf) = (d.to_f32(), m.to_f32());
            out.extend_from_slice(&d.to_le_bytes());
            out.extend_from_slice(&m.to_le_bytes());
            let q = |x: f32| -> u8 {
                if df > 0.0 {
                    ((x - mf) / df).round().clamp(0.0, 15.0) as u8
                } else {
                    0
                }
            };
            for j in 0..16 {
                out.push(q(block[j]) | (q(block[j + 16]) << 4));
            }
        }
        Some(out)
    }

    /// ggml's Q4_1 decoding: `d * q + m`.
    fn decode_q4_1(bytes: &[u8]) -> Vec<f32> {
        let mut out = Vec::new();
        for b in bytes.chunks_exact(20) {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            let m = f16::from_le_bytes([b[2], b[3]]).to_f32();
            let mut block = [0f32; 32];
            for j in 0..16 {
                block[j] = d * f32::from(b[4 + j] & 15) + m;
                block[j + 16] = d * f32::from(b[4 + j] >> 4) + m;
            }
            out.extend_from_slice(&block);
        }
        out
    }

    #[test]
    fn q4_1_round_trip_is_within_half_a_step() {
        let values: Vec<f32> = (0..96)
            .map(|i| ((i * 53 % 97) as f32 - 40.0) * if i < 32 { 1e-3 } else { 0.05 })
            .chain(std::iter::repeat_n(0.25, 32))
            .collect();
        let bytes = q4_1_from_f32(&values).expect("whole blocks");
        assert_eq!(bytes.len(), 4 * 20);
        let back = decode_q4_1(&bytes);
        for (block, got) in values.chunks(32).zip(back.chunks(32)) {
            let (lo, hi) = block
                .iter()
                .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            let step = (hi - lo) / 15.0;
            for (a, b) in block.iter().zip(got) {
                assert!(
                    (a - b).abs() <= step * 0.5 + (hi.abs() + lo.abs()) * 2e-3 + 1e-6,
                    "{a} vs {b}"
                );
            }
        }
        // A constant block decodes exactly (to f16 precision).
        assert!(back[96..].iter().all(|&v| (v - 0.25).abs() < 1e-6));
        // Values already on a block's grid come back unchanged.
        assert_eq!(q4_1_from_f32(&back).map(|b| decode_q4_1(&b)), Some(back));
        assert!(q4_1_from_f32(&[0.0; 31]).is_none());
    }

    /// ggml's Q8_0 decoding: `d * q`.
    fn decode_q8_0(bytes: &[u8]) -> Vec<f32> {
        let mut out = Vec::new();
        for b in bytes.chunks_exact(34) {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            out.extend(b[2..].iter().map(|&q| d * f32::from(q as i8)));
        }
        out
    }

    /// A merged Q4_1 weight is stored as Q8_0, and that keeps the low-rank delta: the
    /// rounding error is a small fraction of the delta, where rounding back into Q4_1
    /// would be as large as the delta itself.
    #[test]
    fn merged_q4_1_weights_are_stored_as_q8_0_and_keep_the_delta() {
        // Teacher values on a Q4_1 grid, plus a delta about a tenth of a Q4_1 step.
        let raw: Vec<f32> = (0..32 * 64)
            .map(|i| (((i * 7919) % 1000) as f32 / 1000.0 - 0.5) * 0.2)
            .collect();
        let teacher = decode_q4_1(&q4_1_from_f32(&raw).expect("whole blocks"));
        let delta: Vec<f32> = (0..teacher.len())
            .map(|i| (((i * 104729) % 997) as f32 / 997.0 - 0.5) * 0.003)
            .collect();
        let merged: Vec<f32> = teacher.iter().zip(&delta).map(|(t, d)| t + d).collect();
        let (dtype, bytes) = encode_as(&merged, GgmlType::Q4_1).expect("encodes");
        assert_eq!(dtype, GgmlType::Q8_0);
        let rms = |a: &[f32], b: &[f32]| {
            (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>() / a.len() as f32).sqrt()
        };
        let delta_rms = rms(&merged, &teacher);
        let q8_err = rms(&decode_q8_0(&bytes), &merged);
        let q4_err = rms(
            &decode_q4_1(&q4_1_from_f32(&merged).expect("q4_1")),
            &merged,
        );
        assert!(
            q8_err < delta_rms / 2.0,
            "Q8_0 {q8_err} vs delta {delta_rms}"
        );
        assert!(q4_err > delta_rms, "Q4_1 {q4_err} vs delta {delta_rms}");
        // F32 and F16 tensors keep their type.
        assert_eq!(
            encode_as(&merged, GgmlType::F16).map(|e| e.0),
            Ok(GgmlType::F16)
        );
        assert_eq!(
            encode_as(&merged, GgmlType::F32).map(|e| e.0),
            Ok(GgmlType::F32)
        );
    }
}
