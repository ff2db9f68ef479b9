//! Expert capture through llama.cpp's eval callback. This module and `ffi.rs` are the only
//! places in the crate with `unsafe` code.
//!
//! llama.cpp calls [`eval_callback`] for every node of the compute graph, first with
//! `ask == true` ("do you want this tensor?") and, for the ones we want, again with
//! `ask == false` once the tensor is computed. We want three tensors per MoE layer:
//! `ffn_moe_probs-N` (router probabilities, F32 `[n_expert, n_tokens]`), `ffn_moe_topk-N`
//! (chosen ids, I32 `[k, n_tokens]`, a strided view when k < n_expert) and the last of the
//! weights tensors the architecture builds (`ffn_moe_weights`, then optionally `_softmax`,
//! `_norm`, `_scaled`; the last one produced is what multiplies the experts' outputs).
//!
//! Every tensor we say yes to splits the graph there (llama.cpp computes up to it, calls
//! us, then goes on), and each split costs a round of thread synchronisation. So we ask
//! only for the weights tensors: `ffn_moe_weights-N` is `get_rows(probs, topk)`, so when it
//! has just been computed its two inputs are intact (nothing else has run since), and we
//! read them then through the pointers noted when llama.cpp asked about them. That is two
//! splits per layer for `deepseek` (weights, weights_scaled) instead of four. Knocking
//! experts out still needs the probabilities before the top-k, so it asks for them.

use std::collections::BTreeMap;
use std::ffi::{c_void, CStr};

use llama_cpp_sys_2::{ggml_tensor, GGML_TYPE_F32, GGML_TYPE_I32};

/// Which captured tensor a graph node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Probs,
    TopK,
    /// A weights tensor; higher rank = produced later in the graph.
    Weights(u8),
}

/// Parse `<base>-<layer>` exactly: derived tensors such as `ffn_moe_probs-0 (reshaped)`
/// must not match, or they would be counted twice.
fn classify(name: &str) -> Option<(Kind, u32)> {
    let (base, layer) = name.rsplit_once('-')?;
    if layer.is_empty() || !layer.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let layer: u32 = layer.parse().ok()?;
    let kind = match base {
        "ffn_moe_probs" => Kind::Probs,
        "ffn_moe_topk" => Kind::TopK,
        "ffn_moe_weights" => Kind::Weights(0),
        "ffn_moe_weights_softmax" => Kind::Weights(1),
        "ffn_moe_weights_norm" => Kind::Weights(2),
        "ffn_moe_weights_scaled" => Kind::Weights(3),
        _ => return None,
    };
    Some((kind, layer))
}

/// What one MoE layer's router did for the tokens of the current decode call, appended
/// graph by graph (a decode split into several micro-batches runs several graphs).
#[derive(Debug, Default, Clone)]
pub struct LayerCapture {
    pub n_expert: usize,
    pub k: usize,
    /// `[n_expert]` per token, token-major.
    pub probs: Vec<f32>,
    /// `[k]` per token.
    pub topk: Vec<i32>,
    /// `[k]` per token, from the latest weights tensor seen in the graph.
    pub weights: Vec<f32>,
    weights_rank: Option<u8>,
    /// Weights of the current graph, replaced when a later-stage tensor arrives.
    graph_weights: Vec<f32>,
}

impl LayerCapture {
    pub fn n_tokens(&self) -> usize {
        self.probs.len().checked_div(self.n_expert).unwrap_or(0)
    }
}

/// Probabilities and top-k tensors of a layer seen (asked about) in the graph being
/// computed, read when the layer's first weights tensor is computed.
#[derive(Debug, Clone, Copy)]
struct Pending {
    layer: u32,
    probs: *const ggml_tensor,
    topk: *const ggml_tensor,
}

/// State shared with the callback. Owned by the engine thread (boxed, so its address is
/// stable), read by it between `llama_decode` calls.
#[derive(Debug, Default)]
pub struct CaptureState {
    pub enabled: bool,
    /// What the routers are told to do differently. Knocked-out experts get router
    /// probability zero before llama.cpp picks the top-k, so they are neither chosen nor
    /// mixed in.
    pub interventions: crate::routing::Interventions,
    pub layers: BTreeMap<u32, LayerCapture>,
    /// Tensors that could not be read (unexpected type or layout); reported, not fatal.
    pub skipped: u32,
    /// Only valid while llama.cpp runs the graph that holds them; cleared between decodes.
    pending: Option<Pending>,
}

