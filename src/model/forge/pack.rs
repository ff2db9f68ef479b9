//! The pack: what training adds to the dense teacher. Per layer, the order in which the
//! teacher's FFN neurons are dealt out to the shared expert and the routed experts
//! (`blk.N.ffn_perm`), and the router (`blk.N.ffn_gate_inp.weight`); plus the MoE
//! hyperparameters under `moe_tutor.*`.

use std::path::Path;

use crate::model::gguf::{GgmlType, GgufFile, GgufWriter, ROUTER_DISPLAY_TEMPERATURE_KEY};

/// The pack format version this forge reads and writes.
pub const PACK_VERSION: u32 = 1;

pub const KEY_VERSION: &str = "moe_tutor.pack.version";
pub const KEY_TEACHER_SHA256: &str = "moe_tutor.teacher.sha256";
pub const KEY_EXPERT_COUNT: &str = "moe_tutor.expert_count";
pub const KEY_EXPERT_USED_COUNT: &str = "moe_tutor.expert_used_count";
pub const KEY_EXPERT_FF: &str = "moe_tutor.expert_feed_forward_length";
pub const KEY_EXPERT_SHARED_COUNT: &str = "moe_tutor.expert_shared_count";
pub const KEY_EXPERT_WEIGHTS_SCALE: &str = "moe_tutor.expert_weights_scale";
/// The LoRA adapter (a file name beside the pack) that forge merges into the weights.
pub const KEY_LORA_FILE: &str = "moe_tutor.lora.file";

/// One layer of the pack.
#[derive(Debug, Clone, PartialEq)]
pub struct PackLayer {
    /// Teacher FFN neuron indices: the shared expert's neurons first, then expert 0's,
    /// expert 1's, ...
    pub perm: Vec<u32>,
    /// Router weights, ggml order `[n_embd, n_expert]` (row `e` is expert `e`'s vector).
    pub router: Vec<f32>,
}

/// A parsed pack.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    /// Lower-case hex sha256 of the teacher GGUF the pack was made for.
    pub teacher_sha256: String,
    pub router_display_temperature: f32,
    pub expert_count: u32,
    pub expert_used_count: u32,
    /// Neurons per expert (routed and each shared unit).
    pub expert_feed_forward_length: u32,
    /// Shared units of `expert_feed_forward_length` neurons: the one always-on shared
    /// expert has `expert_shared_count * expert_feed_forward_length` neurons.
    pub expert_shared_count: u32,
    pub expert_weights_scale: f32,
    /// The adapter beside the pack that forge merges (`moe_tutor.lora.file`), if any.
    pub lora_file: Option<String>,
    pub layers: Vec<PackLayer>,
}

/// The sampler's seeded SplitMix64, for synthetic packs.
struct Rng(crate::sampling::SplitMix64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0.next_f64()
    }

    fn normal(&mut self) -> f32 {
        let s = self.uniform() + self.uniform() + self.uniform() + self.uniform();
        ((s - 2.0) * 1.732_050_807_568_877_2) as f32
    }
}

/// How to make a synthetic pack (no training): for tests and exactness checks.
#[derive(Debug, Clone)]
pub struct SyntheticPack {
    pub expert_count: u32,
    pub expert_used_count: u32,
    pub expert_feed_forward_length: u32,
    pub expert_shared_count: u32,
    /// Standard deviation of the random router weights (0 gives a flat router).
    pub router_std: f32,
    /// Shuffle the neurons (seeded) instead of dealing them out in order.
    pub shuffle: bool,
    pub seed: u64,
}

impl Pack {
    /// Neurons in the shared expert.
    pub fn shared_neurons(&self) -> usize {
        self.expert_shared_count as usize * self.expert_feed_forward_length as usize
    }

    /// FFN width the pack deals out: shared plus all routed experts.
    pub fn n_ff(&self) -> usize {
        self.shared_neurons()
            + self.expert_count as usize * self.expert_feed_forward_length as usize
    }

