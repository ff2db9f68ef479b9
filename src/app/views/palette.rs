//! Colours and glyphs that carry meaning: one colour per expert id, a cool-to-hot scale
//! for router entropy, and shade glyphs for probabilities.

use ratatui::style::{Color, Modifier, Style};

pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const TITLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
pub const CHOSEN: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub const ERROR: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
/// An expert knocked out of selection with `/knockout`.
pub const KNOCKED: Style = Style::new().fg(Color::Red);
/// An expert forced into the choice with `/force`.
pub const FORCED: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub const INFO: Style = Style::new().fg(Color::Yellow);

fn hsv(h: f32, s: f32, v: f32) -> Color {
    let h = h.rem_euclid(1.0) * 6.0;
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    let byte = |f: f32| ((f + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Color::Rgb(byte(r), byte(g), byte(b))
}

/// A distinct colour per expert id (golden-ratio hue steps: neighbours differ most).
pub fn expert_color(expert: u16) -> Color {
    let h = (expert as f32 * 0.618_034).fract();
    let v = if expert.is_multiple_of(2) { 0.95 } else { 0.75 };
    hsv(h, 0.6, v)
}

/// Router entropy (0 = confident, 1 = uniform) on a blue -> yellow -> red scale.
pub fn entropy_color(normalized: f32) -> Color {
    let t = if normalized.is_finite() {
        normalized.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let stops = [
        (60.0, 110.0, 230.0),
        (235.0, 205.0, 60.0),
        (225.0, 50.0, 40.0),
    ];
    let (a, b, u) = if t < 0.5 {
        (stops[0], stops[1], t * 2.0)
    } else {
        (stops[1], stops[2], t * 2.0 - 1.0)
    };
    let mix = |x: f32, y: f32| (x + (y - x) * u).round() as u8;
    Color::Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Text on a coloured background: black reads on all of the palette's light colours.
pub fn on(bg: Color) -> Style {
    Style::new().bg(bg).fg(Color::Black)
}

/// A glyph for a probability: blank, dot, then light to full shade.
pub fn shade(p: f32) -> char {
    match p {
        p if p >= 0.6 => '█',
        p if p >= 0.35 => '▓',
        p if p >= 0.15 => '▒',
        p if p >= 0.05 => '░',
        p if p >= 0.005 => '·',
        _ => ' ',
    }
}

/// Foreground for a probability shade: brighter for more mass.
pub fn shade_style(p: f32) -> Style {
    let t = p.clamp(0.0, 1.0).sqrt();
    let v = (110.0 + 145.0 * t) as u8;
    Style::new().fg(Color::Rgb(v / 2, v, v))
}

/// A horizontal bar of `width` cells for a value in [0, 1], in eighths.
pub fn bar(value: f32, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let v = if value.is_finite() {
        value.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (v * width as f32 * 8.0).round() as usize;
    let mut s: String = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) && s.chars().count() < width {
        s.push(PARTS[eighths % 8]);
    }
    let len = s.chars().count();
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_experts_get_different_colours() {
        for e in 0..64 {
            assert_ne!(expert_color(e), expert_color(e + 1));
        }
    }

    #[test]
    fn bars_fill_in_eighths() {
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.0, 3), "   ");
        assert_eq!(bar(0.5, 3), "█▌ ");
        assert_eq!(bar(f32::NAN, 2), "  ");
    }

    #[test]
    fn entropy_scale_runs_cool_to_hot() {
        assert_eq!(entropy_color(0.0), Color::Rgb(60, 110, 230));
        assert_eq!(entropy_color(1.0), Color::Rgb(225, 50, 40));
    }
}
