//! The experiment driver on a real engine (tiny model): one reload per change of k,
//! teacher-forced KL for a k change and under interventions, cancelling keeps the finished
//! runs, and a set the engine refuses fails that run only.

mod common;

use std::sync::atomic::AtomicBool;

use moe_tutor::experiments::grid::InterventionSet;
use moe_tutor::experiments::run::run_blocking;
use moe_tutor::experiments::{plan, teacher, Driver, Grid, ModelShape};
use moe_tutor::routing::Interventions;

fn grid() -> Grid {
    let mut g = Grid::new("Hello router");
    g.max_tokens = 6;
    g.seed = vec![1, 2];
    g.experts_used = vec![2, 3];
    let mut ko = InterventionSet {
        name: "ko".into(),
        rules: Default::default(),
    };
    ko.rules.insert("knockout".into(), vec!["1:3".into()]);
    g.interventions = vec![
        InterventionSet {
            name: "none".into(),
            rules: Default::default(),
        },
        ko,
    ];
    g
}

#[test]
fn one_reload_per_k_and_kl_for_the_k_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut load = common::load_options(&common::tiny_moe());
    load.threads = 1;
    let mut lines = Vec::new();
    let o = run_blocking(
        &grid(),
        &load,
        dir.path(),
        &AtomicBool::new(false),
        &mut |l| lines.push(l.to_string()),
    )
    .unwrap();
    assert_eq!(o.results.len(), 8);
    let reloads = lines
        .iter()
        .filter(|l| l.starts_with("loading the model"))
        .count();
    assert_eq!(reloads, 1, "{lines:?}");
    for r in &o.results {
        match (r.spec.set.as_str(), r.spec.experts_used) {
            ("none", 2) => assert!(r.spec.baseline.is_none() && r.versus.kl_baseline.is_none()),
            ("none", 3) => {
                let kl = r.versus.kl_baseline.unwrap();
                assert!(kl.is_finite() && kl > 0.0, "k 3 vs k 2: {kl}");
            }
            (_, _) => assert!(r.versus.kl_baseline.is_some() && r.versus.js_baseline.is_some()),
        }
    }
}

#[test]
fn cancelling_keeps_the_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = grid();
    g.experts_used = vec![2];
    g.max_tokens = 40;
    let mut e = common::start(common::load_options(&common::tiny_moe())).unwrap();
    let plan = plan(&g, &ModelShape::of(&e.info)).unwrap();
    assert_eq!(plan.runs.len(), 4);
    let mut d = Driver::new(plan, dir.path(), &e.info, 100).unwrap();
    let mut seen = Vec::new();
    for c in d.start(&mut |p| seen.push(p)) {
        e.handle.send(c);
    }
    let mut cancelled = false;
    while !d.is_done() {
        let ev = common::recv(&mut e.rx);
        for c in d.on_event(&ev, &mut |p| seen.push(p)) {
            e.handle.send(c);
        }
        // Cancel during the second run, after its second token.
        let second_run = seen.iter().any(|p| {
            matches!(
                p,
                moe_tutor::experiments::Progress::Tokens {
                    index: 1,
                    tokens: 2
                }
            )
        });
        if second_run && !cancelled {
            cancelled = true;
            for c in d.cancel() {
                e.handle.send(c);
            }
        }
    }
    assert!(d.was_cancelled());
    assert_eq!(
        d.results.len(),
        1,
        "the finished run is kept, the cancelled one is not"
    );
    assert_eq!(d.results[0].spec.id, "r000");
    assert!(dir.path().join("traces/r000.jsonl").exists());
    assert!(!dir.path().join("traces/r001.jsonl").exists());
}

/// Drive `plan` on a fresh engine of the tiny model to the end.
fn drive(plan: moe_tutor::experiments::Plan, dir: &std::path::Path) -> Driver {
    let mut e = common::start(common::load_options(&common::tiny_moe())).unwrap();
    let mut d = Driver::new(plan, dir, &e.info, 1).unwrap();
    for c in d.start(&mut |_| {}) {
        e.handle.send(c);
    }
    while !d.is_done() {
        let ev = common::recv(&mut e.rx);
        for c in d.on_event(&ev, &mut |_| {}) {
            e.handle.send(c);
        }
    }
    d
}