impl CaptureState {
    /// Forget what the previous decode captured.
    pub fn clear(&mut self) {
        self.pending = None;
        for l in self.layers.values_mut() {
            l.probs.clear();
            l.topk.clear();
            l.weights.clear();
            l.graph_weights.clear();
            l.weights_rank = None;
        }
    }

    /// Move the current graph's weights into the accumulated list. Called when a graph
    /// finishes, i.e. before the next one starts and after `llama_decode` returns.
    pub fn finish_graph(&mut self) {
        self.pending = None;
        for l in self.layers.values_mut() {
            let w = std::mem::take(&mut l.graph_weights);
            l.weights.extend_from_slice(&w);
            l.weights_rank = None;
        }
    }

    /// llama.cpp asks about a probabilities or top-k tensor: note where it is, to read it
    /// with the layer's weights.
    fn note(&mut self, kind: Kind, layer: u32, t: *const ggml_tensor) {
        let fresh = Pending {
            layer,
            probs: std::ptr::null(),
            topk: std::ptr::null(),
        };
        // The probabilities come first in a layer's graph: they start a fresh note, so no
        // pointer from an earlier graph is ever read.
        self.pending = Some(match kind {
            Kind::Probs => Pending { probs: t, ..fresh },
            Kind::TopK => Pending {
                topk: t,
                ..self.pending.filter(|p| p.layer == layer).unwrap_or(fresh)
            },
            Kind::Weights(_) => return,
        });
    }

    /// The first weights tensor of `layer` was just computed: read the probabilities and
    /// top-k noted for it.
    ///
    /// # Safety
    /// Call only from the eval callback with `ask == false` for `ffn_moe_weights-<layer>`
    /// (`get_rows(probs, topk)`): the noted tensors are its inputs, computed and untouched
    /// since, and valid until the graph finishes.
    unsafe fn read_pending(&mut self, layer: u32) {
        let Some(p) = self.pending.take().filter(|p| p.layer == layer) else {
            return;
        };
        for (kind, t) in [(Kind::Probs, p.probs), (Kind::TopK, p.topk)] {
            if t.is_null() {
                self.skipped += 1;
                continue;
            }
            // SAFETY: per this function's contract `t` is a live, computed tensor.
            self.on_tensor(kind, layer, unsafe { &*t });
        }
    }

    fn on_tensor(&mut self, kind: Kind, layer: u32, t: &ggml_tensor) {
        let entry = self.layers.entry(layer).or_default();
        match kind {
            Kind::Probs => {
                // A new graph begins for this layer: flush weights of the previous one.
                let w = std::mem::take(&mut entry.graph_weights);
                entry.weights.extend_from_slice(&w);
                entry.weights_rank = None;
                match read_f32(t) {
                    Some(v) => {
                        entry.n_expert = t.ne[0] as usize;
                        entry.probs.extend_from_slice(&v);
                    }
                    None => self.skipped += 1,
                }
            }
            Kind::TopK => match read_i32(t) {
                Some(v) => {
                    entry.k = t.ne[0] as usize;
                    entry.topk.extend_from_slice(&v);
                }
                None => self.skipped += 1,
            },
            Kind::Weights(rank) => {
                if entry.weights_rank.is_some_and(|r| r >= rank) {
                    return;
                }
                match read_f32(t) {
                    Some(v) => {
                        entry.graph_weights = v;
                        entry.weights_rank = Some(rank);
                    }
                    None => self.skipped += 1,
                }
            }
        }
    }
}

