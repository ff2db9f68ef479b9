//! Reading and writing the router tensors through ggml's backend API, with every size,
//! stride and offset computed in checked arithmetic and checked against the same bounds
//! `ggml_backend_tensor_get`/`_set` assert on (an assert there aborts the process).

use std::ffi::c_void;

use llama_cpp_sys_2::{ggml_tensor, GGML_TYPE_F32, GGML_TYPE_I32};

/// Elements we are willing to copy out of one tensor (1 GiB of 4-byte values). Router
/// tensors are `n_expert x n_tokens`; anything larger is not one of them.
const MAX_ELEMENTS: usize = 1 << 28;

/// Where the rows of a tensor of 4-byte elements lie in its buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RowLayout {
    /// Elements per row (`ne[0]`).
    pub ne0: usize,
    /// Rows (`ne[1] * ne[2] * ne[3]`).
    pub rows: usize,
    /// Bytes per row.
    pub row_bytes: usize,
    /// `ggml_nbytes`: from the first byte to past the last element.
    pub nbytes: usize,
    /// Rows follow each other without gaps: one copy moves the whole tensor.
    pub contiguous: bool,
    nb: [usize; 4],
    ne: [usize; 4],
}

impl RowLayout {
    /// The layout of a tensor with shape `ne` and strides `nb` whose elements are `elem`
    /// bytes. `None` for shapes we do not read: empty, negative, elements not adjacent
    /// within a row, larger than [`MAX_ELEMENTS`], or any size that overflows.
    pub fn new(ne: [i64; 4], nb: [usize; 4], elem: usize) -> Option<RowLayout> {
        let ne: [usize; 4] = [
            usize::try_from(ne[0]).ok()?,
            usize::try_from(ne[1]).ok()?,
            usize::try_from(ne[2]).ok()?,
            usize::try_from(ne[3]).ok()?,
        ];
        if elem == 0 || nb[0] != elem || ne.contains(&0) {
            return None;
        }
        let total = ne.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n))?;
        if total > MAX_ELEMENTS {
            return None;
        }
        let row_bytes = ne[0].checked_mul(elem)?;
        // ggml_nbytes for a block size of 1: type size + sum of (ne[i] - 1) * nb[i].
        let mut nbytes = row_bytes;
        for i in 1..4 {
            nbytes = nbytes.checked_add((ne[i] - 1).checked_mul(nb[i])?)?;
        }
        let contiguous = nb[1] == row_bytes
            && Some(nb[2]) == nb[1].checked_mul(ne[1])
            && Some(nb[3]) == nb[2].checked_mul(ne[2]);
        Some(RowLayout {
            ne0: ne[0],
            rows: total / ne[0],
            row_bytes,
            nbytes,
            contiguous,
            nb,
            ne,
        })
    }

    /// Byte offset of row `r` (rows counted over dims 1..3, dim 1 fastest), checked to end
    /// inside the tensor.
    pub fn row_offset(&self, r: usize) -> Option<usize> {
        let i1 = r % self.ne[1];
        let i2 = (r / self.ne[1]) % self.ne[2];
        let i3 = r / self.ne[1] / self.ne[2];
        if i3 >= self.ne[3] {
            return None;
        }
        let off = i1
            .checked_mul(self.nb[1])?
            .checked_add(i2.checked_mul(self.nb[2])?)?
            .checked_add(i3.checked_mul(self.nb[3])?)?;
        (off.checked_add(self.row_bytes)? <= self.nbytes).then_some(off)
    }

    /// Copy runs as (element index, byte offset, bytes): one for a contiguous tensor, else
    /// one per row. `None` if any row falls outside the tensor.
    fn runs(&self) -> Option<Vec<(usize, usize, usize)>> {
        if self.contiguous {
            let bytes = self.rows.checked_mul(self.row_bytes)?;
            return (bytes <= self.nbytes).then(|| vec![(0, 0, bytes)]);
        }
        (0..self.rows)
            .map(|r| {
                Some((
                    r.checked_mul(self.ne0)?,
                    self.row_offset(r)?,
                    self.row_bytes,
                ))
            })
            .collect()
    }
}

/// The layout of `t` if it holds 4-byte elements of `ggml_type` and has memory the backend
/// API will accept (a buffer and data pointer, the conditions ggml asserts on).
fn layout_of(t: &ggml_tensor, ggml_type: u32) -> Option<RowLayout> {
    if t.type_ != ggml_type || t.data.is_null() {
        return None;
    }
    // ggml looks for the buffer on the view source when there is one.
    let buffer = if t.view_src.is_null() {
        t.buffer
    } else {
        // SAFETY: `view_src` of a live graph tensor points to a live tensor of the same
        // graph (or to a weight tensor of the model); we only read its `buffer` field.
        unsafe { (*t.view_src).buffer }
    };
    if buffer.is_null() {
        return None;
    }
    RowLayout::new(t.ne, t.nb, 4)
}

