//! The layer lens through llama.cpp on the project's tiny MoE: the last layer's row is the
//! model's real next-token distribution, the other layers' rows differ from it, a lens in
//! the middle of a conversation changes nothing that follows, and bad requests are refused.

mod common;

use common::*;
use moe_tutor::engine::{EngineCommand, EngineEvent};
use moe_tutor::routing::lens::LayerLens;
use moe_tutor::transcript::{ChatMessage, Role};

fn lens(e: &mut Engine, generation: u64, tokens: Vec<u32>) -> Result<LayerLens, String> {
    lens_from(e, generation, 0, tokens)
}

/// The lens with positions before `start` taken from the engine's cache.
fn lens_from(
    e: &mut Engine,
    generation: u64,
    start: u32,
    tokens: Vec<u32>,
) -> Result<LayerLens, String> {
    e.handle.send(EngineCommand::Lens {
        generation,
        start,
        tokens,
    });
    loop {
        match recv(&mut e.rx) {
            EngineEvent::Lens {
                generation: g,
                lens,
            } if g == generation => return Ok(*lens),
            EngineEvent::Error {
                generation: g,
                message,
            } if g == generation => return Err(message),
            EngineEvent::Crashed { message, .. } => panic!("crashed: {message}"),
            _ => {}
        }
    }
}

fn greedy() -> moe_tutor::sampling::SamplingParams {
    params(0.0, 1.0, 1)
}

#[test]
fn the_last_layer_is_the_real_distribution_and_earlier_layers_differ() {
    let mut e = start(load_options(&tiny_moe())).unwrap();
    let n_layer = e.info.n_layer;
    let reply = e.chat(1, vec![user("Tell me about experts")], greedy(), 6);
    assert!(reply.error.is_none(), "{:?}", reply.error);
    assert!(reply.tokens.len() >= 3, "{} tokens", reply.tokens.len());
    let prompt: Vec<u32> = reply.prompt.iter().map(|t| t.token_id).collect();
    let ids = reply.ids();
    // Step 0 (read: the last prompt token) and step 2 (read: reply token 1).
    for (g, step) in [(2u64, 0usize), (3, 2)] {
        let mut tokens = prompt.clone();
        tokens.extend_from_slice(&ids[..step]);
        let l = lens(&mut e, g, tokens.clone()).unwrap();
        assert_eq!(l.pos as usize, tokens.len() - 1);
        let layers: Vec<u32> = l.rows.iter().map(|r| r.layer).collect();
        assert_eq!(layers, (0..n_layer).collect::<Vec<_>>());
        for r in &l.rows {
            assert_eq!(r.top.len(), 5);
            assert!(r.top.windows(2).all(|w| w[0].p >= w[1].p), "{r:?}");
        }
        let drawn = reply.tokens[step].step.as_ref().expect("a sampling step");
        let last = l.rows.last().unwrap();
        assert_eq!(
            last.top[0].token_id, drawn.chosen,
            "greedy took the top token"
        );
        assert!(
            (last.top[0].p - drawn.chosen_p_raw).abs() < 1e-4,
            "lens {} vs real {}",
            last.top[0].p,
            drawn.chosen_p_raw
        );
        for c in &last.top {
            if let Some(real) = drawn.candidates.iter().find(|d| d.token_id == c.token_id) {
                assert!((c.p - real.p_raw).abs() < 1e-4, "{c:?} vs {real:?}");
            }
        }
        // The earlier layers predict something else: the lens really replaced the output.
        for r in &l.rows[..l.rows.len() - 1] {
            let differs = r
                .top
                .iter()
                .zip(&last.top)
                .any(|(a, b)| a.token_id != b.token_id || (a.p - b.p).abs() > 1e-3);
            assert!(differs, "layer {} equals the last layer: {r:?}", r.layer);
        }
        assert_ne!(l.rows[0].top, l.rows[1].top, "layers 0 and 1 agree exactly");
    }
}

