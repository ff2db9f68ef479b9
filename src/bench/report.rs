//! What the bench measured: the table printed for people, and the machine-readable last
//! line ([`BenchReport`]'s `Display`).

use std::fmt;

use super::load::Contention;
use super::startup::Startup;
use super::{PeerSpeed, RecordMemory, RenderTimes, ReplyFrames, Speed};

/// Everything measured; `Display` is the machine-readable last line.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub capture_off: Speed,
    pub capture_on: Speed,
    pub peer: Option<PeerSpeed>,
    /// Bytes of one token's routing record at 48 layers x 128 experts, k = 8.
    pub routing_bytes_per_token: usize,
    pub render: RenderTimes,
    /// One token arriving at the end of a 200- and a 4,000-token reply.
    pub reply: ReplyFrames,
    /// Peak memory around a 32k-token conversation's routing records (48 x 128).
    pub records: RecordMemory,
    /// Key press to the end of the next drawn frame while a reply streams: median, 95th
    /// percentile and the number of presses timed.
    pub key_to_frame_ms: f64,
    pub key_to_frame_p95_ms: f64,
    pub keys_timed: usize,
    /// Launch to a ready prompt, and peak memory while chatting.
    pub startup: Option<Startup>,
    /// Decode idle and beside busy processes (`--background-load N`).
    pub contention: Option<Contention>,
    /// The measured model first, then the compared files: decode in the engine, round by
    /// round, and in llama-bench (empty without `--compare` or `--default-model`).
    pub models: Vec<ModelSpeed>,
}

/// One model file's decode speed in the comparison of files.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpeed {
    pub label: String,
    /// The file's name (no folder).
    pub file: String,
    /// Engine, capture on, best of the rounds: from a one-word prompt, and after the prompt.
    pub decode_tps: f64,
    pub decode_deep_tps: f64,
    pub peer: Option<PeerSpeed>,
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

impl BenchReport {
    pub fn decode_on_vs_off(&self) -> Option<f64> {
        ratio(self.capture_on.decode_tps, self.capture_off.decode_tps)
    }
    pub fn decode_on_vs_peer(&self) -> Option<f64> {
        ratio(self.capture_on.decode_tps, self.peer.as_ref()?.tg_tps)
    }
    pub fn decode_off_vs_peer(&self) -> Option<f64> {
        ratio(self.capture_off.decode_tps, self.peer.as_ref()?.tg_tps)
    }
    /// Decode after the prompt, capture on, against llama-bench at the same depth.
    pub fn decode_deep_on_vs_peer(&self) -> Option<f64> {
        ratio(
            self.capture_on.decode_deep_tps,
            self.peer.as_ref()?.tg_deep_tps,
        )
    }
    pub fn prompt_on_vs_off(&self) -> Option<f64> {
        ratio(self.capture_on.prompt_tps, self.capture_off.prompt_tps)
    }
    pub fn prompt_off_vs_peer(&self) -> Option<f64> {
        ratio(self.capture_off.prompt_tps, self.peer.as_ref()?.pp_tps)
    }
    /// Engine decode under load against its own idle speed.
    pub fn load_vs_idle(&self) -> Option<f64> {
        let c = self.contention.as_ref()?;
        ratio(c.engine_load, c.engine_idle)
    }
    /// llama-bench under load against its own idle speed.
    pub fn peer_load_vs_idle(&self) -> Option<f64> {
        let c = self.contention.as_ref()?;
        ratio(c.peer_load?, c.peer_idle?)
    }
    /// Engine decode under load against llama-bench under the same load.
    pub fn load_vs_peer_load(&self) -> Option<f64> {
        let c = self.contention.as_ref()?;
        ratio(c.engine_load, c.peer_load?)
    }

