//! Views that teach, on a real tiny MoE through llama.cpp: what the model header says
//! about shared experts comes from the GGUF, and the routing pane's cell form changes the
//! routers the next reply runs through.

mod app_support;
mod common;

use moe_tutor::model::tiny::{self, TinySpec};

/// `expert_shared_count` 4 with experts 32 wide: llama.cpp builds one shared FFN 128
/// wide, and the app reports it as one expert four routed ones wide.
#[test]
fn shared_width_comes_from_the_gguf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wide-shared.gguf");
    let spec = TinySpec {
        n_expert_shared: 4,
        ..TinySpec::default()
    };
    tiny::write(&path, &spec).expect("write");
    let engine = common::start(common::load_options(&path)).expect("engine");
    assert_eq!(engine.info.n_expert_shared, 4);
    assert_eq!(engine.info.n_ff_exp, 32);
    assert_eq!(engine.info.n_ff_shexp, 128);
    assert_eq!(engine.info.shared_width_in_experts(), Some(4.0));
    engine.handle.shutdown();

    // qwen3moe has no shared expert at all.
    let engine = common::start(common::load_options(&common::tiny_qwen3moe())).expect("engine");
    assert_eq!(engine.info.shared_width_in_experts(), None);
    engine.handle.shutdown();
}
