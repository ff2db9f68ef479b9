//! Turning a dense `llama` teacher and a pack into a `deepseek` GGUF, in memory.
//!
//! Layout (ggml order, first dimension fastest), as llama.cpp's `LLM_ARCH_DEEPSEEK` loader
//! asks for it: `ffn_gate_inp` `[n_embd, E]`, `ffn_{gate,up}_exps` `[n_embd, ff_exp, E]`,
//! `ffn_down_exps` `[ff_exp, n_embd, E]`, `ffn_{gate,up}_shexp` `[n_embd, ff_sh]`,
//! `ffn_down_shexp` `[ff_sh, n_embd]`. The teacher's `ffn_gate`/`ffn_up` are
//! `[n_embd, n_ff]`: one row per neuron, quantisation blocks along `n_embd`, so picking
//! neurons copies whole rows of bytes. `ffn_down` is `[n_ff, n_embd]`: its blocks run along
//! the neurons, so it is dequantised, gathered and stored as Q8_0 (F16 when an expert's
//! width is not a multiple of 32; F32 stays F32).

use half::f16;

use super::merge::{encode_as, Lora};
use super::pack::Pack;
use super::Expected;
use crate::model::gguf::{GgmlType, GgufFile, GgufWriter, TensorInfo, Value};

/// Output under construction, with the digest of every tensor added.
pub(super) struct Out {
    pub w: GgufWriter,
    pub expected: Vec<Expected>,
}

impl Out {
    fn add(
        &mut self,
        name: &str,
        shape: &[u64],
        dtype: GgmlType,
        data: Vec<u8>,
    ) -> Result<(), String> {
        let sha256 = super::digest::sha256_hex(&data);
        self.w
            .add_raw(name, shape, dtype, data)
            .map_err(|e| e.to_string())?;
        self.expected.push(Expected {
            name: name.to_owned(),
            shape: shape.to_vec(),
            dtype,
            sha256,
        });
        Ok(())
    }
}

/// Hyperparameters read from the teacher.
pub(super) struct Dims {
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
}

pub(super) fn teacher_dims(t: &GgufFile) -> Result<Dims, String> {
    let arch = t.architecture().unwrap_or("");
    if arch != "llama" {
        return Err(format!(
            "the teacher must be a dense llama-architecture GGUF, this one is '{}'",
            crate::text::sanitize(arch)
        ));
    }
    let need = |k: &str| {
        t.arch_u32(k)
            .map(|v| v as usize)
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("the teacher lacks llama.{k}"))
    };
    Ok(Dims {
        n_layer: need("block_count")?,
        n_embd: need("embedding_length")?,
        n_ff: need("feed_forward_length")?,
    })
}

/// What to call the forged model and where it came from.
pub(super) struct Provenance<'a> {
    pub name: &'a str,
    pub teacher_sha256: &'a str,
    pub pack_sha256: &'a str,
    /// The merged adapter's file name and sha256, when one was merged.
    pub lora: Option<(&'a str, &'a str)>,
}

fn tensor<'a>(t: &'a GgufFile, name: &str) -> Result<&'a TensorInfo, String> {
    t.tensor(name)
        .ok_or_else(|| format!("the teacher lacks tensor {name}"))
}

fn check_shape(info: &TensorInfo, want: &[usize]) -> Result<(), String> {
    let want: Vec<u64> = want.iter().map(|&d| d as u64).collect();
    if info.shape != want {
        return Err(format!(
            "teacher tensor {} has shape {:?}, want {want:?}",
            info.name, info.shape
        ));
    }
    Ok(())
}

