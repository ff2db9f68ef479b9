//! The capture's failure paths, on a tiny model run by the real llama.cpp, and the graph
//! walk on hand-built tensors.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::OnceLock;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{AddBos, LlamaModel};
use llama_cpp_sys_2::{
    ggml_tensor, GGML_OP_ARGSORT, GGML_OP_GET_ROWS, GGML_OP_RESHAPE, GGML_OP_VIEW,
};

use super::callback::router_inputs;
use super::{CaptureState, CapturedContext, ReadMode, RouterPlan};
use crate::engine::routing_build::routing_for_token;
use crate::model::tiny::{self, TinySpec};
use crate::transcript::ModelInfo;

fn model() -> &'static LlamaModel {
    static MODEL: OnceLock<(tempfile::TempDir, LlamaModel)> = OnceLock::new();
    &MODEL
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let path: PathBuf = dir.path().join("tiny.gguf");
            tiny::write(&path, &TinySpec::default()).expect("write tiny model");
            let backend = crate::engine::backend().expect("backend");
            let m = LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default())
                .expect("load");
            (dir, m)
        })
        .1
}

fn info() -> ModelInfo {
    ModelInfo {
        path: String::new(),
        name: "tiny".into(),
        arch: "deepseek".into(),
        n_layer: 3,
        n_ctx: 128,
        n_vocab: 0,
        n_params: 0,
        size_bytes: 0,
        n_expert: 8,
        n_expert_used: 2,
        n_expert_shared: 1,
        n_ff_exp: 0,
        n_ff_shexp: 0,
        n_dense_lead: 1,
        has_chat_template: false,
        router_display_temperature: None,
        lora_adapter: None,
    }
}

fn context(state: CaptureState) -> CapturedContext<'static> {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(128))
        .with_n_threads(1)
        .with_n_threads_batch(1);
    let backend = crate::engine::backend().expect("backend");
    CapturedContext::new(model(), backend, params, state).expect("context")
}

fn decode(ctx: &mut CapturedContext<'_>, text: &str) -> usize {
    let tokens = model().str_to_token(text, AddBos::Always).expect("tokens");
    let mut batch = LlamaBatch::new(64, 1);
    for (i, &t) in tokens.iter().enumerate() {
        batch.add(t, i as i32, &[0], true).expect("batch");
    }
    ctx.clear_kv_cache();
    ctx.decode(&mut batch).expect("decode");
    tokens.len()
}

fn state(mode: ReadMode) -> CaptureState {
    let mut s = CaptureState::new(true, RouterPlan::unknown("deepseek", 3, 8, 2, 1));
    s.read_mode = mode;
    s
}

#[test]
fn a_panic_in_the_callback_marks_the_decode_incomplete_and_the_next_is_clean() {
    let mut s = state(ReadMode::Auto);
    s.panic_at_layer = Some(2);
    let mut ctx = context(s);
    let n = decode(&mut ctx, "hello router");
    ctx.capture(|c| {
        assert!(c.poisoned && c.failed());
        // Layer 1 was read before the panic; layer 2 never was.
        assert_eq!(c.layers[&1].n_tokens(), n);
        assert!(c.layers.get(&2).is_none_or(|l| l.probs.is_empty()));
        let rec = routing_for_token(c, 0, n, &info()).expect("a record");
        assert!(rec.incomplete);
        assert!(rec.layer(0).unwrap().computed && rec.layers.len() == 1);
        c.panic_at_layer = None;
    });
    decode(&mut ctx, "hello router");
    ctx.capture(|c| {
        assert!(!c.failed());
        let rec = routing_for_token(c, 0, n, &info()).expect("a record");
        assert!(!rec.incomplete && rec.iter().all(|l| l.computed));
        assert_eq!(rec.layers, vec![1, 2]);
    });
}

#[test]
fn a_panic_before_any_layer_still_gives_an_incomplete_record() {
    let mut s = state(ReadMode::Auto);
    s.panic_at_layer = Some(1);
    let mut ctx = context(s);
    let n = decode(&mut ctx, "early");
    ctx.capture(|c| {
        let rec = routing_for_token(c, n - 1, n, &info()).expect("a record");
        assert!(rec.incomplete);
        assert_eq!(rec.layers, vec![1, 2]);
        assert!(rec.iter().all(|l| !l.computed));
    });
}

