//! `moe-tutor model info`: what a GGUF file holds, in words a learner can use.

use std::fmt::Write;
use std::path::Path;

use crate::model::gguf::GgufFile;

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

fn human_count(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n}")
    }
}

/// Describe a GGUF file; errors are one-line messages.
pub fn describe(path: &Path) -> Result<String, String> {
    let file = GgufFile::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let s = file.summary();
    let mut out = String::new();
    let unknown = || "?".to_string();
    let _ = writeln!(
        out,
        "file:          {}",
        crate::text::sanitize(&path.display().to_string())
    );
    let _ = writeln!(
        out,
        "name:          {}",
        s.name.clone().unwrap_or_else(unknown)
    );
    let _ = writeln!(
        out,
        "architecture:  {}",
        s.architecture.clone().unwrap_or_else(unknown)
    );
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(unknown);
    let _ = writeln!(out, "layers:        {}", opt(s.block_count));
    let _ = writeln!(out, "embedding:     {}", opt(s.embedding_length));
    let _ = writeln!(out, "context:       {}", opt(s.context_length));
    let _ = writeln!(out, "vocabulary:    {}", opt(s.vocab_size));
    let _ = writeln!(
        out,
        "parameters:    {} in {} ({:.2} bits per weight)",
        human_count(s.n_params),
        human_bytes(s.n_bytes),
        s.bits_per_weight()
    );
    match &s.moe {
        Some(m) => {
            let _ = writeln!(
                out,
                "experts:       {} routed per MoE layer, {} used per token{}{}",
                m.expert_count,
                m.expert_used_count,
                m.expert_shared_count
                    .filter(|&n| n > 0)
                    .map(|n| format!(", {n} shared"))
                    .unwrap_or_default(),
                m.leading_dense_block_count
                    .filter(|&n| n > 0)
                    .map(|n| format!("; first {n} layer(s) dense"))
                    .unwrap_or_default(),
            );
        }
        None => {
            let _ = writeln!(out, "experts:       none (dense model)");
        }
    }
    if let Some(t) = s.router_display_temperature {
        let _ = writeln!(out, "router display temperature: {t}");
    }
    let _ = writeln!(out, "tensor types:");
    for share in &s.by_type {
        let _ = writeln!(
            out,
            "  {:<8} {:>4} tensors  {:>9} weights  {:>10}  {:.2} bits/weight",
            share.dtype.name(),
            share.n_tensors,
            human_count(share.n_params),
            human_bytes(share.n_bytes),
            share.bits_per_weight()
        );
    }
    Ok(out)
}