#[test]
fn a_lens_mid_conversation_changes_nothing_that_follows() {
    let first = vec![user("Name three colours")];
    let continue_with = |e: &mut Engine, reply_text: String| {
        let messages = vec![
            first[0].clone(),
            ChatMessage {
                role: Role::Assistant,
                content: reply_text,
            },
            user("And three more"),
        ];
        e.chat(10, messages, greedy(), 8)
    };
    let mut plain = start(load_options(&tiny_moe())).unwrap();
    let a = plain.chat(1, first.clone(), greedy(), 6);
    let a2 = continue_with(&mut plain, a.text());

    let mut lensed = start(load_options(&tiny_moe())).unwrap();
    let b = lensed.chat(1, first.clone(), greedy(), 6);
    assert_eq!(a.ids(), b.ids());
    let mut tokens: Vec<u32> = b.prompt.iter().map(|t| t.token_id).collect();
    tokens.extend_from_slice(&b.ids()[..1]);
    lens(&mut lensed, 2, tokens).unwrap();
    let b2 = continue_with(&mut lensed, b.text());
    assert!(a2.error.is_none() && b2.error.is_none());
    assert!(!a2.tokens.is_empty());
    assert_eq!(a2.ids(), b2.ids(), "the continuation changed after a lens");
    // The cache was restored: the next request reused as much of it and decoded the same
    // prompt tokens.
    let cached = |r: &Reply| r.stats.as_ref().unwrap().cached_tokens;
    assert_eq!(cached(&a2), cached(&b2));
    let prompt_ids = |r: &Reply| r.prompt.iter().map(|t| t.token_id).collect::<Vec<_>>();
    assert_eq!(prompt_ids(&a2), prompt_ids(&b2));
    let (pa, pb) = (
        a2.tokens[0].step.as_ref().unwrap().chosen_p_raw,
        b2.tokens[0].step.as_ref().unwrap().chosen_p_raw,
    );
    assert!((pa - pb).abs() < 1e-4, "{pa} vs {pb}");
}

#[test]
fn bad_lens_requests_are_refused_and_the_engine_goes_on() {
    let mut e = start(load_options(&tiny_moe())).unwrap();
    let err = lens(&mut e, 1, vec![]).unwrap_err();
    assert!(err.contains("needs a token"), "{err}");
    let n_vocab = e.info.n_vocab;
    let err = lens(&mut e, 2, vec![1, n_vocab]).unwrap_err();
    assert!(err.contains("vocabulary"), "{err}");
    let err = lens(&mut e, 3, vec![1; 600]).unwrap_err();
    assert!(err.contains("context holds"), "{err}");
    let reply = e.chat(4, vec![user("Still there?")], greedy(), 3);
    assert!(
        reply.error.is_none() && !reply.tokens.is_empty(),
        "{reply:?}"
    );
    // Positions before `start` come from the cache: the same lens as with every token.
    let n = reply.prompt.len() as u32;
    let mut all: Vec<u32> = reply.prompt.iter().map(|t| t.token_id).collect();
    all.extend_from_slice(&reply.ids()[..2]);
    let full = lens(&mut e, 5, all).unwrap();
    let cached = lens_from(&mut e, 6, n, reply.ids()[..2].to_vec()).unwrap();
    assert_eq!(full, cached);
    let err = lens_from(&mut e, 7, 10_000, vec![1]).unwrap_err();
    assert!(
        err.contains("no longer holds the first 10000 tokens"),
        "{err}"
    );
}

#[test]
fn every_tiny_architecture_ends_on_its_real_distribution() {
    for path in [
        tiny_mixtral(),
        tiny_qwen3moe(),
        tiny_dots1(),
        tiny_gpt_oss(),
        tiny_dense(),
    ] {
        let mut e = start(load_options(&path)).unwrap();
        let reply = e.chat(1, vec![user("Hello")], greedy(), 2);
        assert!(reply.error.is_none(), "{path:?}: {:?}", reply.error);
        let tokens: Vec<u32> = reply.prompt.iter().map(|t| t.token_id).collect();
        let l = lens(&mut e, 2, tokens).unwrap_or_else(|err| panic!("{path:?}: {err}"));
        assert_eq!(l.rows.len(), e.info.n_layer as usize, "{path:?}");
        let drawn = reply.tokens[0].step.as_ref().unwrap();
        let last = &l.rows.last().unwrap().top[0];
        assert_eq!(last.token_id, drawn.chosen, "{path:?}");
        assert!((last.p - drawn.chosen_p_raw).abs() < 1e-4, "{path:?}");
    }
}
