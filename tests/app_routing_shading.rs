//! The routing heatmap's shading modes: a nearly flat router (like the default model's)
//! is shaded by rank or relative to the even share so its decisions show; a peaked one by
//! probability; the key cycles the modes and the legend names the one in use.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::{App, Shading};
use moe_tutor::engine::api::EngineEvent;
use moe_tutor::routing::{Phase, TokenRouting};

/// 16 experts, top 4, 6 layers (layer 0 dense). One generated token whose every layer
/// gives the experts `(slot + j) % 16` of quarter `j / 4` a weight `quarters[j / 4]`
/// (normalised): with weights near 1 every probability is close to 1/16.
fn one_token(quarters: [f32; 4]) -> App {
    let info = moe_info(16, 4, 6, 1);
    let mut app = loaded(info);
    let g = send(&mut app, "Hi");
    let mut r = TokenRouting::new(16, 4, (1..6).collect());
    for slot in 0..5 {
        let mut probs = vec![0.0f32; 16];
        for j in 0..16 {
            probs[(slot + j) % 16] = quarters[j / 4];
        }
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
        let experts: Vec<u16> = (0..4).map(|j| ((slot + j) % 16) as u16).collect();
        let weights: Vec<f32> = experts.iter().map(|&e| probs[e as usize]).collect();
        r.set_layer(slot, &experts, &weights, &probs);
    }
    let t = token(Phase::Generated, 9, "Yo", Some(r), Some(step("Yo")));
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: Box::new(t),
    });
    press(&mut app, KeyCode::F(2)); // routing gets the chat's place at 80 columns
    app
}

/// The heatmap row of model layer `layer`: its cells, label stripped.
fn cells(app: &App, layer: u32) -> String {
    let term = draw(app, 80, 24);
    let row = rows(&term)
        .into_iter()
        .find(|r| r.contains(&format!("L{layer} ")))
        .unwrap_or_else(|| panic!("no row for L{layer}"));
    let at = row.find(&format!("L{layer} ")).unwrap() + 3;
    row[at..].chars().take(32).collect()
}

#[test]
fn a_flat_router_is_shaded_by_rank() {
    // Top experts 1.15x the even share: nearly flat.
    const FLAT: [f32; 4] = [1.15, 1.05, 0.95, 0.85];
    let app = one_token(FLAT);
    let term = draw(&app, 80, 24);
    assert!(
        screen_contains(&term, "rank in the layer"),
        "{:#?}",
        rows(&term)
    );
    assert!(screen_contains(&term, "auto: top p×E 1.1"));
    // Layer 1 (slot 0): experts 0..3 chosen (◆); 4..7 are the second quarter (▓),
    // 8..11 the third (▒), 12..15 the last (░).
    let row = cells(&app, 1);
    let glyphs: Vec<char> = row.chars().step_by(2).collect();
    assert_eq!(glyphs.len(), 16, "{row}");
    assert!(glyphs[..4].iter().all(|&g| g == '█'), "{row}");
    assert!(glyphs[4..8].iter().all(|&g| g == '▓'), "{row}");
    assert!(glyphs[8..12].iter().all(|&g| g == '▒'), "{row}");
    assert!(glyphs[12..].iter().all(|&g| g == '░'), "{row}");
    // Shaded by probability the same row is one shade throughout: nothing to read.
    let mut app = app;
    alt(&mut app, KeyCode::Char('s')); // rank -> probability
    let term = draw(&app, 80, 24);
    assert!(screen_contains(&term, "picked with Alt+S"));
    let row = cells(&app, 1);
    let glyphs: std::collections::BTreeSet<char> = row.chars().step_by(2).collect();
    assert_eq!(glyphs.len(), 1, "{row}");
    insta::assert_snapshot!(
        "flat_router_by_rank_80x24",
        draw(&one_token(FLAT), 80, 24).backend()
    );
}

#[test]
fn a_moderate_router_is_shaded_against_the_even_share() {
    // Top experts 2.2x the even share.
    let app = one_token([2.2, 1.2, 0.4, 0.2]);
    let term = draw(&app, 80, 24);
    assert!(
        screen_contains(&term, "× E (1 = even share 1/E)"),
        "{:#?}",
        rows(&term)
    );
    let row = cells(&app, 1);
    let glyphs: Vec<char> = row.chars().step_by(2).collect();
    // The strongest expert is at 2x+ of even, the weakest below half of it.
    assert!(glyphs[..4].iter().all(|&g| g == '█'), "{row}");
    assert!(glyphs[4..8].iter().all(|&g| g == '▒'), "{row}");
    assert!(glyphs[8..].iter().all(|&g| g == ' '), "{row}");
    insta::assert_snapshot!("moderate_router_even_share_80x24", term.backend());
}

#[test]
fn a_peaked_router_is_shaded_by_probability() {
    // Top experts 3.3x the even share.
    let app = one_token([20.0, 2.0, 1.0, 1.0]);
    let term = draw(&app, 80, 24);
    assert!(
        screen_contains(&term, "shade ·░▒▓█ = p"),
        "{:#?}",
        rows(&term)
    );
    insta::assert_snapshot!("peaked_router_by_probability_80x24", term.backend());
}