    /// Read and check a pack file (not yet against a teacher: see [`Pack::check_against`]).
    pub fn read(path: &Path) -> Result<Pack, String> {
        let f = GgufFile::open(path).map_err(|e| format!("pack {}: {e}", path.display()))?;
        let bad = |what: String| format!("pack {}: {what}", path.display());
        let need_u32 = |k: &str| {
            f.get_u32(k)
                .ok_or_else(|| bad(format!("metadata {k} is missing or not an integer")))
        };
        let version = need_u32(KEY_VERSION)?;
        if version != PACK_VERSION {
            return Err(bad(format!(
                "format version {version}, this moe-tutor reads version {PACK_VERSION}"
            )));
        }
        let teacher_sha256 = f
            .get_str(KEY_TEACHER_SHA256)
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad(format!("{KEY_TEACHER_SHA256} is missing or not a sha256")))?
            .to_ascii_lowercase();
        let need_f32 = |k: &str| {
            f.get_f32(k)
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| bad(format!("metadata {k} is missing or not a positive number")))
        };
        let mut pack = Pack {
            teacher_sha256,
            router_display_temperature: need_f32(ROUTER_DISPLAY_TEMPERATURE_KEY)?,
            expert_count: need_u32(KEY_EXPERT_COUNT)?,
            expert_used_count: need_u32(KEY_EXPERT_USED_COUNT)?,
            expert_feed_forward_length: need_u32(KEY_EXPERT_FF)?,
            expert_shared_count: need_u32(KEY_EXPERT_SHARED_COUNT)?,
            expert_weights_scale: need_f32(KEY_EXPERT_WEIGHTS_SCALE)?,
            lora_file: f
                .get_str(KEY_LORA_FILE)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            layers: Vec::new(),
        };
        pack.check_params().map_err(bad)?;
        for i in 0.. {
            let Some(perm_t) = f.tensor(&format!("blk.{i}.ffn_perm")) else {
                break;
            };
            if perm_t.dtype != GgmlType::I32 || perm_t.shape.len() != 1 {
                return Err(bad(format!("blk.{i}.ffn_perm must be a 1-D I32 tensor")));
            }
            let bytes = f
                .read_tensor_bytes(perm_t)
                .map_err(|e| bad(e.to_string()))?;
            let mut perm = Vec::with_capacity(bytes.len() / 4);
            for c in bytes.chunks_exact(4) {
                let v = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                perm.push(
                    u32::try_from(v)
                        .map_err(|_| bad(format!("blk.{i}.ffn_perm holds a negative index")))?,
                );
            }
            let name = format!("blk.{i}.ffn_gate_inp.weight");
            let router_t = f
                .tensor(&name)
                .ok_or_else(|| bad(format!("{name} is missing")))?;
            if router_t.shape.len() != 2 || router_t.shape[1] != u64::from(pack.expert_count) {
                return Err(bad(format!(
                    "{name} has shape {:?}, want [n_embd, {}]",
                    router_t.shape, pack.expert_count
                )));
            }
            let router = f
                .read_tensor_f32(router_t)
                .map_err(|e| bad(e.to_string()))?;
            if router.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!("{name} holds a NaN or infinite value")));
            }
            pack.layers.push(PackLayer { perm, router });
        }
        if pack.layers.is_empty() {
            return Err(bad("it holds no blk.0.ffn_perm tensor".into()));
        }
        Ok(pack)
    }

    fn check_params(&self) -> Result<(), String> {
        if self.expert_count == 0 || self.expert_count > crate::model::gguf::MAX_EXPERTS {
            return Err(format!(
                "expert_count {} (must be 1..={})",
                self.expert_count,
                crate::model::gguf::MAX_EXPERTS
            ));
        }
        if self.expert_used_count == 0 || self.expert_used_count > self.expert_count {
            return Err(format!(
                "expert_used_count {} (must be 1..={})",
                self.expert_used_count, self.expert_count
            ));
        }
        if self.expert_feed_forward_length == 0 || self.expert_shared_count == 0 {
            return Err(
                "expert_feed_forward_length and expert_shared_count must be at least 1 \
                 (llama.cpp's deepseek needs a shared expert)"
                    .into(),
            );
        }
        Ok(())
    }

    /// Check the pack fits a teacher of `n_layer` layers, width `n_embd`, FFN width `n_ff`.
    pub fn check_against(&self, n_layer: usize, n_embd: usize, n_ff: usize) -> Result<(), String> {
        self.check_params()?;
        if self.layers.len() != n_layer {
            return Err(format!(
                "the pack has {} layers, the teacher {n_layer}",
                self.layers.len()
            ));
        }
        if self.n_ff() != n_ff {
            return Err(format!(
                "the pack deals out {} FFN neurons ({} shared + {} x {}), the teacher has {n_ff}",
                self.n_ff(),
                self.shared_neurons(),
                self.expert_count,
                self.expert_feed_forward_length
            ));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.perm.len() != n_ff {
                return Err(format!(
                    "blk.{i}.ffn_perm has {} entries, want {n_ff}",
                    l.perm.len()
                ));
            }
            let mut seen = vec![false; n_ff];
            for &p in &l.perm {
                match seen.get_mut(p as usize) {
                    Some(s) if !*s => *s = true,
                    _ => {
                        return Err(format!(
                            "blk.{i}.ffn_perm is not a permutation of 0..{n_ff} (index {p})"
                        ))
                    }
                }
            }
            if l.router.len() != n_embd * self.expert_count as usize {
                return Err(format!(
                    "blk.{i}.ffn_gate_inp.weight has {} values, want {n_embd} x {}",
                    l.router.len(),
                    self.expert_count
                ));
            }
        }
        Ok(())
    }

    /// A pack made without training: neurons dealt out in order (or shuffled), random or
    /// flat router. At `k = expert_count` with `expert_weights_scale = expert_count` and a
    /// tiny router, the forged model computes the teacher's function.
    pub fn synthetic(
        spec: &SyntheticPack,
        teacher_sha256: &str,
        n_layer: usize,
        n_embd: usize,
    ) -> Pack {
        let mut pack = Pack {
            teacher_sha256: teacher_sha256.to_ascii_lowercase(),
            router_display_temperature: 1.0,
            expert_count: spec.expert_count,
            expert_used_count: spec.expert_used_count,
            expert_feed_forward_length: spec.expert_feed_forward_length,
            expert_shared_count: spec.expert_shared_count,
            expert_weights_scale: spec.expert_count as f32,
            lora_file: None,
            layers: Vec::with_capacity(n_layer),
        };
        let n_ff = pack.n_ff();
        let mut rng = Rng(crate::sampling::SplitMix64::new(spec.seed));
        for _ in 0..n_layer {
            let mut perm: Vec<u32> = (0..n_ff as u32).collect();
            if spec.shuffle {
                for i in (1..n_ff).rev() {
                    let j = (rng.0.next_u64() % (i as u64 + 1)) as usize;
                    perm.swap(i, j);
                }
            }
            let router = (0..n_embd * spec.expert_count as usize)
                .map(|_| rng.normal() * spec.router_std)
                .collect();
            pack.layers.push(PackLayer { perm, router });
        }
        pack
    }

    /// The pack as a GGUF file (the format training writes).
    pub fn to_writer(&self) -> Result<GgufWriter, String> {
        let mut w = GgufWriter::new();
        w.set("general.architecture", "moe_tutor_pack");
        w.set(KEY_VERSION, PACK_VERSION);
        w.set(KEY_TEACHER_SHA256, self.teacher_sha256.as_str());
        w.set(
            ROUTER_DISPLAY_TEMPERATURE_KEY,
            self.router_display_temperature,
        );
        w.set(KEY_EXPERT_COUNT, self.expert_count);
        w.set(KEY_EXPERT_USED_COUNT, self.expert_used_count);
        w.set(KEY_EXPERT_FF, self.expert_feed_forward_length);
        w.set(KEY_EXPERT_SHARED_COUNT, self.expert_shared_count);
        w.set(KEY_EXPERT_WEIGHTS_SCALE, self.expert_weights_scale);
        if let Some(name) = &self.lora_file {
            w.set(KEY_LORA_FILE, name.as_str());
        }
        let e = u64::from(self.expert_count);
        for (i, l) in self.layers.iter().enumerate() {
            let bytes = l
                .perm
                .iter()
                .flat_map(|&p| (p as i32).to_le_bytes())
                .collect();
            w.add_raw(
                &format!("blk.{i}.ffn_perm"),
                &[l.perm.len() as u64],
                GgmlType::I32,
                bytes,
            )
            .map_err(|e| e.to_string())?;
            let n_embd = l.router.len() as u64 / e.max(1);
            w.add_f32(
                &format!("blk.{i}.ffn_gate_inp.weight"),
                &[n_embd, e],
                &l.router,
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(w)
    }

    /// Save the pack atomically.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        self.to_writer()?
            .write(path)
            .map_err(|e| format!("writing pack {}: {e}", path.display()))
    }
}
