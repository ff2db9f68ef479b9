//! Interventions on the routers (knock-out, force, restrict) through the real llama.cpp,
//! on one tiny model per gating function: softmax (deepseek, Mixtral-style llama,
//! qwen3moe), sigmoid with a selection bias (dots1) and softmax over the chosen logits
//! (gpt-oss). And the requests the engine refuses.

mod common;

use std::path::PathBuf;

use common::*;
use moe_tutor::engine::{EngineCommand, EngineEvent};
use moe_tutor::routing::{dequantize_prob, Interventions};

/// How a family mixes the chosen experts: weight = p x scale, or p / sum(chosen p) x scale.
#[derive(Clone, Copy)]
enum Rule {
    Plain(f32),
    Renorm(f32),
}

/// A model, the MoE layer the tests intervene on, and its mixing rule.
struct Family {
    name: &'static str,
    path: PathBuf,
    layer: u32,
    rule: Rule,
}

fn families() -> Vec<Family> {
    let f = |name, path, layer, rule| Family {
        name,
        path,
        layer,
        rule,
    };
    vec![
        f("deepseek", tiny_moe(), 1, Rule::Plain(1.0)),
        f("mixtral-style llama", tiny_mixtral(), 1, Rule::Renorm(1.0)),
        f("qwen3moe", tiny_qwen3moe(), 1, Rule::Renorm(1.0)),
        f("dots1", tiny_dots1(), 2, Rule::Renorm(2.5)),
        // The recorded probabilities of gpt-oss are the softmax of its logits over all
        // experts; the softmax over the chosen ones is that, renormalised.
        f("gpt-oss", tiny_gpt_oss(), 1, Rule::Renorm(1.0)),
    ]
}

/// The range a probability recorded as byte `q` came from (quantisation rounds).
fn prob_range(q: u8) -> (f32, f32) {
    let s = |x: f32| (x.clamp(0.0, 255.0) / 255.0).powi(2);
    (s(q as f32 - 0.5), s(q as f32 + 0.5))
}

/// The range the rule allows for the weight of chosen slot `i`.
fn weight_range(rule: Rule, i: usize, chosen: &[u8]) -> (f32, f32) {
    let (lo, hi) = prob_range(chosen[i]);
    let others = |pick: fn((f32, f32)) -> f32| -> f32 {
        chosen
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, &q)| pick(prob_range(q)))
            .sum()
    };
    match rule {
        Rule::Plain(s) => (s * lo, s * hi),
        Rule::Renorm(s) => (
            s * lo / (lo + others(|r| r.1)),
            s * hi / (hi + others(|r| r.0)),
        ),
    }
}

const SEEDS: [u64; 3] = [1, 2, 3];
const PROMPT: &str = "Which experts route this sentence about routers?";

/// Replies for every seed, from a fresh KV cache each time.
fn replies(e: &mut Engine, first_generation: u64) -> Vec<Reply> {
    SEEDS
        .iter()
        .enumerate()
        .map(|(i, &seed)| {
            e.handle.send(EngineCommand::Reset);
            let r = e.chat(
                first_generation + i as u64,
                vec![user(PROMPT)],
                params(1.0, 1.0, seed),
                12,
            );
            assert!(r.error.is_none(), "{:?}", r.error);
            r
        })
        .collect()
}

/// The chosen experts at `layer`, for every token of every reply.
fn choices(replies: &[Reply], layer: u32) -> Vec<Vec<u16>> {
    replies
        .iter()
        .flat_map(|r| r.prompt.iter().chain(&r.tokens))
        .map(|t| {
            let rec = t.routing.as_ref().expect("routing");
            assert!(!rec.incomplete, "capture incomplete at pos {}", t.pos);
            let l = rec
                .iter()
                .find(|l| u32::from(l.layer) == layer)
                .expect("layer recorded");
            assert!(l.computed);
            l.experts.to_vec()
        })
        .collect()
}