#[test]
fn reading_at_the_nodes_gives_what_the_weights_inputs_give() {
    // AtNodes is the path GPU backends take; on the CPU both must agree exactly.
    let mut a = context(state(ReadMode::Auto));
    let mut b = context(state(ReadMode::AtNodes));
    let text = "the same words twice";
    decode(&mut a, text);
    decode(&mut b, text);
    let grab = |c: &mut CapturedContext<'_>| {
        c.capture(|s| {
            assert!(!s.failed());
            s.layers
                .iter()
                .map(|(l, c)| (*l, c.probs.clone(), c.topk.clone(), c.weights.clone()))
                .collect::<Vec<_>>()
        })
    };
    let (ra, rb) = (grab(&mut a), grab(&mut b));
    assert_eq!(ra.len(), 2);
    assert_eq!(ra, rb);
}

/// A zeroed tensor named `name` (every field of `ggml_tensor` is an integer, an array or
/// a pointer, for which all-zero bits are valid: null pointers and zero sizes).
fn node(name: &str, op: u32) -> Box<ggml_tensor> {
    // SAFETY: see above; all-zero is a valid `ggml_tensor`.
    let mut t: Box<ggml_tensor> = Box::new(unsafe { std::mem::zeroed() });
    for (dst, b) in t.name.iter_mut().zip(name.bytes()) {
        *dst = b as std::ffi::c_char;
    }
    t.op = op;
    t
}

#[test]
fn the_weights_node_inputs_are_checked_in_the_graph() {
    let mut probs = node("ffn_moe_probs-4", 0);
    let mut reshaped = node("ffn_moe_probs-4 (reshaped)", GGML_OP_RESHAPE);
    reshaped.view_src = &mut *probs;
    let mut argsort = node("ffn_moe_argsort-4", GGML_OP_ARGSORT);
    argsort.src[0] = &mut *probs;
    let mut topk = node("ffn_moe_topk-4", GGML_OP_VIEW);
    topk.view_src = &mut *argsort;
    let mut w = node("ffn_moe_weights-4", GGML_OP_GET_ROWS);
    w.src[0] = &mut *reshaped;
    w.src[1] = &mut *topk;
    // SAFETY (all calls): every pointer is null or points to a live boxed tensor above.
    let found = unsafe { router_inputs(&w, 4) }.expect("the right inputs");
    assert_eq!(found.probs, &*probs as *const ggml_tensor);
    assert_eq!(found.selection, &*probs as *const ggml_tensor);
    // Another layer's node, a node that is not a gather, a top-k from elsewhere.
    assert!(unsafe { router_inputs(&w, 5) }.is_none());
    let mut not_gather = node("ffn_moe_weights-4", GGML_OP_VIEW);
    not_gather.src = w.src;
    assert!(unsafe { router_inputs(&not_gather, 4) }.is_none());
    let mut stray = node("ffn_moe_topk-3", GGML_OP_VIEW);
    w.src[1] = &mut *stray;
    assert!(unsafe { router_inputs(&w, 4) }.is_none());
    w.src[1] = std::ptr::null_mut();
    assert!(unsafe { router_inputs(&w, 4) }.is_none());
}

#[test]
fn forcing_works_when_reading_at_the_nodes() {
    use super::plan::Gating;
    for mode in [ReadMode::Auto, ReadMode::AtNodes] {
        let plan = RouterPlan {
            gating: Gating::Softmax,
            ..RouterPlan::unknown("deepseek", 3, 8, 2, 1)
        };
        let mut s = CaptureState::new(true, plan);
        s.read_mode = mode;
        let mut i = crate::routing::Interventions::default();
        i.set_force(2, vec![5]);
        s.set_interventions(i).expect("accepted");
        let mut ctx = context(s);
        let n = decode(&mut ctx, "force five in");
        ctx.capture(|c| {
            assert!(!c.failed(), "{mode:?}");
            let l = &c.layers[&2];
            assert_eq!(l.topk.len(), 2 * n);
            for (ids, w) in l.topk.chunks(2).zip(l.weights.chunks(2)) {
                assert!(ids.contains(&5), "{mode:?}: {ids:?}");
                // The router's own probability, not the score that forced it.
                assert!(
                    w.iter().all(|&x| (0.0..=1.0).contains(&x)),
                    "{mode:?}: {w:?}"
                );
            }
        });
    }
}
