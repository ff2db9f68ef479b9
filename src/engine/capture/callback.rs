//! The function llama.cpp calls for every node of the compute graph. Its body runs under
//! `catch_unwind`: a panic must never unwind into C. After a panic the state is marked
//! poisoned and the callback declines all further work until the next decode call.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use llama_cpp_sys_2::{
    ggml_tensor, GGML_BACKEND_DEVICE_TYPE_CPU, GGML_OP_ADD, GGML_OP_ARGSORT, GGML_OP_GET_ROWS,
    GGML_OP_RESHAPE, GGML_OP_VIEW,
};

use super::state::{apply_rules, restore_forced, CaptureState, NodeValues, ReadMode};
use super::tensor::{read_f32, read_i32, write_f32};
use super::{classify, Kind};

/// The callback installed by `CapturedContext`; `user` points to its `CaptureState`.
///
/// # Safety
/// `user` must be null or point to a live `CaptureState` that nothing else accesses while
/// llama.cpp runs the graph (`CapturedContext` guarantees this: Rust code reaches the state
/// only through `&mut self` methods that cannot run during its `decode`). `t` must be null
/// or a valid tensor of the graph being computed.
pub unsafe extern "C" fn eval_callback(t: *mut ggml_tensor, ask: bool, user: *mut c_void) -> bool {
    if t.is_null() || user.is_null() {
        return !ask;
    }
    // SAFETY: per this function's contract `user` is our CaptureState, not aliased while
    // the graph runs (llama.cpp calls us from the thread inside `llama_decode`).
    let state = unsafe { &mut *user.cast::<CaptureState>() };
    if state.poisoned || !state.active() {
        // Decline every tensor; if asked to observe anyway, let the graph go on.
        return !ask;
    }
    // SAFETY: `t` is a valid tensor of the running graph (contract).
    let run = catch_unwind(AssertUnwindSafe(|| unsafe { on_node(state, t, ask) }));
    match run {
        Ok(answer) => answer,
        Err(_) => {
            tracing::error!("the expert-capture callback panicked; capture is off for this decode");
            state.poison();
            !ask
        }
    }
}

/// The node's name, if it is NUL-terminated UTF-8 (ggml keeps names in a 64-byte array).
fn name_of(t: &ggml_tensor) -> Option<String> {
    let bytes: Vec<u8> = t.name.iter().map(|&c| c as u8).collect();
    let len = bytes.iter().position(|&b| b == 0)?;
    String::from_utf8(bytes[..len].to_vec()).ok()
}

/// Whether `t` is the node `<kind>-<layer>`.
///
/// # Safety
/// `t` must be null or point to a live tensor.
unsafe fn is_node(t: *const ggml_tensor, kind: Kind, layer: u32) -> bool {
    // SAFETY: per the contract; null is checked by `as_ref`.
    let Some(t) = (unsafe { t.as_ref() }) else {
        return false;
    };
    name_of(t).and_then(|n| classify(&n)) == Some((kind, layer))
}

/// Whether `t` was computed into CPU memory. Elsewhere (CUDA, Metal, ...) the backend may
/// fuse softmax, top-k and the weights gather into one kernel that never writes the
/// probabilities (CUDA's topk-moe fusion does this), so they must be read at their own
/// node: saying yes to a node ends the graph split there, so no fused kernel can span the
/// probabilities, the top-k and the weights, and each is written where we read it. This
/// costs two more splits per MoE layer on those backends only.
///
/// Run with CUDA on an H200 (README, "GPU builds"): the captured probabilities, top-k and
/// weights matched a CPU run's on the same tokens (exactly in expert choice on the tiny
/// model; on the default model except where its router was tied), and interventions written
/// with `ggml_backend_tensor_set` into device memory changed the selection as on the CPU.
/// Not yet checked: Metal, whose buffers may report host memory.
///
/// # Safety
/// `t` must point to a live, allocated tensor.
unsafe fn on_cpu(t: &ggml_tensor) -> bool {
    let buffer = if t.view_src.is_null() {
        t.buffer
    } else {
        // SAFETY: a live tensor's view source is live; we read one field.
        unsafe { (*t.view_src).buffer }
    };
    if buffer.is_null() {
        return false;
    }
    // SAFETY: `buffer` is the live backend buffer holding `t`; these calls only read its
    // type and that type's device.
    unsafe {
        let buft = llama_cpp_sys_2::ggml_backend_buffer_get_type(buffer);
        let dev = llama_cpp_sys_2::ggml_backend_buft_get_device(buft);
        if dev.is_null() {
            return llama_cpp_sys_2::ggml_backend_buffer_is_host(buffer);
        }
        llama_cpp_sys_2::ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_CPU
    }
}

