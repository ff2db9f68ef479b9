//! A llama.cpp context together with the capture state its eval callback writes into.
//!
//! llama.cpp holds a raw pointer to the state and writes through it during `decode`. Two
//! things would make that unsound, and this type makes both impossible to write:
//! - a Rust reference to the state alive while llama.cpp runs the graph: the state is
//!   reached only through [`CapturedContext::capture`], which takes `&mut self`, and the
//!   graph runs only inside [`CapturedContext::decode`], which takes `&mut self` too, so
//!   the borrow checker rejects decoding inside a capture borrow:
//!
//! ```compile_fail,E0499
//! fn inside(ctx: &mut moe_tutor::engine::CapturedContext<'_>, batch: &mut llama_cpp_2::llama_batch::LlamaBatch) {
//!     ctx.capture(|_state| ctx.decode(batch));
//! }
//! ```
//! - the state freed while the context can still call into it: the context and the state
//!   are private fields of one value, the context declared first so it is dropped first,
//!   and neither can be moved out:
//!
//! ```compile_fail,E0616
//! fn split(ctx: moe_tutor::engine::CapturedContext<'_>) {
//!     let state = ctx.state; // private: the state cannot leave the context
//! }
//! ```
//!
//! Everything else the engine needs from the context (logits, sizes, LoRA switches) goes
//! through `Deref` to a shared `LlamaContext`, which cannot decode.
//!
//! ```no_run
//! fn fine(ctx: &mut moe_tutor::engine::CapturedContext<'_>, batch: &mut llama_cpp_2::llama_batch::LlamaBatch) {
//!     let _ = ctx.decode(batch);
//!     let _tokens = ctx.capture(|state| state.layers.len());
//!     let _n = ctx.n_ctx();
//! }
//! ```

use std::ops::Deref;
use std::ptr::NonNull;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::{DecodeError, LlamaContextLoadError};

use super::callback::eval_callback;
use super::state::CaptureState;

/// The heap allocation llama.cpp points into. Freed on drop, which the owning
/// [`CapturedContext`] orders after the context.
struct StateBox(NonNull<CaptureState>);

impl StateBox {
    fn new(state: CaptureState) -> Self {
        StateBox(NonNull::from(Box::leak(Box::new(state))))
    }
}

impl Drop for StateBox {
    fn drop(&mut self) {
        // SAFETY: the pointer came from Box::leak in `new` and is freed exactly once,
        // here. The only other user, the llama.cpp context, is a field declared before us
        // in `CapturedContext` and so has already been dropped (fields drop in order).
        // If the context was never created, nothing else holds the pointer.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// A llama.cpp context whose eval callback captures routing into a state it owns.
pub struct CapturedContext<'m> {
    // Order matters: `ctx` must drop before `state`.
    ctx: LlamaContext<'m>,
    state: StateBox,
}

impl<'m> CapturedContext<'m> {
    /// Create a context for `model` with `params`, installing the capture callback (any
    /// callback or user data already in `params` is replaced).
    pub fn new(
        model: &'m LlamaModel,
        backend: &LlamaBackend,
        params: LlamaContextParams,
        state: CaptureState,
    ) -> Result<Self, LlamaContextLoadError> {
        let state = StateBox::new(state);
        let params = params
            .with_cb_eval(Some(eval_callback))
            .with_cb_eval_user_data(state.0.as_ptr().cast());
        let ctx = model.new_context(backend, params)?;
        Ok(CapturedContext { ctx, state })
    }

    /// Run the graph for `batch`. The state is cleared before and the last graph's
    /// weights flushed after, so afterwards it holds exactly this call's routing.
    pub fn decode(&mut self, batch: &mut LlamaBatch) -> Result<(), DecodeError> {
        self.capture(CaptureState::clear);
        let result = self.ctx.decode(batch);
        self.capture(CaptureState::finish_graph);
        result
    }

    /// Use the capture state between decode calls.
    pub fn capture<R>(&mut self, f: impl FnOnce(&mut CaptureState) -> R) -> R {
        // SAFETY: the pointer is valid until `self.state` drops. `&mut self` rules out
        // every other Rust access, and llama.cpp touches the state only inside
        // `self.ctx.decode`, which cannot run while `self` is borrowed here.
        f(unsafe { &mut *self.state.0.as_ptr() })
    }

    /// Forget the KV cache.
    pub fn clear_kv_cache(&mut self) {
        self.ctx.clear_kv_cache();
    }

    /// Remove positions `p0..p1` of sequence `seq` from the KV cache.
    pub fn clear_kv_cache_seq(
        &mut self,
        seq: Option<u32>,
        p0: Option<u32>,
        p1: Option<u32>,
    ) -> Result<bool, llama_cpp_2::context::kv_cache::KvCacheConversionError> {
        self.ctx.clear_kv_cache_seq(seq, p0, p1)
    }
}

impl<'m> Deref for CapturedContext<'m> {
    type Target = LlamaContext<'m>;

    fn deref(&self) -> &Self::Target {
        &self.ctx
    }
}
