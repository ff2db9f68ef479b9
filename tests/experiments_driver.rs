//! The experiment driver on a real engine (tiny model): one reload per change of k,
//! teacher-forced KL for a k change, and cancelling keeps the finished runs.

mod common;

use std::sync::atomic::AtomicBool;

use moe_tutor::experiments::grid::InterventionSet;
use moe_tutor::experiments::run::run_blocking;
use moe_tutor::experiments::{plan, Driver, Grid, ModelShape};

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
            (_, _) => assert!(r.versus.kl_note.is_some() && r.versus.js_baseline.is_some()),
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