fn metadata(teacher: &GgufFile, pack: &Pack, dims: &Dims, p: &Provenance) -> GgufWriter {
    let mut w = GgufWriter::new();
    w.set("general.architecture", "deepseek");
    w.set("general.name", p.name);
    for (k, v) in teacher.metadata() {
        let skip = ["general.architecture", "general.name", "general.file_type"];
        if k.starts_with("general.") && !skip.contains(&k) {
            w.set(k, v.clone());
        }
    }
    for (k, v) in teacher.metadata() {
        if let Some(rest) = k.strip_prefix("llama.") {
            w.set(format!("deepseek.{rest}"), v.clone());
        }
    }
    let k = |s: &str| format!("deepseek.{s}");
    if w.get(&k("rope.dimension_count")).is_none() {
        if let Some(h) = teacher.arch_u32("attention.head_count").filter(|h| *h > 0) {
            w.set(k("rope.dimension_count"), dims.n_embd as u32 / h);
        }
    }
    w.set(k("feed_forward_length"), dims.n_ff as u32);
    w.set(k("expert_count"), pack.expert_count);
    w.set(k("expert_used_count"), pack.expert_used_count);
    w.set(k("expert_shared_count"), pack.expert_shared_count);
    w.set(
        k("expert_feed_forward_length"),
        pack.expert_feed_forward_length,
    );
    w.set(k("expert_weights_scale"), pack.expert_weights_scale);
    w.set(k("leading_dense_block_count"), 0u32);
    for (key, v) in teacher.metadata() {
        if key.starts_with("tokenizer.") {
            w.set(key, v.clone());
        }
    }
    w.set(
        crate::model::gguf::ROUTER_DISPLAY_TEMPERATURE_KEY,
        pack.router_display_temperature,
    );
    w.set("moe_tutor.forge.version", super::FORGE_VERSION);
    w.set("moe_tutor.forge.teacher_sha256", p.teacher_sha256);
    w.set("moe_tutor.forge.pack_sha256", p.pack_sha256);
    if let Some((name, sha256)) = p.lora {
        w.set(super::KEY_LORA_MERGED, name);
        w.set("moe_tutor.forge.lora_sha256", sha256);
    }
    w.set(
        "moe_tutor.forge.note",
        Value::String(
            "made by `moe-tutor model forge`: the teacher's FFN neurons dealt out to a shared \
             expert and routed experts; attention, embeddings and norms copied unchanged"
                .into(),
        ),
    );
    w
}

/// Rows `rows` of a `[n_embd, n]` tensor, as raw bytes in the teacher's type.
fn pick_rows(bytes: &[u8], row_bytes: usize, rows: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * row_bytes);
    for &r in rows {
        let s = r as usize * row_bytes;
        out.extend_from_slice(&bytes[s..s + row_bytes]);
    }
    out
}

/// Columns `cols` (neurons) of the `[n_ff, n_embd]` down projection, `[cols.len(), n_embd]`
/// per group of `group` neurons, groups stacked: the layout of `ffn_down_exps`.
fn pick_down(down: &[f32], n_ff: usize, n_embd: usize, cols: &[u32], group: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(cols.len() * n_embd);
    for g in cols.chunks(group) {
        for o in 0..n_embd {
            let row = &down[o * n_ff..(o + 1) * n_ff];
            out.extend(g.iter().map(|&j| row[j as usize]));
        }
    }
    out
}

/// Rows `rows` of a dequantised `[n_embd, n]` tensor.
fn pick_rows_f32(values: &[f32], n_embd: usize, rows: &[u32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * n_embd);
    for &r in rows {
        let s = r as usize * n_embd;
        out.extend_from_slice(&values[s..s + n_embd]);
    }
    out
}

/// Add the adapter's delta for `name` (when it has one) to `values`.
fn add_delta(
    lora: Option<&Lora>,
    name: &str,
    shape: &[u64],
    values: &mut [f32],
) -> Result<bool, String> {
    let Some(delta) = lora.map(|l| l.delta(name, shape)).transpose()?.flatten() else {
        return Ok(false);
    };
    for (x, d) in values.iter_mut().zip(&delta) {
        *x += d;
    }
    Ok(true)
}

fn encode(values: &[f32], dtype: GgmlType) -> Vec<u8> {
    match dtype {
        GgmlType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlType::Q8_0 => {
            crate::model::gguf::q8_0_from_f32(values).expect("rows of whole Q8_0 blocks")
        }
        _ => values
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect(),
    }
}

