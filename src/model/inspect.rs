//! `moe-tutor model info` and `model list`: what a GGUF file holds, in words a learner can
//! use, with bytes per tensor group and the memory a context length needs.

use std::fmt::Write;
use std::path::Path;

use crate::i18n::{tr, tr_with};
use crate::model::discover::{Entry, Facts, Group};
use crate::model::gguf::GgufFile;

/// Bytes in the unit a person reads (kB, MB, GB: powers of 1000).
pub fn human_bytes(n: u64) -> String {
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

/// A count such as 1.2M or 30.53B.
pub fn human_count(n: u64) -> String {
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

/// Describe a GGUF file, with the memory a context of `n_ctx` tokens needs, in `lang`
/// for the parts this module words; errors are one-line messages.
pub fn describe(path: &Path, n_ctx: u32, lang: &str) -> Result<String, String> {
    let file = GgufFile::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A split model's tensors are counted over all its parts.
    let facts = match crate::model::discover::open_parts(path) {
        Ok(parts) => Facts::from_shards(&parts),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
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
    if let Some(f) = &facts {
        out.push_str(&groups_and_memory(f, n_ctx, lang));
    }
    Ok(out)
}

/// Bytes per tensor group and the memory estimate for `n_ctx`.
pub fn groups_and_memory(f: &Facts, n_ctx: u32, lang: &str) -> String {
    let mut out = String::new();
    if f.shards > 1 {
        let args: [(&str, &dyn std::fmt::Display); 3] = [
            ("parts", &f.shards),
            ("size", &human_bytes(f.file_size)),
            ("params", &human_count(f.total_params)),
        ];
        let _ = writeln!(out, "{}", tr_with("model.info.split", lang, &args));
    }
    let _ = writeln!(out, "{}", tr("model.info.groups", lang));
    for g in Group::ALL {
        if let Some(s) = f.groups.iter().find(|s| s.group == g) {
            let _ = writeln!(
                out,
                "  {:>9} {:>10}  {}",
                human_count(s.n_params),
                human_bytes(s.n_bytes),
                tr(g.key(), lang),
            );
        }
    }
    let m = f.memory(n_ctx);
    let args: [(&str, &dyn std::fmt::Display); 3] = [
        ("ctx", &m.n_ctx),
        ("cells", &m.n_cells),
        ("batch", &m.n_batch),
    ];
    let _ = writeln!(out, "{}", tr_with("model.info.memory", lang, &args));
    let rows = [
        ("model.info.weights", m.weights),
        ("model.info.kv_cache", m.kv()),
        ("model.info.compute", m.compute),
        ("model.info.output", m.output),
        ("model.info.total", m.total()),
    ];
    for (key, bytes) in rows {
        let _ = writeln!(out, "  {:>10}  {}", human_bytes(bytes), tr(key, lang));
    }
    out
}

/// One line of `model list`: name, source, then the facts or the problem.
pub fn list_line(e: &Entry, n_ctx: u32, free: Option<u64>, lang: &str) -> String {
    let name = &e.name;
    let src = e.source.label();
    let f = match &e.found {
        Err(why) => {
            let args: [(&str, &dyn std::fmt::Display); 1] = [("why", why)];
            return format!(
                "{name}  [{src}]\n    {}\n    {}\n",
                tr_with("model.list.problem", lang, &args),
                crate::text::sanitize(&e.path.display().to_string())
            );
        }
        Ok(f) => f,
    };
    let arch = f.architecture.as_deref().unwrap_or("?");
    let experts = match &f.moe {
        Some(m) => {
            let args: [(&str, &dyn std::fmt::Display); 3] = [
                ("routed", &m.expert_count),
                ("used", &m.expert_used_count),
                ("shared", &m.expert_shared_count.unwrap_or(0)),
            ];
            tr_with("model.list.experts", lang, &args)
        }
        None => tr("model.list.dense", lang),
    };
    let quant: Vec<String> = f
        .quant
        .iter()
        .take(3)
        .map(|s| {
            let pct = (s.n_bytes * 100).checked_div(f.weight_bytes).unwrap_or(0);
            format!("{} {pct}%", s.dtype.name())
        })
        .collect();
    let m = f.memory(n_ctx);
    let fits = match free {
        Some(free) if m.total() <= free => tr("model.list.fits", lang),
        Some(_) => tr("model.list.too_big", lang),
        None => tr("model.list.fits_unknown", lang),
    };
    let ctx = f
        .context_length
        .map_or_else(|| "?".to_string(), |c| c.to_string());
    let parts = if f.shards > 1 {
        format!(" ({} parts)", f.shards)
    } else {
        String::new()
    };
    let args: [(&str, &dyn std::fmt::Display); 5] = [
        ("total", &human_count(f.total_params)),
        ("active", &human_count(f.active_params)),
        ("ctx", &ctx),
        ("size", &human_bytes(f.file_size)),
        ("parts", &parts),
    ];
    let mem: [(&str, &dyn std::fmt::Display); 3] = [
        ("need", &human_bytes(m.total())),
        (
            "n_ctx",
            &crate::model::discover::app_context(m.n_ctx, f.context_length),
        ),
        ("fits", &fits),
    ];
    format!(
        "{name}  [{src}]\n    {arch}, {experts}; {}\n    {}: {}; {}\n",
        tr_with("model.list.params", lang, &args),
        tr("model.list.quant", lang),
        quant.join(", "),
        tr_with("model.list.memory", lang, &mem),
    )
}
