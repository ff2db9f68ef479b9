//! The architectures of the curated real MoE models, each as a tiny random GGUF written by
//! the project's own generator, through the pinned llama.cpp (llama-cpp-2 0.1.139): each
//! loads, generates greedily (the same tokens twice), and its routing capture gives one
//! record per MoE layer per token with the architecture's expert count and k, the top-k
//! of the recorded probabilities, and weights by the architecture's rule. An architecture
//! this llama.cpp does not know is refused with a message that names it.
//!
//! The README's "Architectures" table is this file's result.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::*;
use moe_tutor::model::tiny::{self, TinySpec};
use moe_tutor::routing::dequantize_prob;
use moe_tutor::transcript::TokenEvent;

/// How an architecture turns the chosen experts' probabilities into mixing weights.
#[derive(Debug, Clone, Copy)]
enum Weights {
    /// The softmax probability itself (no renormalisation, scale 1).
    Plain,
    /// Renormalised over the chosen k to sum to 1.
    Renorm,
}

struct Arch {
    /// llama.cpp's architecture name.
    arch: &'static str,
    /// The curated real model it stands for.
    model: &'static str,
    path: PathBuf,
    n_expert: u32,
    k: u32,
    moe_layers: Vec<u16>,
    weights: Weights,
}

/// The models, written once per test run with each curated model's own expert count,
/// experts per token and shared experts (the other dimensions stay tiny).
fn curated() -> Vec<Arch> {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR
        .get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path();
    let a = |arch: &'static str, model, spec: TinySpec, weights| {
        let path = dir.join(format!("{arch}.gguf"));
        if !path.exists() {
            tiny::write(&path, &spec).expect("write the tiny model");
        }
        let lead = if spec.family.has_dense_lead() && !spec.mixtral {
            spec.n_dense_lead
        } else {
            0
        };
        Arch {
            arch,
            model,
            path,
            n_expert: spec.n_expert,
            k: spec.n_expert_used,
            moe_layers: (lead as u16..spec.n_layer as u16).collect(),
            weights,
        }
    };
    let with = |base: TinySpec, n_expert, k| TinySpec {
        n_expert,
        n_expert_used: k,
        ..base
    };
    vec![
        a(
            "granitemoe",
            "Granite 3 1B-A400M",
            with(TinySpec::granitemoe(), 32, 8),
            Weights::Renorm,
        ),
        a(
            "olmoe",
            "OLMoE-1B-7B",
            with(TinySpec::olmoe(), 64, 8),
            Weights::Plain,
        ),
        a(
            "qwen3moe",
            "Qwen3-30B-A3B",
            with(TinySpec::qwen3moe(), 128, 8),
            Weights::Renorm,
        ),
        a(
            "deepseek2",
            "DeepSeek-V2-Lite",
            TinySpec {
                n_expert_shared: 2,
                ..with(TinySpec::deepseek2(), 64, 6)
            },
            Weights::Plain,
        ),
        // gpt-oss records the softmax over all experts; its softmax over the chosen
        // logits equals that renormalised.
        a(
            "gpt-oss",
            "gpt-oss-20b",
            with(TinySpec::gpt_oss(), 32, 4),
            Weights::Renorm,
        ),
        a(
            "llama",
            "Mixtral-8x7B",
            with(TinySpec::mixtral(), 8, 2),
            Weights::Renorm,
        ),
    ]
}

