//! Forge merges the LoRA adapter a pack names into the weights it writes: the merged model
//! computes what the unmerged model computes with the adapter loaded, it stays
//! deterministic, and the adapter applied at -1 (what `/lora off` does) takes the merge out.

mod common;

use std::path::{Path, PathBuf};

use moe_tutor::engine::EngineCommand;
use moe_tutor::eval::{self, KlOptions};
use moe_tutor::model::forge::{self, ForgeOptions, Pack, SyntheticPack, KEY_LORA_MERGED};
use moe_tutor::model::gguf::{GgufFile, GgufWriter};
use moe_tutor::model::tiny::{self, TinySpec};

const TEXT: &str = "Hello world, the model has experts and a router. What is the answer to \
the question? The router picks the experts for each token in each layer. People like to \
learn about the mixture of experts: the water was long and the day was first. 你好世界 专家模型";

/// n_ff = 128 = shared 2 x 16 + 6 experts x 16, 3 used per token.
fn spec() -> SyntheticPack {
    SyntheticPack {
        expert_count: 6,
        expert_used_count: 3,
        expert_feed_forward_length: 16,
        expert_shared_count: 2,
        router_std: 0.5,
        shuffle: true,
        seed: 11,
    }
}

/// A seeded adapter on every routed and shared expert matrix of every layer.
fn write_adapter(path: &Path, n_layer: usize, n_embd: u64) {
    let mut state = 99u64;
    let mut noise = |n: u64, scale: f32| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
            })
            .collect()
    };
    let mut w = GgufWriter::new();
    w.set("general.architecture", "deepseek");
    w.set("general.type", "adapter");
    w.set("adapter.type", "lora");
    w.set("adapter.lora.alpha", 8.0f32);
    let (r, ffe, e, sh) = (4u64, 16u64, 6u64, 32u64);
    for i in 0..n_layer {
        for (part, n_in, n_out) in [
            ("gate", n_embd, ffe),
            ("up", n_embd, ffe),
            ("down", ffe, n_embd),
        ] {
            let name = format!("blk.{i}.ffn_{part}_exps.weight");
            w.add_f32(
                &format!("{name}.lora_a"),
                &[n_in, r, e],
                &noise(n_in * r * e, 0.3),
            )
            .expect("a");
            w.add_f32(
                &format!("{name}.lora_b"),
                &[r, n_out, e],
                &noise(r * n_out * e, 0.3),
            )
            .expect("b");
        }
        for (part, n_in, n_out) in [
            ("gate", n_embd, sh),
            ("up", n_embd, sh),
            ("down", sh, n_embd),
        ] {
            let name = format!("blk.{i}.ffn_{part}_shexp.weight");
            w.add_f32(&format!("{name}.lora_a"), &[n_in, r], &noise(n_in * r, 0.3))
                .expect("a");
            w.add_f32(
                &format!("{name}.lora_b"),
                &[r, n_out],
                &noise(r * n_out, 0.3),
            )
            .expect("b");
        }
    }
    w.write(path).expect("adapter writes");
}

struct Setup {
    teacher: PathBuf,
    lora: PathBuf,
    plain: PathBuf,
    merged: PathBuf,
    text: PathBuf,
}

fn forge_to(teacher: &Path, pack: &Path, out: &Path) -> forge::ForgeReport {
    let opts = ForgeOptions {
        teacher: teacher.to_path_buf(),
        pack: pack.to_path_buf(),
        out: out.to_path_buf(),
        name: "merged tiny".into(),
        teacher_sha256: None,
        merge_lora: true,
    };
    forge::forge(&opts, &mut |_| {}).expect("forge succeeds")
}

fn setup(dir: &Path) -> Setup {
    let teacher = dir.join("teacher.gguf");
    tiny::write(&teacher, &TinySpec::dense()).expect("teacher");
    let t = GgufFile::open(&teacher).expect("teacher opens");
    let n_layer = t.arch_u32("block_count").expect("layers") as usize;
    let n_embd = t.arch_u32("embedding_length").expect("width");
    let sha = forge::sha256_file(&teacher).expect("hash");
    let mut pack = Pack::synthetic(&spec(), &sha, n_layer, n_embd as usize);
    // Without the adapter named: the unmerged model.
    let plain_pack = dir.join("plain-pack.gguf");
    pack.write(&plain_pack).expect("pack");
    pack.lora_file = Some("adapter.gguf".into());
    let merged_pack = dir.join("pack.gguf");
    pack.write(&merged_pack).expect("pack");
    assert_eq!(Pack::read(&merged_pack).expect("reads"), pack);
    let lora = dir.join("adapter.gguf");
    write_adapter(&lora, n_layer, u64::from(n_embd));
    let (plain, merged) = (dir.join("plain.gguf"), dir.join("merged.gguf"));
    forge_to(&teacher, &plain_pack, &plain);
    let a = forge_to(&teacher, &merged_pack, &merged);
    let b = forge_to(&teacher, &merged_pack, &dir.join("again.gguf"));
    assert_eq!(a.sha256, b.sha256, "merging is deterministic");
    let text = dir.join("text.txt");
    std::fs::write(&text, TEXT.repeat(3)).expect("text");
    Setup {
        teacher,
        lora,
        plain,
        merged,
        text,
    }
}

