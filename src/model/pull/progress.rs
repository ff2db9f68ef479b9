//! Bytes, rate and time left of a transfer, and the one-line bar `model pull` redraws on
//! stderr.

use std::time::Instant;

use crate::i18n::tr_with;

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    /// Bytes per second over this transfer (resumed bytes not counted).
    pub rate: f64,
}

impl Progress {
    /// Seconds left at the current rate; None before a rate is known.
    pub fn eta_secs(&self) -> Option<u64> {
        (self.rate > 1.0).then(|| (self.total.saturating_sub(self.done) as f64 / self.rate) as u64)
    }

    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }

    /// `12.0 MiB / 800 MiB · 4.5 MiB/s · 2m 58s left` in `lang`.
    pub fn line(&self, lang: &str) -> String {
        let eta = self.eta_secs().map_or_else(|| "?".to_string(), duration);
        tr_with(
            "pull.progress",
            lang,
            &[
                ("done", &human_bytes(self.done)),
                ("total", &human_bytes(self.total)),
                ("rate", &format!("{}/s", human_bytes(self.rate as u64))),
                ("eta", &eta),
            ],
        )
    }
}

pub(super) struct RateMeter {
    start: Instant,
    from: u64,
    total: u64,
}

impl RateMeter {
    pub fn new(from: u64, total: u64) -> Self {
        RateMeter {
            start: Instant::now(),
            from,
            total,
        }
    }

    pub fn update(&mut self, done: u64) -> Progress {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        Progress {
            done,
            total: self.total,
            rate: done.saturating_sub(self.from) as f64 / secs,
        }
    }
}

fn duration(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `1.5 GiB`, `820 MiB`, `12 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A text bar of `width` cells: `[#####.....]`.
pub struct ProgressBar {
    pub width: usize,
}

impl ProgressBar {
    pub fn render(&self, p: &Progress, lang: &str) -> String {
        let filled = ((p.fraction() * self.width as f64).round() as usize).min(self.width);
        format!(
            "[{}{}] {:>3}% {}",
            "#".repeat(filled),
            ".".repeat(self.width - filled),
            (p.fraction() * 100.0).floor() as u64,
            p.line(lang)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_rates_and_bar() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(859_000_000), "819 MiB");
        let p = Progress {
            done: 512 * 1024,
            total: 1024 * 1024,
            rate: 1024.0 * 64.0,
        };
        assert_eq!(p.eta_secs(), Some(8));
        let bar = ProgressBar { width: 10 }.render(&p, "en");
        assert!(
            bar.starts_with("[#####.....]  50% 512 KiB / 1.0 MiB"),
            "{bar}"
        );
        assert!(bar.contains("64.0 KiB/s") && bar.contains("8s"), "{bar}");
    }
}