/// Read a tensor of 4-byte elements row by row, honouring its strides (the top-k tensor is
/// a view into the argsort result, so its rows are not adjacent). Returns `None` for
/// layouts we do not expect (elements not contiguous within a row).
fn read_rows<T: Copy + Default>(t: &ggml_tensor, expected_type: u32) -> Option<Vec<T>> {
    if t.type_ != expected_type || std::mem::size_of::<T>() != 4 || t.nb[0] != 4 {
        return None;
    }
    let ne: [usize; 4] = [
        usize::try_from(t.ne[0]).ok()?,
        usize::try_from(t.ne[1]).ok()?,
        usize::try_from(t.ne[2]).ok()?,
        usize::try_from(t.ne[3]).ok()?,
    ];
    let total = ne.iter().product::<usize>();
    // Guard against absurd shapes before allocating.
    if total == 0 || total > (1 << 28) {
        return None;
    }
    let row_bytes = ne[0] * 4;
    // ggml_nbytes for a (possibly strided) tensor: bytes from the first to past the last element.
    let mut nbytes = row_bytes;
    for (n, stride) in ne.iter().zip(t.nb).skip(1) {
        nbytes += (n - 1) * stride;
    }
    let mut out = vec![T::default(); total];
    let mut row = 0usize;
    for i3 in 0..ne[3] {
        for i2 in 0..ne[2] {
            for i1 in 0..ne[1] {
                let offset = i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
                if offset + row_bytes > nbytes {
                    return None;
                }
                let dst = &mut out[row * ne[0]..(row + 1) * ne[0]];
                // SAFETY: `t` is a live, computed tensor handed to us by llama.cpp during the
                // eval callback (ask == false), so its buffer holds its data. We read
                // `row_bytes` bytes at `offset`, which we checked lies inside the tensor's
                // byte extent (the same bound ggml_backend_tensor_get asserts), into `dst`,
                // a buffer of exactly `ne[0]` 4-byte elements. `ggml_backend_tensor_get`
                // copies from host or device memory alike.
                unsafe {
                    llama_cpp_sys_2::ggml_backend_tensor_get(
                        t,
                        dst.as_mut_ptr().cast::<c_void>(),
                        offset,
                        row_bytes,
                    );
                }
                row += 1;
            }
        }
    }
    Some(out)
}

fn read_f32(t: &ggml_tensor) -> Option<Vec<f32>> {
    read_rows::<f32>(t, GGML_TYPE_F32)
}

fn read_i32(t: &ggml_tensor) -> Option<Vec<i32>> {
    read_rows::<i32>(t, GGML_TYPE_I32)
}

/// Zero the probabilities of `experts` in every column of a router probabilities tensor
/// (F32 `[n_expert, n_tokens]`, rows contiguous), in place.
///
/// # Safety
/// `t` must point to a live, computed F32 tensor that nothing else reads or writes during
/// this call.
unsafe fn knock_out(t: *mut ggml_tensor, experts: &[u16]) {
    // SAFETY: per the contract, `t` is valid for this call.
    let tensor = unsafe { &*t };
    let Some(mut values) = read_f32(tensor) else {
        return;
    };
    let n_expert = tensor.ne[0] as usize;
    if n_expert == 0 || tensor.ne[2] != 1 || tensor.ne[3] != 1 {
        return;
    }
    let row_bytes = n_expert * 4;
    for (col, row) in values.chunks_exact_mut(n_expert).enumerate() {
        let mut changed = false;
        for &e in experts {
            if let Some(v) = row.get_mut(e as usize) {
                *v = 0.0;
                changed = true;
            }
        }
        if !changed {
            continue;
        }
        let offset = col * tensor.nb[1];
        // SAFETY: `read_f32` succeeded, so rows are contiguous 4-byte elements and
        // `offset + row_bytes` lies inside the tensor (the same bound it checked);
        // `row` holds exactly `n_expert` f32 values. ggml_backend_tensor_set copies into
        // host or device memory alike.
        unsafe {
            llama_cpp_sys_2::ggml_backend_tensor_set(
                t,
                row.as_ptr().cast::<c_void>(),
                offset,
                row_bytes,
            );
        }
    }
}

