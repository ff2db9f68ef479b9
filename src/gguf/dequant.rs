//! Decoding tensor bytes to f32 for the simple storage types.

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

#[cfg(test)]
mod tests {
    use super::*;

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
