//! JSON Lines trace files: one object per token, prompt and generated alike.
//!
//! Schema version 1 (every line carries `"v": 1`):
//! `{"v":1, "phase":"prompt"|"generated", "pos":int, "token_id":int, "text":str,
//!   "layers":[{"layer":int, "computed":bool, "experts":[int;k], "weights":[float;k],
//!              "probs":[float;E], "preference":[float;E]?}],
//!   "sampled_prob":float?, "sampled_p_raw":float?, "temperature":float?, "top_p":float?,
//!   "nucleus_size":int?, "candidates":[{"token_id","text","p_raw","p","in_nucleus"}]?,
//!   "capture_incomplete":true?}`
//! `capture_incomplete` appears (as `true`) only when the routing capture failed or was
//! partial for that token; readers of older traces get `false`.
//! `layers` lists the MoE layers only, in model order; it is empty for a dense model.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::{dequantize_prob, Phase, TokenRouting};
use crate::transcript::TokenEvent;

pub const TRACE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceLayer {
    pub layer: u16,
    pub computed: bool,
    pub experts: Vec<u16>,
    pub weights: Vec<f32>,
    pub probs: Vec<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<Vec<f32>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceCandidate {
    pub token_id: u32,
    pub text: String,
    pub p_raw: f32,
    pub p: f32,
    pub in_nucleus: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    pub v: u32,
    pub phase: Phase,
    pub pos: u32,
    pub token_id: u32,
    pub text: String,
    pub layers: Vec<TraceLayer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_prob: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_p_raw: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nucleus_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<TraceCandidate>>,
    /// The routing capture failed or was partial for this token (`layers` may lack some).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub capture_incomplete: bool,
}

fn round4(x: f32) -> f32 {
    (x * 10000.0).round() / 10000.0
}

fn layers_of(r: &TokenRouting) -> Vec<TraceLayer> {
    r.iter()
        .map(|l| TraceLayer {
            layer: l.layer,
            computed: l.computed,
            experts: if l.computed {
                l.experts.to_vec()
            } else {
                Vec::new()
            },
            weights: if l.computed {
                l.weights.iter().map(|w| round4(w.to_f32())).collect()
            } else {
                Vec::new()
            },
            probs: if l.computed {
                l.probs
                    .iter()
                    .map(|&q| round4(dequantize_prob(q)))
                    .collect()
            } else {
                Vec::new()
            },
            preference: (!l.preference.is_empty() && l.computed).then(|| {
                l.preference
                    .iter()
                    .map(|&q| round4(dequantize_prob(q)))
                    .collect()
            }),
        })
        .collect()
}

impl TraceRecord {
    pub fn from_event(ev: &TokenEvent) -> Self {
        let step = ev.step.as_ref();
        TraceRecord {
            v: TRACE_VERSION,
            phase: ev.phase,
            pos: ev.pos,
            token_id: ev.token_id,
            text: ev.text.clone(),
            layers: ev.routing.as_ref().map(layers_of).unwrap_or_default(),
            sampled_prob: step.map(|s| s.chosen_prob),
            sampled_p_raw: step.map(|s| s.chosen_p_raw),
            temperature: step.map(|s| s.params.temperature),
            top_p: step.map(|s| s.params.top_p),
            nucleus_size: step.map(|s| s.nucleus_size),
            candidates: step.map(|s| {
                s.candidates
                    .iter()
                    .map(|c| TraceCandidate {
                        token_id: c.token_id,
                        text: c.text.clone(),
                        p_raw: c.p_raw,
                        p: c.p_temp,
                        in_nucleus: c.in_nucleus,
                    })
                    .collect()
            }),
            capture_incomplete: ev.routing.as_ref().is_some_and(|r| r.incomplete),
        }
    }
}

/// Writes one JSON object per line.
pub struct TraceWriter<W: Write> {
    out: W,
}

impl<W: Write> TraceWriter<W> {
    pub fn new(out: W) -> Self {
        TraceWriter { out }
    }

    pub fn write(&mut self, ev: &TokenEvent) -> std::io::Result<()> {
        let line = serde_json::to_string(&TraceRecord::from_event(ev))?;
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Read a trace, skipping a torn last line (a crash mid-write) but reporting any other
/// malformed line.
pub fn read_trace(text: &str) -> Result<Vec<TraceRecord>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<TraceRecord>(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => return Err(format!("line {}: {e}", i + 1)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_line() {
        let mut r = TokenRouting::new(4, 2, vec![1]);
        r.set_layer(0, &[2, 0], &[0.5, 0.3], &[0.3, 0.1, 0.5, 0.1]);
        let ev = TokenEvent {
            phase: Phase::Prompt,
            pos: 3,
            token_id: 9,
            text: "hi".into(),
            routing: Some(r),
            step: None,
        };
        let mut w = TraceWriter::new(Vec::new());
        w.write(&ev).unwrap();
        w.write(&ev).unwrap();
        let mut bytes = w.finish().unwrap();
        bytes.extend_from_slice(b"{\"v\":1,\"pha");
        let text = String::from_utf8(bytes).unwrap();
        let recs = read_trace(&text).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].layers[0].experts, vec![2, 0]);
        assert!((recs[0].layers[0].probs.iter().sum::<f32>() - 1.0).abs() < 0.02);
        assert!(read_trace("{bad}\n{}\n").is_err());
        assert!(!recs[0].capture_incomplete);
        assert!(!text.contains("capture_incomplete"), "absent when complete");
    }

    #[test]
    fn incomplete_capture_is_written_and_old_lines_read_as_complete() {
        let mut r = TokenRouting::new(4, 2, vec![1, 2]);
        r.set_layer(0, &[2, 0], &[0.5, 0.3], &[0.3, 0.1, 0.5, 0.1]);
        r.incomplete = true;
        let ev = TokenEvent {
            phase: Phase::Generated,
            pos: 0,
            token_id: 1,
            text: "x".into(),
            routing: Some(r),
            step: None,
        };
        let mut w = TraceWriter::new(Vec::new());
        w.write(&ev).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(text.contains("\"capture_incomplete\":true"), "{text}");
        let back = read_trace(&text).unwrap();
        assert!(back[0].capture_incomplete);
        assert!(!back[0].layers[1].computed);
        let old = r#"{"v":1,"phase":"prompt","pos":0,"token_id":1,"text":"a","layers":[]}"#;
        assert!(!read_trace(old).unwrap()[0].capture_incomplete);
    }
}