/// The callback installed with `LlamaContextParams::with_cb_eval`; `user` points to the
/// engine's boxed [`CaptureState`].
///
/// # Safety
/// `user` must be null or point to a live `CaptureState` that nothing else accesses while
/// llama.cpp runs the graph (the engine thread is inside `llama_decode` then, and llama.cpp
/// calls this from that same thread). `t` must be a valid tensor pointer or null.
pub unsafe extern "C" fn eval_callback(t: *mut ggml_tensor, ask: bool, user: *mut c_void) -> bool {
    if t.is_null() || user.is_null() {
        return !ask;
    }
    // SAFETY: per this function's contract, `user` is our CaptureState and not aliased
    // while the graph runs; `t` is a valid tensor for the duration of the call.
    let (state, tensor) = unsafe { (&mut *user.cast::<CaptureState>(), &*t) };
    if !state.enabled && state.interventions.is_empty() {
        // Answer "no" to every question; if asked to observe anyway, let the graph go on.
        return !ask;
    }
    // Most graph nodes are not router tensors: reject them on the name's first bytes
    // before any string work (this runs for every node of every graph).
    const PREFIX: &[u8] = b"ffn_moe_";
    if !tensor.name.iter().zip(PREFIX).all(|(&c, &p)| c as u8 == p) {
        return !ask;
    }
    // SAFETY: ggml keeps `name` NUL-terminated within its fixed 64-byte array.
    let name = unsafe { CStr::from_ptr(tensor.name.as_ptr()) };
    let Ok(name) = name.to_str() else {
        return !ask;
    };
    let Some((kind, layer)) = classify(name) else {
        return !ask;
    };
    let knock = kind == Kind::Probs && !state.interventions.knocked_out(layer).is_empty();
    if ask {
        return match kind {
            Kind::Probs | Kind::TopK => {
                if state.enabled {
                    state.note(kind, layer, t);
                }
                knock
            }
            Kind::Weights(_) => state.enabled,
        };
    }
    if knock {
        // SAFETY: `t` is the computed probabilities tensor of this graph, handed to us with
        // ask == false; llama.cpp reads it only after we return.
        unsafe { knock_out(t, state.interventions.knocked_out(layer)) };
    }
    if state.enabled {
        if kind == Kind::Weights(0) {
            // SAFETY: this is `ffn_moe_weights-<layer>`, just computed, with ask == false.
            unsafe { state.read_pending(layer) };
        }
        if matches!(kind, Kind::Weights(_)) {
            state.on_tensor(kind, layer, tensor);
        }
    }
    // Returning false would stop the rest of this graph split.
    true
}

/// Owns a heap-allocated [`CaptureState`] whose address is handed to llama.cpp. All Rust
/// access goes through the raw pointer so no reference outlives a `llama_decode` call.
/// Must be dropped after the context that uses it (declare it before the context).
pub struct CaptureCell {
    ptr: std::ptr::NonNull<CaptureState>,
}

impl CaptureCell {
    pub fn new(enabled: bool) -> Self {
        let state = Box::new(CaptureState {
            enabled,
            ..CaptureState::default()
        });
        CaptureCell {
            ptr: std::ptr::NonNull::from(Box::leak(state)),
        }
    }

    /// The pointer to give llama.cpp as callback user data.
    pub fn user_data(&self) -> *mut c_void {
        self.ptr.as_ptr().cast()
    }

    /// Access the state between decode calls.
    pub fn with<R>(&mut self, f: impl FnOnce(&mut CaptureState) -> R) -> R {
        // SAFETY: the pointer came from Box::leak and stays valid until drop. `&mut self`
        // guarantees no other Rust access; llama.cpp only touches the state inside
        // `llama_decode`, which the engine never calls while this closure runs.
        f(unsafe { &mut *self.ptr.as_ptr() })
    }
}

impl Drop for CaptureCell {
    fn drop(&mut self) {
        // SAFETY: we own the allocation (from Box::leak in `new`) and free it exactly once;
        // the context using it has been dropped before us (documented requirement).
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly() {
        assert_eq!(classify("ffn_moe_probs-0"), Some((Kind::Probs, 0)));
        assert_eq!(classify("ffn_moe_topk-29"), Some((Kind::TopK, 29)));
        assert_eq!(
            classify("ffn_moe_weights_scaled-3"),
            Some((Kind::Weights(3), 3))
        );
        assert_eq!(classify("ffn_moe_probs-0 (reshaped)"), None);
        assert_eq!(classify("ffn_moe_probs_biased-0"), None);
        assert_eq!(classify("ffn_moe_probs-"), None);
        assert_eq!(classify("ffn_moe_probs-+1"), None);
        assert_eq!(classify("attn_norm-1"), None);
    }
}