fn ffn_layer(
    out: &mut Out,
    teacher: &GgufFile,
    pack: &Pack,
    dims: &Dims,
    i: usize,
    lora: Option<&Lora>,
) -> Result<(), String> {
    let (n_embd, n_ff) = (dims.n_embd, dims.n_ff);
    let layer = &pack.layers[i];
    let e = pack.expert_count as usize;
    let ffe = pack.expert_feed_forward_length as usize;
    let sh = pack.shared_neurons();
    let (shared, routed) = layer.perm.split_at(sh);
    let nm = |s: &str| format!("blk.{i}.{s}.weight");
    let sz = |d: usize| d as u64;

    out.add(
        &nm("ffn_gate_inp"),
        &[sz(n_embd), sz(e)],
        GgmlType::F32,
        encode(&layer.router, GgmlType::F32),
    )?;
    for which in ["ffn_gate", "ffn_up"] {
        let info = tensor(teacher, &nm(which))?;
        check_shape(info, &[n_embd, n_ff])?;
        let row_bytes = info
            .dtype
            .bytes_for(n_embd as u64)
            .ok_or_else(|| format!("{}: rows are not whole {} blocks", info.name, info.dtype))?
            as usize;
        let bytes = teacher.read_tensor_bytes(info).map_err(|e| e.to_string())?;
        let mut values = None;
        for (part, rows, shape) in [
            ("exps", routed, vec![sz(n_embd), sz(ffe), sz(e)]),
            ("shexp", shared, vec![sz(n_embd), sz(sh)]),
        ] {
            let name = nm(&format!("{which}_{part}"));
            let delta = lora.map(|l| l.delta(&name, &shape)).transpose()?.flatten();
            let (dtype, data) = match delta {
                // No adapter: whole rows of the teacher's bytes, blocks intact.
                None => (info.dtype, pick_rows(&bytes, row_bytes, rows)),
                Some(delta) => {
                    if values.is_none() {
                        values = Some(teacher.read_tensor_f32(info).map_err(|e| e.to_string())?);
                    }
                    let all = values.as_deref().unwrap_or_default();
                    let mut v = pick_rows_f32(all, n_embd, rows);
                    for (x, d) in v.iter_mut().zip(&delta) {
                        *x += d;
                    }
                    encode_as(&v, info.dtype).map_err(|e| format!("{name}: {e}"))?
                }
            };
            out.add(&name, &shape, dtype, data)?;
        }
    }
    let info = tensor(teacher, &nm("ffn_down"))?;
    check_shape(info, &[n_ff, n_embd])?;
    let down = teacher.read_tensor_f32(info).map_err(|e| e.to_string())?;
    // Q8_0 where every row is whole 32-value blocks: it moves each weight by at most half
    // a step of max|x|/127 over its block, small beside the teacher's own Q4_1 grid (15
    // steps per block), and reads half the bytes of F16 per decode step. F16 for odd
    // sizes (tiny test models); F32 stays F32.
    let dtype = if info.dtype == GgmlType::F32 {
        GgmlType::F32
    } else if ffe.is_multiple_of(32) && sh.max(1).is_multiple_of(32) {
        GgmlType::Q8_0
    } else {
        GgmlType::F16
    };
    let mut exps = pick_down(&down, n_ff, n_embd, routed, ffe);
    add_delta(
        lora,
        &nm("ffn_down_exps"),
        &[sz(ffe), sz(n_embd), sz(e)],
        &mut exps,
    )?;
    out.add(
        &nm("ffn_down_exps"),
        &[sz(ffe), sz(n_embd), sz(e)],
        dtype,
        encode(&exps, dtype),
    )?;
    let mut shexp = pick_down(&down, n_ff, n_embd, shared, sh.max(1));
    add_delta(
        lora,
        &nm("ffn_down_shexp"),
        &[sz(sh), sz(n_embd)],
        &mut shexp,
    )?;
    out.add(
        &nm("ffn_down_shexp"),
        &[sz(sh), sz(n_embd)],
        dtype,
        encode(&shexp, dtype),
    )?;
    Ok(())
}

/// The whole forged model. Tensors follow the teacher's order, each layer's FFN replaced
/// by the router, routed experts and shared expert.
pub(super) fn convert(
    teacher: &GgufFile,
    pack: &Pack,
    dims: &Dims,
    p: &Provenance,
    lora: Option<&Lora>,
    progress: &mut dyn FnMut(&str),
) -> Result<Out, String> {
    let mut out = Out {
        w: metadata(teacher, pack, dims, p),
        expected: Vec::new(),
    };
    for info in teacher.tensors() {
        let layer_ffn = info.name.strip_prefix("blk.").and_then(|rest| {
            let (i, what) = rest.split_once('.')?;
            Some((i.parse::<usize>().ok()?, what))
        });
        match layer_ffn {
            Some((i, "ffn_gate.weight")) if i < dims.n_layer => {
                progress(&format!("forging layer {}/{}", i + 1, dims.n_layer));
                ffn_layer(&mut out, teacher, pack, dims, i, lora)?;
            }
            Some((_, "ffn_up.weight" | "ffn_down.weight")) => {}
            _ => {
                let bytes = teacher.read_tensor_bytes(info).map_err(|e| e.to_string())?;
                out.add(&info.name, &info.shape, info.dtype, bytes)?;
            }
        }
    }
    Ok(out)
}
