//! Decoding tensor bytes to f32 for the simple storage types, and encoding f32 as Q8_0.

use half::{bf16, f16};

use super::types::GgmlType;

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Decode `bytes` of type `t`, or `None` when the type is not supported here or the
/// byte count is not a whole number of blocks.
pub(crate) fn to_f32(t: GgmlType, bytes: &[u8]) -> Option<Vec<f32>> {
    let bb = t.block_bytes() as usize;
    if !bytes.len().is_multiple_of(bb) {
        return None;
    }
    let blocks = bytes.chunks_exact(bb);
    Some(match t {
        GgmlType::F32 => blocks
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        GgmlType::F16 => blocks.map(|c| f16_at(c, 0)).collect(),
        GgmlType::Bf16 => blocks
            .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        GgmlType::I8 => blocks.map(|c| f32::from(c[0] as i8)).collect(),
        GgmlType::I16 => blocks
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        GgmlType::I32 => blocks
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        // d (f16) then 32 signed bytes
        GgmlType::Q8_0 => blocks
            .flat_map(|c| {
                let d = f16_at(c, 0);
                c[2..34].iter().map(move |&q| d * f32::from(q as i8))
            })
            .collect(),
        // d (f16) then 16 bytes: low nibbles are elements 0..16, high nibbles 16..32
        GgmlType::Q4_0 => blocks
            .flat_map(|c| {
                let d = f16_at(c, 0);
                let qs = &c[2..18];
                let lo = qs.iter().map(move |&q| d * (f32::from(q & 0x0f) - 8.0));
                let hi = qs.iter().map(move |&q| d * (f32::from(q >> 4) - 8.0));
                lo.chain(hi).collect::<Vec<_>>()
            })
            .collect(),
        // d, m (f16) then 16 bytes of nibbles as in Q4_0, unsigned
        GgmlType::Q4_1 => blocks
            .flat_map(|c| {
                let d = f16_at(c, 0);
                let m = f16_at(c, 2);
                let qs = &c[4..20];
                let lo = qs.iter().map(move |&q| d * f32::from(q & 0x0f) + m);
                let hi = qs.iter().map(move |&q| d * f32::from(q >> 4) + m);
                lo.chain(hi).collect::<Vec<_>>()
            })
            .collect(),
        _ => return None,
    })
}

/// Encode `values` (a whole number of 32-value blocks) as Q8_0: per block an f16 scale
/// `d = max|x| / 127` and 32 signed bytes `round(x / d)`. The bytes are rounded against
/// the f16 scale as stored, so decoding gives the nearest value the block can hold.
/// `None` when the count is not a multiple of 32.
pub fn q8_0_from_f32(values: &[f32]) -> Option<Vec<u8>> {
    if !values.len().is_multiple_of(32) {
        return None;
    }
    let mut out = Vec::with_capacity(values.len() / 32 * 34);
    for block in values.chunks_exact(32) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = f16::from_f32(amax / 127.0);
        let df = d.to_f32();
        out.extend_from_slice(&d.to_le_bytes());
        for &v in block {
            let q = if df > 0.0 {
                (v / df).round().clamp(-127.0, 127.0) as i8
            } else {
                0
            };
            out.push(q as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_round_trip_is_within_half_a_step() {
        let values: Vec<f32> = (0..96)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * if i < 32 { 1e-3 } else { 0.7 })
            .chain(std::iter::repeat_n(0.0, 32))
            .collect();
        let bytes = q8_0_from_f32(&values).expect("whole blocks");
        assert_eq!(bytes.len(), 4 * 34);
        let back = to_f32(GgmlType::Q8_0, &bytes).unwrap();
        for (block, got) in values.chunks(32).zip(back.chunks(32)) {
            let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            let step = amax / 127.0;
            for (a, b) in block.iter().zip(got) {
                assert!((a - b).abs() <= step * 0.5 + step * 1e-3, "{a} vs {b}");
            }
        }
        assert!(back[96..].iter().all(|&v| v == 0.0));
        assert!(q8_0_from_f32(&[1.0; 31]).is_none());
    }

    #[test]
    fn q8_0_block() {
        let mut b = f16::from_f32(0.5).to_le_bytes().to_vec();
        b.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let v = to_f32(GgmlType::Q8_0, &b).expect("q8_0 decodes");
        assert_eq!(v.len(), 32);
        assert_eq!(v[0], -8.0);
        assert_eq!(v[31], 7.5);
    }

    #[test]
    fn q4_0_block_orders_low_then_high_nibbles() {
        let mut b = f16::from_f32(1.0).to_le_bytes().to_vec();
        b.extend(std::iter::repeat_n(0x9a_u8, 16));
        let v = to_f32(GgmlType::Q4_0, &b).expect("q4_0 decodes");
        assert_eq!(v[0], 2.0); // 0xa - 8
        assert_eq!(v[16], 1.0); // 0x9 - 8
    }

    #[test]
    fn q4_1_block_adds_min() {
        let mut b = f16::from_f32(2.0).to_le_bytes().to_vec();
        b.extend(f16::from_f32(-1.0).to_le_bytes());
        b.extend(std::iter::repeat_n(0x21_u8, 16));
        let v = to_f32(GgmlType::Q4_1, &b).expect("q4_1 decodes");
        assert_eq!(v[0], 1.0);
        assert_eq!(v[16], 3.0);
    }

    #[test]
    fn unsupported_types_and_ragged_bytes() {
        assert!(to_f32(GgmlType::Q4K, &[0; 144]).is_none());
        assert!(to_f32(GgmlType::F32, &[0; 5]).is_none());
    }
}
