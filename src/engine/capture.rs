//! Expert capture through llama.cpp's eval callback. This module (with its submodules) and
//! `ffi.rs` are the only places in the crate with `unsafe` code.
//!
//! llama.cpp calls the callback for every node of the compute graph, first with
//! `ask == true` ("do you want this tensor?") and, for the ones we want, again with
//! `ask == false` once the tensor is computed. Per MoE layer we need `ffn_moe_probs-N`
//! (router probabilities, F32 `[n_expert, n_tokens]`), `ffn_moe_topk-N` (chosen ids, I32
//! `[k, n_tokens]`, a strided view when k < n_expert) and the last of the weights tensors
//! the architecture builds (`ffn_moe_weights`, then optionally `_softmax`, `_norm`,
//! `_scaled`; the last one produced is what multiplies the experts' outputs).
//!
//! Every tensor we say yes to splits the graph there (llama.cpp computes up to it, calls
//! us, then goes on), and each split costs a round of thread synchronisation. So on the
//! CPU we ask only for the weights tensors: `ffn_moe_weights-N` is `get_rows(probs, topk)`,
//! so when it has just been computed its two inputs are intact, and we find them by walking
//! its `src` pointers in the graph now running (checking their names), never through
//! pointers kept from an earlier call. On other backends, which may fuse the router into
//! one kernel that never writes the probabilities, we ask for the probabilities and top-k
//! at their own nodes (see `callback::on_cpu`). Interventions ask for the probabilities
//! too, to change them before the selection reads them (see `plan.rs`).
//!
//! - `context.rs`: [`CapturedContext`], the llama.cpp context that owns the state;
//! - `callback.rs`: the callback (under `catch_unwind`) and the graph walk;
//! - `state.rs`: what is captured, failure counts, the intervention arithmetic;
//! - `tensor.rs`: checked reads and writes of tensors;
//! - `plan.rs`: the model's gating function and whether interventions are supported;
//! - `lens.rs`: the layer lens (reading and replacing layer outputs `l_out-N`).

mod callback;
mod context;
mod lens;
mod plan;
mod state;
mod tensor;
#[cfg(test)]
mod tests;

pub use context::CapturedContext;
pub use lens::LensMode;
pub use plan::RouterPlan;
#[cfg(test)]
use state::ReadMode;
pub use state::{CaptureState, LayerCapture};

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

#[cfg(test)]
mod name_tests {
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
        assert_eq!(classify("ffn_moe_probs-99999999999"), None);
    }
}
