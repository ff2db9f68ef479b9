//! How a [`BenchReport`] prints: the human-readable table and the machine-readable last
//! line.

use std::fmt;

use super::BenchReport;

impl BenchReport {
    /// The human-readable table printed before the last line.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let depth = self
            .capture_off
            .prompt_tokens
            .max(self.capture_on.prompt_tokens);
        let row = |s: &mut String, name: &str, pp: f64, tg: f64, deep: f64| {
            s.push_str(&format!("{name:<22} {pp:>10.1} {tg:>10.1} {deep:>14.1}\n"));
        };
        s.push_str(&format!(
            "{:<22} {:>10} {:>10} {:>14}\n",
            "tokens/s (best of runs)",
            format!("pp{depth}"),
            format!("tg{}", self.capture_on.gen_tokens),
            format!("tg after pp{depth}")
        ));
        for (name, sp) in [
            ("engine, capture off", &self.capture_off),
            ("engine, capture on", &self.capture_on),
        ] {
            row(
                &mut s,
                name,
                sp.prompt_tps,
                sp.decode_tps,
                sp.decode_deep_tps,
            );
        }
        match &self.peer {
            Some(p) => row(&mut s, "llama-bench", p.pp_tps, p.tg_tps, p.tg_deep_tps),
            None => s.push_str("llama-bench            skipped\n"),
        }
        let on = &self.capture_on;
        s.push_str(&format!(
            "per generated token, capture on: {:.3} ms = llama.cpp decode {:.3} + sampling {:.3} + engine {:.3}\n",
            on.ms_per_token,
            on.llama_ms_per_token,
            on.sample_ms_per_token,
            on.engine_ms_per_token()
        ));
        s.push_str(&format!(
            "routing record, 48 layers x 128 experts, k 8: {} bytes per token\n",
            self.routing_bytes_per_token
        ));
        s.push_str(&format!(
            "render at 160x48 (median of {} frames): routing heatmap {:.2} ms, whole frame {:.2} ms, expert-load view {:.2} ms\n",
            self.render.frames, self.render.heatmap_ms, self.render.frame_ms, self.render.load_ms
        ));
        let r = &self.reply;
        s.push_str(&format!(
            "reply frame, one more token (markdown + draw, median): at 200 tokens {:.3} ms, at 4,000 tokens {:.3} ms ({:.2}x; rendering the whole reply again: {:.3} ms)\n",
            r.at_200_ms,
            r.at_4000_ms,
            r.ratio(),
            r.full_4000_ms
        ));
        s.push_str(&format!(
            "whole frame with a 200- / 4,000-token reply on screen: {:.2} / {:.2} ms\n",
            r.view_200_ms, r.view_4000_ms
        ));
        s.push_str(&format!(
            "peak RSS after routing records of {} tokens (48 x 128): {:.0} MB (before: {:.0} MB)\n",
            self.records.tokens, self.records.peak_mb, self.records.before_mb
        ));
        s.push_str(&format!(
            "key press to next frame while streaming: median {:.1} ms, p95 {:.1} ms ({} presses)\n",
            self.key_to_frame_ms, self.key_to_frame_p95_ms, self.keys_timed
        ));
        s
    }
}

struct Opt(Option<f64>, usize);

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) if v.is_finite() => write!(f, "{v:.*}", self.1),
            _ => f.write_str("na"),
        }
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peer = self.peer.as_ref();
        write!(
            f,
            "capture_on_vs_off={} capture_on_vs_llama_bench={} capture_off_vs_llama_bench={} \
             capture_on_vs_llama_bench_deep={} \
             prompt_on_vs_off={} prompt_off_vs_llama_bench={} \
             decode_off_tps={:.1} decode_on_tps={:.1} llama_bench_tg_tps={} \
             decode_on_deep_tps={:.1} llama_bench_tg_deep_tps={} depth={} \
             prompt_off_tps={:.1} prompt_on_tps={:.1} llama_bench_pp_tps={} \
             token_ms={:.3} token_llama_ms={:.3} token_sample_ms={:.3} token_engine_ms={:.3} \
             heatmap_ms={:.3} frame_ms={:.3} load_view_ms={:.3} routing_bytes_per_token={} \
             key_to_frame_ms={:.1} key_to_frame_p95_ms={:.1} \
             reply_frame_200_ms={:.3} reply_frame_4000_ms={:.3} reply_frame_ratio={:.2} \
             reply_frame_full_4000_ms={:.3} view_reply_200_ms={:.3} view_reply_4000_ms={:.3} \
             rss_before_records_mb={:.0} rss_peak_records_mb={:.0} record_tokens={}",
            Opt(self.decode_on_vs_off(), 3),
            Opt(self.decode_on_vs_peer(), 3),
            Opt(self.decode_off_vs_peer(), 3),
            Opt(self.decode_deep_on_vs_peer(), 3),
            Opt(self.prompt_on_vs_off(), 3),
            Opt(self.prompt_off_vs_peer(), 3),
            self.capture_off.decode_tps,
            self.capture_on.decode_tps,
            Opt(peer.map(|p| p.tg_tps), 1),
            self.capture_on.decode_deep_tps,
            Opt(peer.map(|p| p.tg_deep_tps), 1),
            self.capture_off
                .prompt_tokens
                .max(self.capture_on.prompt_tokens),
            self.capture_off.prompt_tps,
            self.capture_on.prompt_tps,
            Opt(peer.map(|p| p.pp_tps), 1),
            self.capture_on.ms_per_token,
            self.capture_on.llama_ms_per_token,
            self.capture_on.sample_ms_per_token,
            self.capture_on.engine_ms_per_token(),
            self.render.heatmap_ms,
            self.render.frame_ms,
            self.render.load_ms,
            self.routing_bytes_per_token,
            self.key_to_frame_ms,
            self.key_to_frame_p95_ms,
            self.reply.at_200_ms,
            self.reply.at_4000_ms,
            self.reply.ratio(),
            self.reply.full_4000_ms,
            self.reply.view_200_ms,
            self.reply.view_4000_ms,
            self.records.before_mb,
            self.records.peak_mb,
            self.records.tokens,
        )
    }
}