#[test]
fn the_key_cycles_the_three_modes_and_help_lists_it() {
    let mut app = one_token([1.15, 1.05, 0.95, 0.85]);
    assert_eq!(app.layout().shading(), None);
    let mut seen = Vec::new();
    for _ in 0..3 {
        alt(&mut app, KeyCode::Char('s'));
        seen.push(app.layout().shading());
    }
    assert_eq!(
        seen,
        [
            Some(Shading::Probability),
            Some(Shading::EvenShare),
            Some(Shading::Rank)
        ]
    );
    press(&mut app, KeyCode::F(1));
    let term = draw(&app, 160, 48);
    assert!(screen_contains(&term, "Alt+S"));
    assert!(screen_contains(&term, "routing shading"));
}

#[test]
fn chinese_legend() {
    let mut app = one_token([1.15, 1.05, 0.95, 0.85]);
    press(&mut app, KeyCode::F(10));
    let term = draw(&app, 100, 30);
    // Wide characters leave a blank cell behind them.
    let text: Vec<String> = rows(&term).iter().map(|r| r.replace(' ', "")).collect();
    assert!(
        text.iter().any(|r| r.contains("路由概率层内排名")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|r| r.contains("自动：最大p×E1.14")),
        "{text:#?}"
    );
}

/// The default model's shape: 16 routed experts of 64 neurons, one shared FFN of 512
/// (the GGUF's `expert_shared_count` 8: eight experts' width, one FFN).
fn default_shaped() -> App {
    let mut info = moe_info(16, 4, 6, 1);
    info.n_expert_shared = 8;
    info.n_ff_exp = 64;
    info.n_ff_shexp = 512;
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(&mut app, shape.as_ref(), "Hi", "Hello there");
    press(&mut app, KeyCode::F(2));
    app
}

#[test]
fn the_header_counts_one_shared_expert_eight_wide() {
    let mut app = default_shaped();
    let term = draw(&app, 80, 24);
    assert!(
        screen_contains(&term, "+1 shared expert, 8× as wide"),
        "{:#?}",
        rows(&term)
    );
    assert!(screen_contains(
        &term,
        "as wide as 8 routed ones, always on"
    ));
    assert!(!screen_contains(&term, "8 shared"));
    // The status bar counts it as one too.
    assert!(screen_contains(&term, "MoE 16×4+1 "), "{:#?}", rows(&term));
    assert!(!screen_contains(&term, "16×4+8"));
    press(&mut app, KeyCode::F(10));
    let text: Vec<String> = rows(&draw(&app, 100, 30))
        .iter()
        .map(|r| r.replace(' ', ""))
        .collect();
    assert!(
        text.iter().any(|r| r.contains("+1个共享专家（宽8倍）")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|r| r.contains("宽度等于8个路由专家")),
        "{text:#?}"
    );
}

#[test]
fn a_shared_expert_as_wide_as_a_routed_one_is_just_one() {
    let mut info = moe_info(8, 2, 3, 1);
    info.n_ff_exp = 32;
    info.n_ff_shexp = 32;
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(&mut app, shape.as_ref(), "Hi", "Hello");
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 80, 24);
    assert!(
        screen_contains(&term, "+1 shared expert"),
        "{:#?}",
        rows(&term)
    );
    assert!(!screen_contains(&term, "× as wide"));
    assert!(screen_contains(&term, "as wide as a routed one"));
}

/// The cell cursor (Shift+→) is drawn reversed on the marked layer's row, at its expert,
/// and the footer names the cell and its keys.
#[test]
fn the_cell_cursor_is_highlighted() {
    use moe_tutor::app::Action;
    use ratatui::style::Modifier;
    let mut app = one_token([1.15, 1.05, 0.95, 0.85]);
    for _ in 0..3 {
        app.update(Action::CellRight);
    }
    assert_eq!(app.routing_cell(), Some((1, 2)));
    let term = draw(&app, 80, 24);
    assert!(screen_contains(
        &term,
        "L1 e2: Alt+K out Alt+F force Alt+C clear"
    ));
    let buf = term.backend().buffer();
    let y = (0..buf.area.height)
        .find(|&y| rows(&term)[y as usize].contains("▶L1 "))
        .expect("L1 row");
    // Border, "▶L1 ", then two cells per expert.
    let reversed: Vec<u16> = (0..buf.area.width)
        .filter(|&x| buf[(x, y)].modifier.contains(Modifier::REVERSED))
        .collect();
    assert_eq!(
        reversed,
        [5 + 2 * 2, 5 + 2 * 2 + 1],
        "{:?}",
        rows(&term)[y as usize]
    );
    // No other layer row has it.
    let text = rows(&term);
    for other in (0..buf.area.height).filter(|&r| r != y) {
        if (2..6).any(|l| text[other as usize].contains(&format!(" L{l} "))) {
            assert!(
                (0..buf.area.width).all(|x| !buf[(x, other)].modifier.contains(Modifier::REVERSED)),
                "{}",
                text[other as usize]
            );
        }
    }
    insta::assert_snapshot!("cell_cursor_80x24", term.backend());
}