/// # Safety
/// `t` must point to a live, allocated tensor.
unsafe fn read_at_nodes(state: &CaptureState, t: &ggml_tensor) -> bool {
    // SAFETY: forwarded contract.
    state.read_mode == ReadMode::AtNodes || !unsafe { on_cpu(t) }
}

/// # Safety
/// As for [`eval_callback`], with `t` non-null.
unsafe fn on_node(state: &mut CaptureState, t: *mut ggml_tensor, ask: bool) -> bool {
    // SAFETY: `t` is a valid tensor for the duration of the call (contract).
    let tensor = unsafe { &*t };
    // SAFETY: forwarded contract (`t` live; computed and unread when ask == false).
    if let Some(answer) = unsafe { super::lens::on_node(&mut state.lens, t, ask) } {
        return answer;
    }
    // Most graph nodes are not router tensors: reject them on the name's first bytes
    // before any string work (this runs for every node of every graph).
    const PREFIX: &[u8] = b"ffn_moe_";
    if !tensor.name.iter().zip(PREFIX).all(|(&c, &p)| c as u8 == p) {
        return !ask;
    }
    let Some((kind, layer)) = name_of(tensor).and_then(|n| classify(&n)) else {
        return !ask;
    };
    let rules = state.interventions().rules(layer);
    let (intervene, force) = (!rules.is_empty(), !rules.force.is_empty());
    if ask {
        // Reading the router at its own nodes is needed to capture it, and to restore the
        // weights of forced experts (which needs the top-k), on backends that may fuse.
        // SAFETY: llama.cpp asks about allocated nodes of the graph it is about to run.
        let at_nodes = (state.enabled || force) && unsafe { read_at_nodes(state, tensor) };
        return match kind {
            Kind::Probs => intervene || at_nodes,
            Kind::TopK => at_nodes,
            Kind::Weights(0) => state.enabled || force,
            Kind::Weights(_) => state.enabled,
        };
    }
    match kind {
        // SAFETY (all three): `t` is this node, just computed (ask == false).
        Kind::Probs => unsafe { on_probs(state, t, layer) },
        Kind::TopK => unsafe { on_topk(state, tensor, layer) },
        Kind::Weights(0) => unsafe { on_first_weights(state, t, layer) },
        Kind::Weights(rank) => {
            if state.enabled {
                // SAFETY: computed just now.
                let values = unsafe { read_f32(tensor) };
                state.record_weights(layer, rank, values);
            }
        }
    }
    // Returning false would stop the rest of this graph split.
    true
}

/// `ffn_moe_probs-<layer>` was computed: note it for backends that fuse, and write the
/// interventions into it before the selection reads it.
///
/// # Safety
/// `t` is that node, computed, with ask == false: nothing has read it yet.
unsafe fn on_probs(state: &mut CaptureState, t: *mut ggml_tensor, layer: u32) {
    // SAFETY: per the contract.
    let tensor = unsafe { &*t };
    // SAFETY: computed just now.
    let Some(mut values) = (unsafe { read_f32(tensor) }) else {
        state.fail(layer);
        return;
    };
    let id = t as usize;
    // SAFETY: allocated and computed.
    if state.enabled && unsafe { read_at_nodes(state, tensor) } {
        state.noted.probs = Some(NodeValues {
            layer,
            tensor: id,
            values: values.clone(),
        });
    }
    let n_expert = usize::try_from(tensor.ne[0]).unwrap_or(0);
    let rules = state.interventions().rules(layer);
    if rules.is_empty() || n_expert == 0 {
        return;
    }
    let original = values.clone();
    apply_rules(&mut values, n_expert, &rules);
    // SAFETY: `t` is this node, computed and not yet read by any other node.
    if unsafe { write_f32(t, &values) } {
        state.noted.original = Some(NodeValues {
            layer,
            tensor: id,
            values: original,
        });
    } else {
        state.fail(layer);
    }
}

/// `ffn_moe_topk-<layer>` was computed (asked for only when reading at nodes).
///
/// # Safety
/// `t` is that node, computed.
unsafe fn on_topk(state: &mut CaptureState, t: &ggml_tensor, layer: u32) {
    // SAFETY: per the contract.
    match unsafe { read_i32(t) } {
        Some(values) => {
            state.noted.topk = Some(NodeValues {
                layer,
                tensor: t as *const ggml_tensor as usize,
                values,
            })
        }
        None => state.fail(layer),
    }
}

/// The inputs of a weights node as found in the graph now running.
pub(super) struct RouterInputs {
    pub probs: *const ggml_tensor,
    pub topk: *const ggml_tensor,
    /// What the top-k was selected from (the argsort's input), if the graph says.
    pub selection: *const ggml_tensor,
}