/// Every token's record against the architecture: layers, E, k, top-k, weights.
fn check_tokens(a: &Arch, tokens: &[TokenEvent]) {
    let n = a.n_expert as usize;
    let k = a.k as usize;
    for t in tokens {
        let r = t
            .routing
            .as_ref()
            .unwrap_or_else(|| panic!("{}: token {} has no routing", a.arch, t.pos));
        assert!(!r.incomplete, "{}: capture incomplete at {}", a.arch, t.pos);
        assert_eq!(
            r.layers, a.moe_layers,
            "{}: one record per MoE layer",
            a.arch
        );
        assert_eq!(r.n_expert as usize, n, "{}", a.arch);
        assert_eq!(r.k as usize, k, "{}", a.arch);
        for l in r.iter() {
            assert!(l.computed, "{}: layer {} at {}", a.arch, l.layer, t.pos);
            let mut ids: Vec<u16> = l.experts.to_vec();
            ids.sort();
            ids.dedup();
            assert_eq!(
                ids.len(),
                k,
                "{}: k distinct experts {:?}",
                a.arch,
                l.experts
            );
            assert!(ids.iter().all(|&e| (e as usize) < n));
            let sum: f32 = (0..n).map(|e| l.prob(e)).sum();
            assert!(
                (sum - 1.0).abs() < 0.03,
                "{}: probabilities sum to {sum}",
                a.arch
            );
            let min_chosen = l.experts.iter().map(|&e| l.probs[e as usize]).min();
            let max_other = (0..n)
                .filter(|e| !l.experts.contains(&(*e as u16)))
                .map(|e| l.probs[e])
                .max();
            if let (Some(c), Some(o)) = (min_chosen, max_other) {
                assert!(
                    c >= o,
                    "{}: not the top-k {:?} {:?}",
                    a.arch,
                    l.experts,
                    l.probs
                );
            }
            let chosen: Vec<f32> = l
                .experts
                .iter()
                .map(|&e| dequantize_prob(l.probs[e as usize]))
                .collect();
            let total: f32 = chosen.iter().sum();
            for (i, &p) in chosen.iter().enumerate() {
                let want = match a.weights {
                    Weights::Plain => p,
                    Weights::Renorm => p / total,
                };
                let w = l.weights[i].to_f32();
                assert!(
                    (w - want).abs() <= 0.01 + 0.05 * want,
                    "{}: weight {w} where the rule gives {want}",
                    a.arch
                );
            }
        }
    }
}

#[test]
fn each_curated_architecture_loads_generates_and_captures_routing() {
    for a in curated() {
        let mut e = start(load_options(&a.path))
            .unwrap_or_else(|err| panic!("{} ({}) did not load: {err}", a.arch, a.model));
        assert_eq!(e.info.arch, a.arch);
        assert_eq!(e.info.n_expert, a.n_expert, "{}", a.arch);
        assert_eq!(e.info.n_expert_used, a.k, "{}", a.arch);
        let first = e.chat(1, vec![user("Hello there")], params(0.0, 1.0, 1), 4);
        assert!(first.error.is_none(), "{}: {:?}", a.arch, first.error);
        assert!(!first.tokens.is_empty(), "{}: no tokens", a.arch);
        assert!(!first.prompt.is_empty(), "{}: no prompt tokens", a.arch);
        check_tokens(&a, &first.prompt);
        check_tokens(&a, &first.tokens);
        // Greedy: the same request gives the same tokens and the same routing.
        let again = e.chat(2, vec![user("Hello there")], params(0.0, 1.0, 7), 4);
        assert_eq!(first.ids(), again.ids(), "{}: greedy differs", a.arch);
        let experts = |r: &Reply| -> Vec<Vec<u16>> {
            r.tokens
                .iter()
                .flat_map(|t| {
                    t.routing
                        .iter()
                        .flat_map(|r| r.iter().map(|l| l.experts.to_vec()))
                })
                .collect()
        };
        assert_eq!(experts(&first), experts(&again), "{}", a.arch);
        eprintln!(
            "{:<10} {:<20} loads, {} tokens, E={} k={} on layers {:?}",
            a.arch,
            a.model,
            first.tokens.len(),
            a.n_expert,
            a.k,
            a.moe_layers
        );
    }
}

#[test]
fn routing_differs_between_tokens_on_every_architecture() {
    // A capture that read the same column for every token would pass the checks above.
    for a in curated() {
        let mut e = start(load_options(&a.path)).expect("loads");
        let reply = e.chat(
            1,
            vec![user("one two three four five")],
            params(0.0, 1.0, 1),
            2,
        );
        let sets: Vec<Vec<u8>> = reply
            .prompt
            .iter()
            .filter_map(|t| t.routing.as_ref())
            .map(|r| r.iter().flat_map(|l| l.probs.to_vec()).collect())
            .collect();
        assert!(sets.len() > 3, "{}", a.arch);
        assert!(
            sets.windows(2).any(|w| w[0] != w[1]),
            "{}: every prompt token has the same router probabilities",
            a.arch
        );
    }
}

#[test]
fn an_architecture_the_pinned_llama_cpp_does_not_know_is_refused_by_name() {
    // Stands for any architecture newer than the pinned llama.cpp: a well-formed file whose
    // `general.architecture` this build has no graph for.
    let mut w = tiny::build(&TinySpec::qwen3moe()).expect("build");
    w.set("general.architecture", "future-moe");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("future-moe.gguf");
    w.write(&path).expect("write");
    let err = match start(load_options(&path)) {
        Ok(_) => panic!("an unknown architecture loaded"),
        Err(e) => e,
    };
    assert!(err.contains("future-moe"), "{err}");
    assert!(err.contains("not supported by this build"), "{err}");
}
