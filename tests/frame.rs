//! A long reply streamed through the app's own engine-event path, drawn frame by frame
//! the way the TUI draws it (markdown rendered incrementally, wrapped rows kept between
//! frames, the pane resized now and then), shows exactly what a fresh app shows when the
//! same text arrives in one piece and is drawn once on a thread that has never drawn.

mod app_support;

use app_support::*;
use moe_tutor::app::{views, App};
use moe_tutor::engine::api::EngineEvent;
use moe_tutor::routing::Phase;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

/// A reply with what a model writes: headings, paragraphs, nested and numbered lists,
/// fenced code (one left open until its close arrives), a table, a quote, CJK and emoji.
fn reply() -> String {
    let sections = [
        "## Why experts specialise\n\nA router scores every **expert** for each token and keeps the top *k*; \
         the rest of the layer never runs. Over training, tokens that look alike reach the same experts, \
         so each one sees a narrower slice of the data.\n\n",
        "- routing is per token\n- and per layer\n  1. the first layers route by surface form\n  2. later ones by meaning\n\n",
        "```rust\nfn top_k(scores: &[f32], k: usize) -> Vec<usize> {\n    let mut idx: Vec<usize> = (0..scores.len()).collect();\n    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));\n    idx.truncate(k);\n    idx\n}\n```\n\n",
        "| layer | experts used |\n|---|---|\n| 0 | 4 |\n| 1 | 4 |\n\n",
        "> 专家混合模型（MoE）里，路由器为每个词元选择 k 个专家；其余专家不参与计算。\n> 这样参数多，但每个词元的计算量小。👍🏽\n\n",
        "### 小结\n\n路由器、专家、负载均衡：三者一起决定了模型的行为。Mixed 中文 and English text wraps by its own rules, \
         and `inline code` stays whole.\n\n",
    ];
    let mut out = String::new();
    for round in 0..7 {
        for s in sections {
            out.push_str(s);
        }
        out.push_str(&format!("Round {round} done.\n\n"));
    }
    out.push_str("```python\nprint(\"the last block stays open\")\n");
    out
}

const PROMPT: &str = "Why do experts specialise? 为什么专家会分工？";

/// An app with one finished exchange and a second reply streaming: the prompt sent and
/// read, nothing written yet. Returns the app, the generation and the next position.
fn started() -> (App, u64, u32) {
    let mut app = loaded(moe_info(16, 4, 6, 1));
    exchange(
        &mut app,
        None,
        "hello",
        "Hi! Ask me about **routing**.\n\n- one\n- two",
    );
    let generation = send(&mut app, PROMPT);
    let mut pos = app.context_used();
    let tokens = split_tokens(PROMPT)
        .iter()
        .map(|w| {
            pos += 1;
            token(Phase::Prompt, pos - 1, w, None, None)
        })
        .collect();
    app.on_engine_event(EngineEvent::Prompt { generation, tokens });
    (app, generation, pos)
}

fn write(app: &mut App, generation: u64, pos: u32, text: &str) {
    app.on_engine_event(EngineEvent::Token {
        generation,
        token: Box::new(token(Phase::Generated, pos, text, None, None)),
    });
}

fn pane(app: &App, area: Rect) -> Buffer {
    let mut buf = Buffer::empty(area);
    views::chat::render(app, area, &mut buf);
    buf
}

/// Every row of the transcript and the pane as drawn, for an app that got the first
/// `n` tokens' text as one token (and `n - 1` empty ones, so the header counts the same),
/// drawn once on a new thread (no rows kept from any earlier frame).
fn fresh(text: String, n: usize, area: Rect) -> (Vec<Line<'static>>, Buffer) {
    std::thread::spawn(move || {
        let (mut app, generation, mut pos) = started();
        write(&mut app, generation, pos, &text);
        for _ in 1..n {
            pos += 1;
            write(&mut app, generation, pos, "");
        }
        (views::chat::lines(&app, area.width), pane(&app, area))
    })
    .join()
    .expect("fresh render")
}

#[test]
fn a_streamed_reply_shows_what_a_fresh_full_render_shows() {
    let tokens = split_tokens(&reply());
    assert!(tokens.len() > 1500, "{} tokens", tokens.len());
    let (mut app, generation, mut pos) = started();
    let areas = [
        Rect::new(0, 0, 72, 30),
        Rect::new(0, 0, 41, 20),
        Rect::new(0, 0, 100, 44),
    ];
    let mut so_far = String::new();
    let mut checked = 0;
    for (i, t) in tokens.iter().enumerate() {
        write(&mut app, generation, pos, t);
        pos += 1;
        so_far.push_str(t);
        // The TUI draws on a frame clock: every few tokens, and at another size now and then.
        let area = areas[(i / 97) % areas.len()];
        let drawn = pane(&app, area);
        if i % 23 == 0 || i + 1 == tokens.len() {
            let (want_rows, want_pane) = fresh(so_far.clone(), i + 1, area);
            assert_eq!(
                views::chat::lines(&app, area.width),
                want_rows,
                "after token {i} ({t:?}) at width {}",
                area.width
            );
            assert_eq!(drawn, want_pane, "after token {i} at {area:?}");
            checked += 1;
        }
    }
    assert!(checked > 50);
    // The code block left open shows as code, and the reply is still streaming.
    let rows = views::chat::lines(&app, 100);
    let text: Vec<String> = rows
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    assert!(text.iter().any(|r| r.contains("┌─ python")), "{text:?}");
    assert!(text.iter().any(|r| r.contains("路由器为每个词元选择")));
    assert_eq!(text.iter().filter(|r| r.contains("┌─ rust")).count(), 7);
}

#[test]
fn a_resized_pane_mid_reply_matches_at_every_width() {
    let tokens = split_tokens(&reply());
    let (mut app, generation, mut pos) = started();
    let mut so_far = String::new();
    for (i, t) in tokens.iter().take(400).enumerate() {
        write(&mut app, generation, pos, t);
        pos += 1;
        so_far.push_str(t);
        // Draw at one width each token; the check below is at others.
        pane(&app, Rect::new(0, 0, 60, 24));
        if i % 100 == 99 {
            for w in [24u16, 60, 61, 133] {
                let area = Rect::new(0, 0, w, 24);
                let (want_rows, want_pane) = fresh(so_far.clone(), i + 1, area);
                assert_eq!(
                    views::chat::lines(&app, w),
                    want_rows,
                    "token {i} width {w}"
                );
                assert_eq!(pane(&app, area), want_pane, "token {i} width {w}");
            }
        }
    }
}