#[test]
fn interventions_the_engine_refuses_fail_that_run_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Grid::new("Hello router");
    g.max_tokens = 4;
    g.seed = vec![1, 2, 3];
    let shape = ModelShape::of(
        &common::start(common::load_options(&common::tiny_moe()))
            .unwrap()
            .info,
    );
    let mut p = plan(&g, &shape).unwrap();
    // The engine is the last judge (it alone knows the model's gating): hand it a set the
    // plan would have refused, three experts forced where k = 2.
    p.runs[1].interventions.set_force(2, vec![1, 2, 3]);
    let d = drive(p, dir.path());
    assert!(d.fatal.is_none(), "{:?}", d.fatal);
    assert_eq!(d.results.len(), 3, "the other runs go on");
    let failed = &d.results[1];
    let err = failed.error.as_deref().expect("marked failed");
    assert!(
        err.contains("interventions refused") && err.contains("only k = 2"),
        "{err}"
    );
    assert!(
        failed.reply_tokens.is_empty(),
        "nothing kept from a refused run"
    );
    for r in [&d.results[0], &d.results[2]] {
        assert!(r.error.is_none() && !r.reply_tokens.is_empty(), "{r:?}");
    }
    // The run after the refused one ran without interventions: it matches a clean run.
    let mut alone = plan(&g, &shape).unwrap();
    alone.runs.truncate(3);
    let clean = drive(alone, tempfile::tempdir().unwrap().path());
    assert_eq!(clean.results[2].reply_tokens, d.results[2].reply_tokens);
}

#[test]
fn kl_under_interventions_scores_the_run_s_own_tokens_faithfully() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = grid();
    g.experts_used = vec![];
    g.interventions[1]
        .rules
        .insert("knockout".into(), vec!["1:3".into(), "all:5".into()]);
    let mut load = common::load_options(&common::tiny_moe());
    load.threads = 1;
    let o = run_blocking(&g, &load, dir.path(), &AtomicBool::new(false), &mut |_| {}).unwrap();
    let shape = ModelShape::of(&o.model);
    let mut positive = 0;
    for r in o.results.iter().filter(|r| r.spec.set == "ko") {
        let kl = r
            .versus
            .kl_baseline
            .expect("KL measured under interventions");
        assert!(kl.is_finite() && kl >= 0.0, "{kl}");
        positive += usize::from(kl > 1e-6);
        let base = o
            .results
            .iter()
            .find(|b| Some(&b.spec.id) == r.spec.baseline.as_ref())
            .unwrap();
        // The same comparison again, position by position: the run's state, interventions
        // applied, gives each reply token the probability the run drew it with.
        let per = teacher::per_token(
            &load,
            &shape,
            (base.spec.experts_used, &base.spec.interventions),
            (r.spec.experts_used, &r.spec.interventions),
            &r.prompt_tokens,
            &r.reply_tokens,
        )
        .unwrap();
        assert_eq!(per.len(), r.reply_tokens.len());
        let n = per.len() as f64;
        let mean_kl = per.iter().map(|x| x.0).sum::<f64>() / n;
        assert!((mean_kl - kl).abs() < 1e-9, "{mean_kl} vs {kl}");
        let p_run = per.iter().map(|x| x.1).sum::<f64>() / n;
        let drawn = r.metrics.mean_sampled_p_raw;
        assert!(
            (p_run - drawn).abs() < 2e-3,
            "scored {p_run}, drawn {drawn}"
        );
        // Without the interventions the same tokens read differently.
        let none = Interventions::default();
        let plain = teacher::per_token(
            &load,
            &shape,
            (2, &none),
            (2, &none),
            &r.prompt_tokens,
            &r.reply_tokens,
        )
        .unwrap();
        assert!(plain.iter().all(|x| x.0 < 1e-9), "one state against itself");
    }
    assert!(positive > 0, "a knock-out moves the distributions");
}