/// Read a tensor of 4-byte elements, honouring its strides (the top-k tensor is a view
/// into the argsort result, so its rows are not adjacent).
///
/// # Safety
/// `t` must be a live tensor of the graph llama.cpp is computing, already computed (the
/// eval callback with `ask == false` for it or for a node that consumes it).
unsafe fn read<T: Copy + Default>(t: &ggml_tensor, ggml_type: u32) -> Option<Vec<T>> {
    if std::mem::size_of::<T>() != 4 {
        return None;
    }
    let layout = layout_of(t, ggml_type)?;
    let runs = layout.runs()?;
    let mut out = vec![T::default(); layout.rows.checked_mul(layout.ne0)?];
    for (first, offset, bytes) in runs {
        let dst = out.get_mut(first..first.checked_add(bytes / 4)?)?;
        // SAFETY: per this function's contract `t` is live and computed; `offset + bytes`
        // lies within ggml_nbytes(t) (checked by `runs`), the buffer and data pointers are
        // set (checked by `layout_of`), so none of ggml_backend_tensor_get's asserts can
        // fire; `dst` holds exactly `bytes` bytes of 4-byte elements.
        unsafe {
            llama_cpp_sys_2::ggml_backend_tensor_get(
                t,
                dst.as_mut_ptr().cast::<c_void>(),
                offset,
                bytes,
            );
        }
    }
    Some(out)
}

/// # Safety
/// As for [`read`].
pub(super) unsafe fn read_f32(t: &ggml_tensor) -> Option<Vec<f32>> {
    // SAFETY: forwarded contract.
    unsafe { read::<f32>(t, GGML_TYPE_F32) }
}

/// # Safety
/// As for [`read`].
pub(super) unsafe fn read_i32(t: &ggml_tensor) -> Option<Vec<i32>> {
    // SAFETY: forwarded contract.
    unsafe { read::<i32>(t, GGML_TYPE_I32) }
}

/// Write `values` (laid out as [`read_f32`] returns them) back into an F32 tensor. Returns
/// false when the tensor's layout does not match `values` (nothing is written then).
///
/// # Safety
/// `t` must be a live, computed tensor of the running graph that no node has read yet
/// (the eval callback with `ask == false` for `t` itself, before returning).
pub(super) unsafe fn write_f32(t: *mut ggml_tensor, values: &[f32]) -> bool {
    // SAFETY: per the contract `t` is valid for this call.
    let tensor = unsafe { &*t };
    let Some(layout) = layout_of(tensor, GGML_TYPE_F32) else {
        return false;
    };
    let Some(runs) = layout.runs() else {
        return false;
    };
    if Some(values.len()) != layout.rows.checked_mul(layout.ne0) {
        return false;
    }
    for (first, offset, bytes) in runs {
        let Some(src) = first
            .checked_add(bytes / 4)
            .and_then(|end| values.get(first..end))
        else {
            return false;
        };
        // SAFETY: as in `read`: bounds, buffer and data pointer checked, `src` holds
        // exactly `bytes` bytes; ggml_backend_tensor_set copies into host or device memory.
        unsafe {
            llama_cpp_sys_2::ggml_backend_tensor_set(
                t,
                src.as_ptr().cast::<c_void>(),
                offset,
                bytes,
            );
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strided_top_k_view_is_read_row_by_row() {
        // k = 2 of 8 experts, 3 tokens: a view into the argsort result [8, 3].
        let l = RowLayout::new([2, 3, 1, 1], [4, 32, 96, 96], 4).unwrap();
        assert!(!l.contiguous);
        assert_eq!((l.ne0, l.rows, l.row_bytes, l.nbytes), (2, 3, 8, 72));
        assert_eq!(l.runs().unwrap(), vec![(0, 0, 8), (2, 32, 8), (4, 64, 8)]);
    }

    #[test]
    fn a_contiguous_tensor_is_one_copy() {
        let l = RowLayout::new([1, 4, 5, 1], [4, 4, 16, 80], 4).unwrap();
        assert!(l.contiguous);
        assert_eq!(l.runs().unwrap(), vec![(0, 0, 80)]);
    }

    #[test]
    fn bad_shapes_and_overflowing_strides_are_refused() {
        // Empty, negative, not 4-byte elements, elements not adjacent in a row.
        assert!(RowLayout::new([0, 1, 1, 1], [4, 0, 0, 0], 4).is_none());
        assert!(RowLayout::new([-1, 1, 1, 1], [4, 4, 4, 4], 4).is_none());
        assert!(RowLayout::new([2, 1, 1, 1], [8, 16, 16, 16], 4).is_none());
        // More elements than we ever read.
        assert!(RowLayout::new([1 << 20, 1 << 10, 1, 1], [4, 1 << 22, 0, 0], 4).is_none());
        // Element count overflows usize.
        assert!(RowLayout::new([i64::MAX, i64::MAX, 2, 1], [4, 4, 4, 4], 4).is_none());
        // A stride that overflows when multiplied out.
        assert!(RowLayout::new([4, 3, 1, 1], [4, usize::MAX / 2, 0, 0], 4).is_none());
    }

    #[test]
    fn row_offsets_stay_inside_the_tensor() {
        let l = RowLayout::new([2, 2, 2, 1], [4, 8, 16, 32], 4).unwrap();
        assert_eq!(l.row_offset(3), Some(24));
        assert_eq!(l.row_offset(4), None, "past the last row");
    }
}