    /// The measured model's decode against `other`'s: in the engine, in llama-bench, and
    /// the measured model in the engine against `other` in llama-bench (from a one-word
    /// prompt).
    pub fn model_ratios(&self, other: &ModelSpeed) -> (Option<f64>, Option<f64>, Option<f64>) {
        let Some(me) = self.models.first() else {
            return (None, None, None);
        };
        let tg = |m: &ModelSpeed| m.peer.as_ref().map_or(0.0, |p| p.tg_tps);
        (
            ratio(me.decode_tps, other.decode_tps),
            ratio(tg(me), tg(other)),
            ratio(me.decode_tps, tg(other)),
        )
    }

    fn models_lines(&self) -> String {
        let mut s = String::new();
        if self.models.is_empty() {
            return s;
        }
        s.push_str(&format!(
            "{:<12} {:>10} {:>14} {:>16} {:>16}  file\n",
            "decode tok/s", "engine tg", "engine deep", "llama-bench tg", "llama-bench deep"
        ));
        for m in &self.models {
            let p = |f: fn(&PeerSpeed) -> f64| {
                m.peer
                    .as_ref()
                    .map_or("na".to_string(), |x| format!("{:.1}", f(x)))
            };
            s.push_str(&format!(
                "{:<12} {:>10.1} {:>14.1} {:>16} {:>16}  {}\n",
                m.label,
                m.decode_tps,
                m.decode_deep_tps,
                p(|x| x.tg_tps),
                p(|x| x.tg_deep_tps),
                crate::text::sanitize(&m.file),
            ));
        }
        let me = &self.models[0].label;
        for other in self.models.iter().skip(1) {
            let (engine, peer, cross) = self.model_ratios(other);
            s.push_str(&format!(
                "{me} / {o}: engine {}x, llama-bench {}x; {me} in the engine / {o} in llama-bench {}x\n",
                Opt(engine, 2),
                Opt(peer, 2),
                Opt(cross, 2),
                o = other.label,
            ));
        }
        s
    }

