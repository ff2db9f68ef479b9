//! The experiments overlay's views at fixed sizes: the form, the runs in flight, the
//! results side by side, and the chart with the usage-difference heatmap.

use std::path::PathBuf;

use moe_tutor::app::overlay::experiments::{Phase, RunProgress};
use moe_tutor::app::overlay::experiments_form::Form;
use moe_tutor::app::overlay::Experiments;
use moe_tutor::app::views::experiments::render;
use moe_tutor::experiments::compare::Versus;
use moe_tutor::experiments::metrics::{RunMetrics, Usage};
use moe_tutor::experiments::{Grid, RunResult, RunSpec};
use moe_tutor::routing::Interventions;
use moe_tutor::transcript::StopReason;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn draw(e: &Experiments, runs: Result<usize, String>, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        let area = f.area();
        render(e, &runs, "en", area, f.buffer_mut())
    })
    .unwrap();
    t
}

fn text(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    (0..b.area.height)
        .map(|y| {
            (0..b.area.width)
                .map(|x| b[(x, y)].symbol())
                .collect::<String>()
                + "\n"
        })
        .collect()
}

fn grid() -> Grid {
    let mut g = Grid::new("Name three fruits.");
    g.temperature = vec![0.2, 1.0];
    g.seed = vec![1, 2];
    g
}

/// Four finished runs: T 0.2/1.0 x seed 1/2, the second temperature a knock-out set
/// against the first as baseline (for the heatmap).
fn results() -> Vec<RunResult> {
    let mut out = Vec::new();
    for (i, (t, seed)) in [(0.2, 1), (0.2, 2), (1.0, 1), (1.0, 2)]
        .into_iter()
        .enumerate()
    {
        let ko = i >= 2;
        let picks = if ko {
            vec![vec![0, 4, 2, 2], vec![3, 3, 2, 0]]
        } else {
            vec![vec![4, 2, 2, 0], vec![2, 2, 2, 2]]
        };
        out.push(RunResult {
            spec: RunSpec {
                id: format!("r{i:03}"),
                temperature: t,
                top_p: 0.9,
                seed,
                experts_used: 2,
                set: if ko { "ko".into() } else { "none".into() },
                interventions: Interventions::default(),
                baseline: ko.then(|| format!("r{:03}", i - 2)),
            },
            reply: format!("Apple, banana and cherry (run {i}). A second line of text to wrap."),
            reply_tokens: vec![1; 8],
            prompt_tokens: vec![2; 5],
            stop: StopReason::MaxTokens,
            metrics: RunMetrics {
                tokens: 8 + i,
                chars: 60,
                mean_entropy: 0.5 + i as f64 * 0.25,
                distinct_1: 0.8,
                distinct_2: 0.9 - i as f64 * 0.1,
                ..RunMetrics::default()
            },
            tokens_per_s: 120.0 + i as f64,
            wall_ms: 50.0,
            usage: Usage {
                layers: vec![1, 2],
                tokens: vec![4, 4],
                picks,
            },
            trace: format!("traces/r{i:03}.jsonl"),
            error: None,
            versus: Versus {
                kl_baseline: ko.then_some(0.125 * i as f64),
                ..Versus::default()
            },
        });
    }
    out
}

fn finished(chart: bool) -> Experiments {
    let mut e = Experiments::new(Form::from_grid(&grid()));
    e.phase = Phase::Results;
    e.results = results();
    e.dir = Some(PathBuf::from("/data/experiments/20261201-051200"));
    e.chart = chart;
    e
}

#[test]
fn form_100x24() {
    let mut e = Experiments::new(Form::from_grid(&grid()));
    e.form.values[5] = "ko: /knockout 1 3".into();
    e.form.focus = 5;
    let t = draw(&e, Ok(8), 100, 24);
    let s = text(&t);
    assert!(
        s.contains("runs: 8") && s.contains("ko: /knockout 1 3"),
        "{s}"
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn form_with_a_refusal_names_the_limit() {
    let e = Experiments::new(Form::from_grid(&grid()));
    let why = "intervention set \"ko\" at k = 2: layer 1: 3 experts forced but only k = 2 are chosen per token";
    let s = text(&draw(&e, Err(why.into()), 100, 24));
    assert!(s.contains("3 experts forced"), "{s}");
}

#[test]
fn running_100x16() {
    let mut e = Experiments::new(Form::from_grid(&grid()));
    e.phase = Phase::Running;
    e.progress = RunProgress {
        run: 3,
        total: 4,
        tokens: 16,
        max_tokens: 64,
        reloading: None,
    };
    e.dir = Some(PathBuf::from("/data/experiments/20261201-051200"));
    let t = draw(&e, Ok(4), 100, 16);
    let s = text(&t);
    // Two runs done and a quarter of the third: 56%.
    assert!(
        s.contains("run 3/4 · 16/64 tokens") && s.contains("56%"),
        "{s}"
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn results_side_by_side_120x30() {
    let t = draw(&finished(false), Ok(4), 120, 30);
    let s = text(&t);
    for id in ["r000", "r001", "r002", "r003"] {
        assert!(s.contains(id), "{id} missing:\n{s}");
    }
    // The four columns sit side by side: their ids share one row.
    let row = s.lines().find(|l| l.contains("r000")).unwrap();
    assert!(row.contains("r003"), "{row}");
    assert!(s.contains("KL 0.250") && s.contains("KL –"), "{s}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn results_scroll_by_column_when_narrow() {
    let mut e = finished(false);
    e.col = 3;
    let s = text(&draw(&e, Ok(4), 60, 24));
    assert!(s.contains("r003") && !s.contains("r000"), "{s}");
}

#[test]
fn chart_120x36() {
    let t = draw(&finished(true), Ok(4), 120, 36);
    let s = text(&t);
    assert!(s.contains("mean_entropy against temperature"), "{s}");
    assert!(s.contains("usage difference of set ko"), "{s}");
    // Layer 1 expert 0: baseline 4 of 4 tokens, knock-out 0: share -1, the deepest blue.
    let b = t.backend().buffer();
    let y = (0..b.area.height)
        .find(|&y| {
            (0..b.area.width)
                .map(|x| b[(x, y)].symbol())
                .collect::<String>()
                .contains("L1 ")
        })
        .unwrap();
    let x = (0..b.area.width)
        .find(|&x| b[(x, y)].symbol() == "L")
        .unwrap()
        + 6;
    assert_eq!(b[(x, y)].bg, ratatui::style::Color::Rgb(0, 0, 255));
    insta::assert_snapshot!(t.backend());
}

#[test]
fn measuring_says_what_it_waits_for() {
    let mut e = finished(false);
    e.phase = Phase::Measuring;
    let s = text(&draw(&e, Ok(4), 100, 16));
    assert!(s.contains("measuring teacher-forced KL"), "{s}");
    assert!(e.is_running(), "chat input still waits");
}
