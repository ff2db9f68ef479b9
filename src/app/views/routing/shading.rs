//! How the routing heatmap shades a cell: by the router's probability, by its probability
//! relative to the even share 1/E, or by its rank in the layer. A nearly flat router
//! (every probability close to 1/E) shades every cell alike by probability; the other two
//! modes show what it decided. [`crate::app::Shading::auto`] picks one per model.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use crate::app::views::palette::{shade, shade_style, CHOSEN, DIM};
use crate::app::{Shading, ShadingChoice};
use crate::i18n::{tr, tr_with};
use crate::routing::dequantize_prob;

/// A glyph for a probability relative to the even share (`ratio` = p x E).
pub(super) fn even_shade(ratio: f32) -> char {
    match ratio {
        r if r >= 2.0 => '█',
        r if r >= 1.5 => '▓',
        r if r >= 1.15 => '▒',
        r if r >= 0.85 => '░',
        r if r >= 0.5 => '·',
        _ => ' ',
    }
}

/// A glyph for a rank among `n` experts (0 = the router's top score): quarters of the
/// layer, darkest first.
pub(super) fn rank_shade(rank: usize, n: usize) -> char {
    match 4 * rank / n.max(1) {
        0 => '█',
        1 => '▓',
        2 => '▒',
        _ => '░',
    }
}

/// One layer's scores, read once per row.
pub(super) struct LayerScores {
    probs: Vec<f32>,
}

impl LayerScores {
    /// From a layer's quantised probabilities (empty for a compacted record).
    pub(super) fn new(quantised: &[u8]) -> LayerScores {
        LayerScores {
            probs: quantised.iter().map(|&q| dequantize_prob(q)).collect(),
        }
    }

    /// Experts with a strictly higher score than `e`: tied experts share a rank, so a
    /// flat router's ties are not dressed up as an order.
    fn rank(&self, e: usize) -> Option<usize> {
        let p = *self.probs.get(e)?;
        Some(self.probs.iter().filter(|&&q| q > p).count())
    }

    /// Glyph and style of the column holding `experts` (the strongest of them), blank
    /// when the record has no probabilities.
    pub(super) fn cell(&self, mode: Shading, experts: std::ops::Range<usize>) -> (char, Style) {
        let n = self.probs.len();
        let p = experts
            .clone()
            .filter_map(|e| self.probs.get(e))
            .copied()
            .fold(0.0f32, f32::max);
        if n == 0 {
            return (' ', shade_style(0.0));
        }
        match mode {
            Shading::Probability => (shade(p), shade_style(p)),
            Shading::EvenShare => {
                let ratio = p * n as f32;
                (even_shade(ratio), shade_style((ratio / 2.0).min(1.0)))
            }
            Shading::Rank => {
                let rank = experts
                    .filter_map(|e| self.rank(e))
                    .min()
                    .unwrap_or(n.saturating_sub(1));
                let t = 1.0 - rank as f32 / n as f32;
                (rank_shade(rank, n), shade_style(t * t))
            }
        }
    }
}

/// The legend line: what is shaded (`what`: probability or preference), the scale, the
/// mode's key, and why an automatic choice was made.
pub(super) fn legend(
    what: String,
    choice: ShadingChoice,
    key: &str,
    lang: &str,
) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let scale = match choice.mode {
        Shading::Probability => tr("routing.shade_probability", lang),
        Shading::EvenShare => tr("routing.shade_even_share", lang),
        Shading::Rank => tr("routing.shade_rank", lang),
    };
    let first = Line::from(vec![
        Span::styled(what, bold),
        Span::styled(scale, DIM),
        Span::styled("  ◆", CHOSEN),
        Span::styled(tr("routing.chosen", lang), DIM),
    ]);
    let why = if choice.auto {
        tr_with(
            "routing.shade_auto",
            lang,
            &[
                ("ratio", &format!("{:.2}", choice.max_ratio)),
                ("key", &key),
            ],
        )
    } else {
        tr_with("routing.shade_picked", lang, &[("key", &key)])
    };
    vec![first, Line::styled(why, DIM)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_a_rank_and_quarters_shade_by_rank() {
        let s = LayerScores {
            probs: vec![0.1, 0.3, 0.1, 0.5],
        };
        assert_eq!(s.rank(3), Some(0));
        assert_eq!(s.rank(1), Some(1));
        assert_eq!(s.rank(0), Some(2));
        assert_eq!(s.rank(2), Some(2));
        assert_eq!(s.cell(Shading::Rank, 3..4).0, '█');
        assert_eq!(s.cell(Shading::Rank, 0..1).0, '▒');
        // A column of two experts shows the stronger.
        assert_eq!(s.cell(Shading::Rank, 0..2).0, '▓');
    }

    #[test]
    fn even_share_is_relative_to_one_over_e() {
        // 16 experts: 1/16 is even; 0.07 is 1.12x (still about even), 0.13 is 2.08x.
        let mut probs = vec![0.06f32; 16];
        probs[0] = 0.07;
        probs[1] = 0.13;
        let s = LayerScores { probs };
        assert_eq!(s.cell(Shading::EvenShare, 2..3).0, '░');
        assert_eq!(s.cell(Shading::EvenShare, 0..1).0, '░');
        assert_eq!(s.cell(Shading::EvenShare, 1..2).0, '█');
        // By probability all of them are the same faint shade.
        assert_eq!(s.cell(Shading::Probability, 0..1).0, '░');
        assert_eq!(s.cell(Shading::Probability, 2..3).0, '░');
    }

    #[test]
    fn the_rule_picks_by_how_far_the_top_is_from_even() {
        assert_eq!(Shading::auto(0.066, 16), Shading::Rank);
        assert_eq!(Shading::auto(0.1, 16), Shading::EvenShare);
        assert_eq!(Shading::auto(0.4, 16), Shading::Probability);
    }
}