    /// The comparison of files on the last line: labels, rates and ratios against the
    /// measured model, comma-separated in the same order (`models=na` without one).
    fn models_fields(&self) -> String {
        if self.models.is_empty() {
            return " models=na".into();
        }
        let join = |f: &dyn Fn(&ModelSpeed) -> String| {
            self.models.iter().map(f).collect::<Vec<_>>().join(",")
        };
        let peer =
            |m: &ModelSpeed, f: fn(&PeerSpeed) -> f64| Opt(m.peer.as_ref().map(f), 1).to_string();
        let mut s = format!(
            " models={} models_decode_tps={} models_decode_deep_tps={} models_llama_bench_tg_tps={}",
            join(&|m| m.label.clone()),
            join(&|m| format!("{:.1}", m.decode_tps)),
            join(&|m| format!("{:.1}", m.decode_deep_tps)),
            join(&|m| peer(m, |p| p.tg_tps)),
        );
        for other in self.models.iter().skip(1) {
            let (engine, peer, cross) = self.model_ratios(other);
            s.push_str(&format!(
                " vs_{l}={} vs_{l}_llama_bench={} vs_{l}_in_llama_bench={}",
                Opt(engine, 3),
                Opt(peer, 3),
                Opt(cross, 3),
                l = other.label
            ));
        }
        s
    }

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
        s.push_str(&format!(
            "key press to next frame while streaming: median {:.1} ms, p95 {:.1} ms ({} presses)\n",
            self.key_to_frame_ms, self.key_to_frame_p95_ms, self.keys_timed
        ));
        s.push_str(&self.reply_lines());
        if let Some(st) = &self.startup {
            s.push_str(&format!(
                "launch to ready prompt: best {:.0} ms, median {:.0} ms ({} launches); peak memory while chatting {:.0} MB\n",
                st.ready_ms, st.ready_median_ms, st.runs, st.peak_rss_mb
            ));
        }
        if let Some(c) = &self.contention {
            let peer = |v: Option<f64>| v.map_or("na".to_string(), |x| format!("{x:.1}"));
            let below = if c.peer_load_bounded {
                " (llama-bench stopped unfinished: at most this)"
            } else {
                ""
            };
            s.push_str(&format!(
                "decode tok/s (median) idle / beside {} busy: engine {:.1} / {:.1} ({}x), llama-bench {} / {} ({}x){below}\n",
                c.busy,
                c.engine_idle,
                c.engine_load,
                Opt(self.load_vs_idle(), 2),
                peer(c.peer_idle),
                peer(c.peer_load),
                Opt(self.peer_load_vs_idle(), 2),
            ));
            s.push_str(&super::load::responsiveness_line(c));
        }
        s.push_str(&self.models_lines());
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
             startup_ms={} startup_median_ms={} peak_rss_mb={} \
             background_load={} decode_idle_tps={} decode_load_tps={} decode_load_vs_idle={} \
             llama_bench_idle_tps={} llama_bench_load_tps={} llama_bench_load_vs_idle={} \
             decode_load_vs_llama_bench_load={} llama_bench_load_bounded={} {}",
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
            Opt(self.startup.as_ref().map(|s| s.ready_ms), 0),
            Opt(self.startup.as_ref().map(|s| s.ready_median_ms), 0),
            Opt(self.startup.as_ref().map(|s| s.peak_rss_mb), 1),
            self.contention.as_ref().map_or(0, |c| c.busy),
            Opt(self.contention.as_ref().map(|c| c.engine_idle), 1),
            Opt(self.contention.as_ref().map(|c| c.engine_load), 1),
            Opt(self.load_vs_idle(), 3),
            Opt(self.contention.as_ref().and_then(|c| c.peer_idle), 1),
            Opt(self.contention.as_ref().and_then(|c| c.peer_load), 1),
            Opt(self.peer_load_vs_idle(), 3),
            Opt(self.load_vs_peer_load(), 3),
            match &self.contention {
                Some(c) if c.peer_load.is_some() => u8::from(c.peer_load_bounded).to_string(),
                _ => "na".to_string(),
            },
            self.reply_fields(),
        )?;
        f.write_str(&super::load::responsiveness_fields(
            self.contention.as_ref(),
        ))?;
        f.write_str(&self.models_fields())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_says_na_without_a_peer() {
        let sp = Speed {
            prompt_tps: 100.0,
            decode_tps: 50.0,
            decode_deep_tps: 45.0,
            prompt_tokens: 64,
            gen_tokens: 64,
            llama_ms_per_token: 18.0,
            sample_ms_per_token: 0.5,
            ms_per_token: 20.0,
        };
        let r = BenchReport {
            capture_off: sp.clone(),
            capture_on: Speed {
                decode_tps: 49.0,
                ..sp
            },
            peer: None,
            routing_bytes_per_token: 7824,
            render: RenderTimes {
                heatmap_ms: 1.0,
                frame_ms: 2.0,
                load_ms: 1.5,
                frames: 10,
            },
            reply: ReplyFrames {
                at_200_ms: 0.2,
                at_4000_ms: 0.25,
                view_200_ms: 0.7,
                view_4000_ms: 1.1,
            },
            records: RecordMemory {
                tokens: 32_768,
                before_mb: 20.0,
                peak_mb: 80.4,
            },
            key_to_frame_ms: 17.0,
            key_to_frame_p95_ms: 33.0,
            keys_timed: 20,
            startup: None,
            contention: None,
            models: Vec::new(),
        };
        let line = r.to_string();
        assert!(line.starts_with("capture_on_vs_off=0.980 capture_on_vs_llama_bench=na"));
        assert!(line.contains("routing_bytes_per_token=7824"));
        assert!(line.contains(
            "token_ms=20.000 token_llama_ms=18.000 token_sample_ms=0.500 token_engine_ms=1.500"
        ));
        assert!(!line.contains('\n'));
        assert!(line.ends_with(
            "startup_ms=na startup_median_ms=na peak_rss_mb=na background_load=0 \
             decode_idle_tps=na decode_load_tps=na decode_load_vs_idle=na \
             llama_bench_idle_tps=na llama_bench_load_tps=na llama_bench_load_vs_idle=na \
             decode_load_vs_llama_bench_load=na llama_bench_load_bounded=na \
             reply_frame_200_ms=0.200 reply_frame_4000_ms=0.250 reply_frame_ratio=1.25 \
             view_reply_200_ms=0.700 view_reply_4000_ms=1.100 \
             rss_before_records_mb=20 rss_peak_records_mb=80 record_tokens=32768 \
             load_key_to_frame_ms=na load_key_to_frame_p95_ms=na \
             load_quit_ctrl_q_ms=na load_quit_sigterm_ms=na models=na"
        ));
        let table = r.table();
        assert!(
            table.contains("at 4,000 tokens 0.250 ms (1.25x)"),
            "{table}"
        );
        assert!(
            table.contains("32768 tokens (48 x 128): 80 MB (before: 20 MB)"),
            "{table}"
        );
        let with_load = BenchReport {
            contention: Some(Contention {
                busy: 2,
                engine_idle: 200.0,
                engine_load: 60.0,
                peer_idle: Some(210.0),
                peer_load: Some(30.0),
                peer_load_bounded: false,
                key_to_frame_ms: Some((12.04, 40.0)),
                quit_ctrl_q_ms: Some(180.0),
                quit_sigterm_ms: None,
            }),
            ..r
        };
        let line = with_load.to_string();
        assert!(line.contains("background_load=2 decode_idle_tps=200.0 decode_load_tps=60.0 decode_load_vs_idle=0.300"), "{line}");
        assert!(
            line.contains("llama_bench_load_vs_idle=0.143 decode_load_vs_llama_bench_load=2.000 llama_bench_load_bounded=0 reply_frame_200_ms="),
            "{line}"
        );
        assert!(
            line.ends_with(
                " load_key_to_frame_ms=12.0 load_key_to_frame_p95_ms=40.0 \
                 load_quit_ctrl_q_ms=180 load_quit_sigterm_ms=na models=na"
            ),
            "{line}"
        );
        let peer = |tg: f64| PeerSpeed {
            pp_tps: 900.0,
            tg_tps: tg,
            tg_deep_tps: tg - 10.0,
            n_prompt: 64,
            n_gen: 64,
            depth: 64,
        };
        let model = |label: &str, tps: f64, tg: Option<f64>| ModelSpeed {
            label: label.into(),
            file: format!("{label}.gguf"),
            decode_tps: tps,
            decode_deep_tps: tps - 5.0,
            peer: tg.map(peer),
        };
        let compared = BenchReport {
            models: vec![
                model("measured", 112.0, Some(110.0)),
                model("unadapted", 120.0, Some(125.0)),
                model("teacher", 80.0, Some(100.0)),
                model("nopeer", 56.0, None),
            ],
            ..with_load
        };
        let line = compared.to_string();
        assert!(
            line.ends_with(
                " models=measured,unadapted,teacher,nopeer \
                 models_decode_tps=112.0,120.0,80.0,56.0 \
                 models_decode_deep_tps=107.0,115.0,75.0,51.0 \
                 models_llama_bench_tg_tps=110.0,125.0,100.0,na \
                 vs_unadapted=0.933 vs_unadapted_llama_bench=0.880 vs_unadapted_in_llama_bench=0.896 \
                 vs_teacher=1.400 vs_teacher_llama_bench=1.100 vs_teacher_in_llama_bench=1.120 \
                 vs_nopeer=2.000 vs_nopeer_llama_bench=na vs_nopeer_in_llama_bench=na"
            ),
            "{line}"
        );
        let table = compared.table();
        assert!(
            table.contains("measured / teacher: engine 1.40x, llama-bench 1.10x; measured in the engine / teacher in llama-bench 1.12x"),
            "{table}"
        );
        assert!(table.contains("unadapted         120.0          115.0            125.0            115.0  unadapted.gguf"), "{table}");
    }
}