fn kl(reference: &Path, model: &Path, text: &Path, lora: Option<(&Path, f32)>) -> f64 {
    let mut o = KlOptions::new(reference.into(), model.into(), text.into());
    o.threads = 2;
    if let Some((path, scale)) = lora {
        o.lora = Some(path.into());
        o.lora_scale = scale;
    }
    eval::kl(&o, &mut |_| {}).expect("kl runs").kl
}

#[test]
fn the_merged_model_is_the_model_with_its_adapter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup(dir.path());
    let f = GgufFile::open(&s.merged).expect("opens");
    forge::check_deepseek_layout(&f).expect("deepseek layout");
    assert_eq!(f.get_str(KEY_LORA_MERGED), Some("adapter.gguf"));
    assert!(GgufFile::open(&s.plain)
        .expect("opens")
        .get_str(KEY_LORA_MERGED)
        .is_none());
    // The adapter matters...
    let apart = kl(&s.plain, &s.merged, &s.text, None);
    // ...and merged equals unmerged + adapter at scale 1, up to rounding into F16.
    let merged_vs_adapter = kl(&s.merged, &s.plain, &s.text, Some((&s.lora, 1.0)));
    // Scale 0 on a merged model applies the adapter at -1: the unmerged model again.
    let off = kl(&s.plain, &s.merged, &s.text, Some((&s.lora, 0.0)));
    eprintln!("apart {apart:.6}, merged vs adapter {merged_vs_adapter:.6}, off {off:.6}");
    assert!(apart > 1e-3, "{apart}");
    assert!(
        merged_vs_adapter < apart / 100.0,
        "{merged_vs_adapter} vs {apart}"
    );
    assert!(off < apart / 100.0, "{off} vs {apart}");
    assert!(kl(&s.teacher, &s.teacher, &s.text, None) < 1e-9);
}

#[test]
fn lora_off_on_a_merged_model_gives_the_unmerged_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup(dir.path());
    let first_logit =
        |r: &common::Reply| r.tokens[0].step.as_ref().expect("step").candidates[0].logit;
    let mut plain = common::start(common::load_options(&s.plain)).expect("plain loads");
    let base = plain.chat(
        1,
        vec![common::user("adapter test")],
        common::params(0.0, 1.0, 1),
        6,
    );
    let mut adapted = common::load_options(&s.plain);
    adapted.lora = Some(s.lora.clone());
    let mut adapted = common::start(adapted).expect("plain + adapter loads");
    let with = adapted.chat(
        1,
        vec![common::user("adapter test")],
        common::params(0.0, 1.0, 1),
        6,
    );

    let mut opts = common::load_options(&s.merged);
    opts.lora = Some(s.lora.clone());
    let mut e = common::start(opts).expect("merged + adapter loads");
    assert_eq!(e.info.lora_adapter.as_deref(), Some("adapter.gguf"));
    // On (the start): the merged weights alone, as the unmerged model with the adapter.
    let on = e.chat(
        1,
        vec![common::user("adapter test")],
        common::params(0.0, 1.0, 1),
        6,
    );
    assert!((first_logit(&on) - first_logit(&with)).abs() < 2e-2);
    assert!((first_logit(&on) - first_logit(&base)).abs() > 5e-2);
    e.handle.send(EngineCommand::SetLora(false));
    let off = e.chat(
        2,
        vec![common::user("adapter test")],
        common::params(0.0, 1.0, 1),
        6,
    );
    assert!((first_logit(&off) - first_logit(&base)).abs() < 2e-2);
    e.handle.send(EngineCommand::SetLora(true));
    let again = e.chat(
        3,
        vec![common::user("adapter test")],
        common::params(0.0, 1.0, 1),
        6,
    );
    assert_eq!(again.ids(), on.ids());
}

/// `model forge --no-merge`: a pack that names its adapter, forged without merging it, holds
/// exactly the tensors of the same pack without the adapter named, and is not marked merged.
#[test]
fn forging_without_the_merge_writes_the_unadapted_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup(dir.path());
    let unmerged = dir.path().join("unmerged.gguf");
    let opts = ForgeOptions {
        teacher: s.teacher.clone(),
        pack: dir.path().join("pack.gguf"),
        out: unmerged.clone(),
        name: "unmerged tiny".into(),
        teacher_sha256: None,
        merge_lora: false,
    };
    forge::forge(&opts, &mut |_| {}).expect("forge succeeds");
    let (a, b) = (
        GgufFile::open(&unmerged).expect("opens"),
        GgufFile::open(&s.plain).expect("opens"),
    );
    assert!(a.get_str(KEY_LORA_MERGED).is_none());
    assert!(GgufFile::open(&s.merged)
        .expect("opens")
        .get_str(KEY_LORA_MERGED)
        .is_some());
    assert_eq!(a.tensors().len(), b.tensors().len());
    let mut differs_from_merged = 0;
    let m = GgufFile::open(&s.merged).expect("opens");
    for t in a.tensors() {
        let u = b.tensor(&t.name).expect("same tensor names");
        assert_eq!((t.dtype, &t.shape), (u.dtype, &u.shape), "{}", t.name);
        let bytes = a.read_tensor_bytes(t).expect("reads");
        assert_eq!(bytes, b.read_tensor_bytes(u).expect("reads"), "{}", t.name);
        let mt = m.tensor(&t.name).expect("merged has it");
        if m.read_tensor_bytes(mt).expect("reads") != bytes {
            differs_from_merged += 1;
        }
    }
    // The merge changed the expert matrices of every layer: 6 per layer at least.
    assert!(differs_from_merged >= 6, "{differs_from_merged}");
}