/// Mixing weights follow the family's rule from the router's own probabilities (so a
/// forced expert is mixed with its real weight, not the score that forced it).
fn check_weights(f: &Family, replies: &[Reply]) {
    for t in replies
        .iter()
        .flat_map(|r| r.prompt.iter().chain(&r.tokens))
    {
        let rec = t.routing.as_ref().expect("routing");
        let l = rec
            .iter()
            .find(|l| u32::from(l.layer) == f.layer)
            .expect("layer");
        let chosen: Vec<u8> = l.experts.iter().map(|&e| l.probs[e as usize]).collect();
        for i in 0..chosen.len() {
            let w = l.weights[i].to_f32();
            let (lo, hi) = weight_range(f.rule, i, &chosen);
            // f16 weights: a relative rounding of about 1e-3.
            assert!(
                w >= lo * 0.995 - 1e-3 && w <= hi * 1.005 + 1e-3,
                "{}: weight {w} outside the rule's {lo}..{hi} (probs {:?})",
                f.name,
                chosen
                    .iter()
                    .map(|&q| dequantize_prob(q))
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// Whether some token's chosen experts are not the top-k of its recorded probabilities
/// (a selection bias at work).
fn selection_differs_from_probs(replies: &[Reply], layer: u32) -> bool {
    replies
        .iter()
        .flat_map(|r| r.prompt.iter().chain(&r.tokens))
        .any(|t| {
            let rec = t.routing.as_ref().expect("routing");
            let l = rec
                .iter()
                .find(|l| u32::from(l.layer) == layer)
                .expect("layer");
            let min_chosen = l
                .experts
                .iter()
                .map(|&e| l.probs[e as usize])
                .min()
                .unwrap_or(0);
            (0..l.probs.len())
                .filter(|e| !l.experts.contains(&(*e as u16)))
                .any(|e| l.probs[e] > min_chosen.saturating_add(1))
        })
}

fn set(e: &mut Engine, i: Interventions) {
    e.handle.send(EngineCommand::SetInterventions(i));
}

#[test]
fn knock_out_force_and_restrict_hold_on_every_gating_function() {
    for f in families() {
        let mut e = start(load_options(&f.path)).unwrap_or_else(|err| panic!("{}: {err}", f.name));
        let (n_expert, k) = (e.info.n_expert as u16, e.info.n_expert_used as usize);
        let base = replies(&mut e, 1);
        let base_choices = choices(&base, f.layer);
        check_weights(&f, &base);
        if f.name == "dots1" {
            assert!(
                selection_differs_from_probs(&base, f.layer),
                "dots1's selection bias never changed a choice: the biased path is not exercised"
            );
        }
        // Knock out the expert the layer chose most often.
        let mut uses = vec![0usize; n_expert as usize];
        base_choices
            .iter()
            .flatten()
            .for_each(|&x| uses[x as usize] += 1);
        let busiest = (0..n_expert).max_by_key(|&x| uses[x as usize]).unwrap();
        let idlest = (0..n_expert).min_by_key(|&x| uses[x as usize]).unwrap();

        let mut ko = Interventions::default();
        ko.set_knockout(f.layer, vec![busiest]);
        set(&mut e, ko);
        let knocked = replies(&mut e, 10);
        for c in choices(&knocked, f.layer) {
            assert!(
                !c.contains(&busiest),
                "{}: e{busiest} chosen after knock-out: {c:?}",
                f.name
            );
        }
        assert!(
            knocked.iter().zip(&base).any(|(a, b)| a.ids() != b.ids()),
            "{}: knocking out e{busiest} changed no reply",
            f.name
        );

        let mut force = Interventions::default();
        force.set_force(f.layer, vec![idlest]);
        set(&mut e, force);
        let forced = replies(&mut e, 20);
        for c in choices(&forced, f.layer) {
            assert!(
                c.contains(&idlest),
                "{}: forced e{idlest} missing: {c:?}",
                f.name
            );
            assert_eq!(c.len(), k);
        }
        check_weights(&f, &forced);

        // Only the k + 1 least-used experts may be chosen.
        let mut by_use: Vec<u16> = (0..n_expert).collect();
        by_use.sort_by_key(|&x| uses[x as usize]);
        let allowed: Vec<u16> = by_use[..k + 1].to_vec();
        let mut restrict = Interventions::default();
        restrict.set_restrict(f.layer, allowed.clone());
        set(&mut e, restrict);
        let restricted = replies(&mut e, 30);
        for c in choices(&restricted, f.layer) {
            assert!(
                c.iter().all(|x| allowed.contains(x)),
                "{}: {c:?} outside {allowed:?}",
                f.name
            );
        }
        check_weights(&f, &restricted);

        // Clearing brings the baseline back exactly.
        set(&mut e, Interventions::default());
        let again = replies(&mut e, 40);
        for (a, b) in again.iter().zip(&base) {
            assert_eq!(a.ids(), b.ids(), "{}", f.name);
        }
    }
}

/// A change to make to an empty set of interventions.
type Edit = Box<dyn Fn(&mut Interventions)>;

fn refused(e: &mut Engine) -> String {
    match recv(&mut e.rx) {
        EngineEvent::InterventionsRefused { message } => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn impossible_requests_are_refused_with_the_limit_and_the_old_rules_stay() {
    let mut e = start(load_options(&tiny_moe())).expect("load");
    let mut ok = Interventions::default();
    ok.set_knockout(1, vec![0, 1, 2, 3, 4, 5]);
    set(&mut e, ok);
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|i| i.set_knockout(3, vec![0])), "layers 0..2"),
        (Box::new(|i| i.set_force(0, vec![1])), "layer 0 is dense"),
        (Box::new(|i| i.set_force(1, vec![8])), "experts are 0..7"),
        (Box::new(|i| i.set_force(2, vec![1, 2, 3])), "only k = 2"),
        (
            Box::new(|i| i.set_knockout(2, vec![0, 1, 2, 3, 4, 5, 6])),
            "only 1 of 8",
        ),
    ];
    for (make, want) in cases {
        let mut i = Interventions::default();
        make(&mut i);
        set(&mut e, i);
        let msg = refused(&mut e);
        assert!(msg.contains(want), "{msg:?} lacks {want:?}");
    }
    // The knock-out accepted first is still in force: only e6 and e7 remain at layer 1.
    let r = e.chat(1, vec![user("still knocked out?")], params(0.8, 1.0, 5), 6);
    for c in choices(std::slice::from_ref(&r), 1) {
        assert!(c.iter().all(|&x| x >= 6), "{c:?}");
    }
}

#[test]
fn a_dense_model_refuses_interventions() {
    let mut e = start(load_options(&tiny_dense())).expect("load");
    let mut i = Interventions::default();
    i.set_knockout(0, vec![0]);
    set(&mut e, i);
    let msg = refused(&mut e);
    assert!(msg.contains("no routed experts"), "{msg}");
}