/// Walk the `src` pointers of `ffn_moe_weights-<layer>` (`get_rows(reshape(probs), topk)`)
/// and check they are that layer's probabilities and top-k.
///
/// # Safety
/// `w` must be a live node of the running graph; its sources are then live too.
pub(super) unsafe fn router_inputs(w: &ggml_tensor, layer: u32) -> Option<RouterInputs> {
    if w.op != GGML_OP_GET_ROWS {
        return None;
    }
    let (src0, topk) = (w.src[0].cast_const(), w.src[1].cast_const());
    // SAFETY (this block): every pointer is a null-checked source of a live node.
    unsafe {
        let probs = if is_node(src0, Kind::Probs, layer) {
            src0
        } else {
            let s = src0.as_ref()?;
            if s.op != GGML_OP_RESHAPE && s.op != GGML_OP_VIEW {
                return None;
            }
            let base = s.view_src.cast_const();
            if !is_node(base, Kind::Probs, layer) {
                return None;
            }
            base
        };
        if !is_node(topk, Kind::TopK, layer) {
            return None;
        }
        let selection = (*topk)
            .view_src
            .as_ref()
            .filter(|a| a.op == GGML_OP_ARGSORT)
            .map_or(std::ptr::null(), |a| a.src[0].cast_const());
        Some(RouterInputs {
            probs,
            topk,
            selection,
        })
    }
}

/// Whether the top-k was selected from `probs` itself or from `probs` plus a bias: then
/// what we wrote into `probs` reached the selection.
///
/// # Safety
/// `selection` must be null or a live node.
unsafe fn selected_from(selection: *const ggml_tensor, probs: *const ggml_tensor) -> bool {
    if selection == probs {
        return true;
    }
    // SAFETY: per the contract.
    unsafe { selection.as_ref() }
        .is_some_and(|s| s.op == GGML_OP_ADD && s.src[0].cast_const() == probs)
}

/// `ffn_moe_weights-<layer>` was just computed: read its inputs from the graph, put the
/// router's values back for forced experts, and record the layer.
///
/// # Safety
/// `t` is that node, computed, with ask == false (so its inputs are intact and nothing
/// has read the node yet).
unsafe fn on_first_weights(state: &mut CaptureState, t: *mut ggml_tensor, layer: u32) {
    #[cfg(test)]
    if state.panic_at_layer == Some(layer) {
        panic!("test: a panic inside the eval callback");
    }
    // SAFETY: per the contract.
    let w = unsafe { &*t };
    // SAFETY: `w` is a live node.
    let Some(inputs) = (unsafe { router_inputs(w, layer) }) else {
        state.fail(layer);
        return;
    };
    let rules = state.interventions().rules(layer);
    let forced = rules.force.to_vec();
    // SAFETY: pointers from the live graph.
    if !rules.is_empty() && !unsafe { selected_from(inputs.selection, inputs.probs) } {
        tracing::warn!(
            "layer {layer}: the top-k was not selected from the tensor the interventions changed"
        );
        state.fail(layer);
    }
    let noted = std::mem::take(&mut state.noted);
    let take = |v: Option<NodeValues<f32>>, p: *const ggml_tensor| {
        v.filter(|n| n.layer == layer && n.tensor == p as usize)
            .map(|n| n.values)
    };
    let original = take(noted.original, inputs.probs);
    // SAFETY (both reads): the weights node's inputs are computed and intact (it has just
    // been computed from them and nothing has run since).
    let probs = original
        .clone()
        .or_else(|| take(noted.probs, inputs.probs))
        .or_else(|| unsafe { read_f32(&*inputs.probs) });
    let topk = noted
        .topk
        .filter(|n| n.layer == layer && n.tensor == inputs.topk as usize)
        .map(|n| n.values)
        .or_else(|| unsafe { read_i32(&*inputs.topk) });
    // SAFETY: both pointers were null-checked by `router_inputs`.
    let (n_expert, k) = unsafe { ((*inputs.probs).ne[0], (*inputs.topk).ne[0]) };
    let (Some(probs), Some(topk), Ok(n_expert), Ok(k)) =
        (probs, topk, usize::try_from(n_expert), usize::try_from(k))
    else {
        state.fail(layer);
        return;
    };
    if !forced.is_empty() {
        let restored = original.as_ref().is_some_and(|orig| {
            // SAFETY: `t` is computed and not yet read by the next node.
            unsafe { read_f32(w) }.is_some_and(|mut weights| {
                restore_forced(&mut weights, &topk, orig, n_expert, k, &forced)
                    && unsafe { write_f32(t, &weights) }
            })
        });
        if !restored {
            state.fail(layer);
        }
    }
    if state.enabled {
        state.record_router(layer, n_expert, k, probs, topk);
        // SAFETY: computed, and restored above where needed.
        let weights = unsafe { read_f32(w) };
        state.record_weights(layer, 0, weights);
    }
}
