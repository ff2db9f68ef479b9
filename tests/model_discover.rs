//! Model discovery over fake tool folders in a temporary home: the Hugging Face hub cache
//! (snapshot links to blobs), LM Studio, Ollama (manifests and blobs), llama.cpp's cache,
//! a settings folder and the app's data folder, all holding small real GGUF files written
//! by the project's own generator, plus broken links, a corrupt file, a split model and an
//! unreadable folder. Also `model list` end to end and the memory figures of `model info`.

mod common;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use moe_tutor::model::discover::{self, Entry, Group, Locations, SourceKind};
use moe_tutor::model::gguf::GgufFile;

const OLLAMA_HEX: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const OLLAMA_MISSING: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn mkdir(p: &Path) {
    std::fs::create_dir_all(p).expect("mkdir");
}

fn copy(from: &Path, to: &Path) {
    mkdir(to.parent().expect("parent"));
    std::fs::copy(from, to).expect("copy");
}

fn manifest(digest_hex: &str) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
"config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:{}","size":10}},
"layers":[{{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:{}","size":5}},
{{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:{digest_hex}","size":100}}]}}"#,
        "1".repeat(64),
        "2".repeat(64)
    )
}

struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    data: PathBuf,
    extra: PathBuf,
    locked: PathBuf,
}

impl Home {
    fn env(&self) -> HashMap<&'static str, OsString> {
        HashMap::from([("HOME", self.home.clone().into_os_string())])
    }

    fn locations(&self) -> Locations {
        let env = self.env();
        Locations::from_lookup(
            |k| env.get(k).cloned(),
            &[PathBuf::from("~/my-models")],
            &self.data,
        )
    }
}

/// The fake home: every tool's folder with something in it.
fn fake_home() -> Home {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let moe = common::tiny_moe();
    // Hugging Face: a snapshot file linking to its blob, and a link to a blob that is gone.
    let repo = home.join(".cache/huggingface/hub/models--tiny-org--Tiny-MoE-GGUF");
    copy(&moe, &repo.join("blobs/abc123"));
    let snap = repo.join("snapshots/0123abcd");
    mkdir(&snap);
    std::os::unix::fs::symlink("../../blobs/abc123", snap.join("tiny-moe-Q8_0.gguf"))
        .expect("link");
    std::os::unix::fs::symlink("../../blobs/gone", snap.join("missing-F16.gguf")).expect("link");
    mkdir(&repo.join("refs"));
    // LM Studio: a dense model and a model split in two parts (each part a GGUF file).
    let lms = home.join(".lmstudio/models/someone");
    copy(&common::tiny_dense(), &lms.join("dense/tiny-dense.gguf"));
    copy(&moe, &lms.join("split/tiny-00001-of-00002.gguf"));
    copy(&moe, &lms.join("split/tiny-00002-of-00002.gguf"));
    // Only the second part of another split model.
    copy(&moe, &lms.join("half/orphan-00002-of-00002.gguf"));
    // Ollama: a manifest whose model layer is a Mixtral-style blob, and one whose blob is
    // missing.
    let ollama = home.join(".ollama/models");
    copy(
        &common::tiny_mixtral(),
        &ollama.join(format!("blobs/sha256-{OLLAMA_HEX}")),
    );
    let man = ollama.join("manifests/registry.ollama.ai/library/tinymix/latest");
    mkdir(man.parent().expect("parent"));
    std::fs::write(&man, manifest(OLLAMA_HEX)).expect("manifest");
    let gone = ollama.join("manifests/registry.ollama.ai/someone/ghost/q4");
    mkdir(gone.parent().expect("parent"));
    std::fs::write(&gone, manifest(OLLAMA_MISSING)).expect("manifest");
    // llama.cpp's cache: a corrupt file and a qwen3moe model.
    let llama = home.join(".cache/llama.cpp");
    mkdir(&llama);
    std::fs::write(llama.join("corrupt.gguf"), b"this is not a model at all").expect("write");
    copy(&common::tiny_qwen3moe(), &llama.join("tiny-qwen3moe.gguf"));
    // A settings folder: another link to the hub blob (listed once) and a locked folder.
    let extra = home.join("my-models");
    mkdir(&extra);
    std::os::unix::fs::symlink(repo.join("blobs/abc123"), extra.join("same-as-hub.gguf"))
        .expect("link");
    let locked = extra.join("locked");
    mkdir(&locked);
    std::fs::write(locked.join("x.gguf"), b"GGUF").expect("write");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000))
        .expect("chmod");
    // The app's data folder holds a LoRA adapter, which is not a model.
    let data = dir.path().join("data");
    copy(&common::tiny_lora(), &data.join("models/lora.gguf"));
    Home {
        _dir: dir,
        home,
        data,
        extra,
        locked,
    }
}

fn find<'a>(entries: &'a [Entry], name: &str) -> &'a Entry {
    entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} not listed; got {:?}", names(entries)))
}

fn names(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

fn problem(e: &Entry) -> &str {
    e.found.as_ref().err().map(String::as_str).unwrap_or("")
}

#[test]
fn every_tool_folder_is_found_with_its_facts_and_problems_are_listed() {
    let h = fake_home();
    let entries = discover::discover(&h.locations());

    // Hugging Face: named org/repo/file, the snapshot link followed to its blob.
    let hub = find(&entries, "tiny-org/Tiny-MoE-GGUF/tiny-moe-Q8_0.gguf");
    assert_eq!(hub.source, SourceKind::HuggingFace);
    let f = hub.found.as_ref().expect("hub model readable");
    assert_eq!(f.architecture.as_deref(), Some("deepseek"));
    let m = f.moe.as_ref().expect("experts");
    assert_eq!(
        (m.expert_count, m.expert_used_count, m.expert_shared_count),
        (8, 2, Some(1))
    );
    assert_eq!(f.context_length, Some(512));
    assert_eq!(f.shards, 1);
    let moe_len = std::fs::metadata(common::tiny_moe()).expect("stat").len();
    assert_eq!(f.file_size, moe_len);
    // The same blob through the settings folder's link is not listed a second time.
    assert!(!names(&entries).contains(&"same-as-hub.gguf"));

    // Active parameters: everything but the routed experts, plus k/E of them.
    let file = GgufFile::open(common::tiny_moe()).expect("open");
    let total: u64 = file.tensors().iter().map(|t| t.n_elements()).sum();
    let routed: u64 = file
        .tensors()
        .iter()
        .filter(|t| t.name.contains("_exps"))
        .map(|t| t.n_elements())
        .sum();
    assert!(routed > 0);
    assert_eq!(f.total_params, total);
    assert_eq!(f.active_params, total - routed + routed * 2 / 8);
    let group = |g: Group| f.groups.iter().find(|s| s.group == g).map(|s| s.n_params);
    assert_eq!(group(Group::RoutedExperts), Some(routed));
    assert!(group(Group::SharedExperts).unwrap_or(0) > 0);
    assert!(group(Group::Router).unwrap_or(0) > 0);
    assert!(group(Group::DenseFfn).unwrap_or(0) > 0, "layer 0 is dense");
    let group_sum: u64 = f.groups.iter().map(|g| g.n_bytes).sum();
    assert_eq!(group_sum, f.weight_bytes);

    // LM Studio: the split model once, its size both parts; the dense model after every
    // MoE model.
    let split = find(&entries, "someone/split/tiny-00001-of-00002.gguf");
    let sf = split.found.as_ref().expect("split readable");
    assert_eq!((sf.shards, sf.file_size), (2, 2 * moe_len));
    assert!(!names(&entries).iter().any(|n| n.contains("tiny-00002-of")));
    let orphan = find(&entries, "someone/half/orphan-00002-of-00002.gguf");
    assert!(
        problem(orphan).contains("without its first part"),
        "{orphan:?}"
    );
    let dense = find(&entries, "someone/dense/tiny-dense.gguf");
    assert!(dense.found.as_ref().is_ok_and(|f| !f.is_moe()));
    let pos = |name: &str| entries.iter().position(|e| e.name == name).expect("pos");
    let last_moe = entries
        .iter()
        .rposition(|e| e.found.as_ref().is_ok_and(|f| f.is_moe()))
        .expect("some MoE");
    assert!(last_moe < pos("someone/dense/tiny-dense.gguf"));
    let first_problem = entries
        .iter()
        .position(|e| e.found.is_err())
        .expect("a problem");
    assert!(entries[first_problem..].iter().all(|e| e.found.is_err()));

    // Ollama: named from the manifest path, loaded from the digest's blob.
    let ol = find(&entries, "tinymix:latest");
    assert_eq!(ol.source, SourceKind::Ollama);
    assert!(ol
        .path
        .ends_with(format!("blobs/sha256-{OLLAMA_HEX}").as_str()));
    assert_eq!(
        ol.found
            .as_ref()
            .expect("ollama model")
            .architecture
            .as_deref(),
        Some("llama")
    );
    let ghost = find(&entries, "someone/ghost:q4");
    assert!(problem(ghost).contains("missing"), "{ghost:?}");

    // llama.cpp's cache: the qwen3moe model, and the corrupt file with the reader's reason.
    let q = find(&entries, "tiny-qwen3moe.gguf");
    assert_eq!(q.source, SourceKind::LlamaCpp);
    let corrupt = find(&entries, "corrupt.gguf");
    assert!(problem(corrupt).contains("not a GGUF"), "{corrupt:?}");

    // The broken snapshot link.
    let broken = find(&entries, "tiny-org/Tiny-MoE-GGUF/missing-F16.gguf");
    assert!(problem(broken).contains("broken link"), "{broken:?}");

    // The locked folder: root reads it anyway, so the check needs a real refusal.
    if std::fs::read_dir(&h.locked).is_err() {
        let locked = find(&entries, "locked");
        assert!(problem(locked).contains("cannot be read"), "{locked:?}");
    } else {
        eprintln!("running as root: permissions do not lock a folder; that case is not checked");
    }
    let _ = &h.extra;

    // The adapter in the data folder is not a model.
    assert!(!names(&entries).iter().any(|n| n.contains("lora")));
}

#[test]
fn environment_variables_move_the_tool_folders() {
    let env: HashMap<&str, OsString> = HashMap::from([
        ("HOME", OsString::from("/home/u")),
        ("HF_HOME", OsString::from("/data/hf")),
        ("OLLAMA_MODELS", OsString::from("/srv/ollama")),
        ("LLAMA_CACHE", OsString::from("/srv/llama")),
    ]);
    let l = Locations::from_lookup(|k| env.get(k).cloned(), &[], Path::new("/d"));
    assert_eq!(l.hf_hub, vec![PathBuf::from("/data/hf/hub")]);
    assert_eq!(l.ollama, vec![PathBuf::from("/srv/ollama")]);
    assert!(l
        .folders
        .contains(&(SourceKind::LlamaCpp, PathBuf::from("/srv/llama"))));
    assert!(l.folders.contains(&(
        SourceKind::LmStudio,
        PathBuf::from("/home/u/.lmstudio/models")
    )));
    let env2: HashMap<&str, OsString> = HashMap::from([
        ("HOME", OsString::from("/home/u")),
        ("HF_HOME", OsString::from("/data/hf")),
        ("HF_HUB_CACHE", OsString::from("/fast/hub")),
    ]);
    let l = Locations::from_lookup(|k| env2.get(k).cloned(), &[], Path::new("/d"));
    assert_eq!(l.hf_hub, vec![PathBuf::from("/fast/hub")]);
    assert_eq!(l.ollama, vec![PathBuf::from("/home/u/.ollama/models")]);
}

#[test]
fn model_list_prints_json_lines_and_text_from_a_fake_home() {
    let h = fake_home();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_moe-tutor"))
            .args(args)
            .env_clear()
            .env("HOME", &h.home)
            .env("MOE_TUTOR_DATA_DIR", &h.data)
            .env("MOE_TUTOR_CONFIG_DIR", h.home.join("cfg"))
            .output()
            .expect("run moe-tutor");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let json = run(&["model", "list", "--json", "--ctx", "256"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let hub = rows
        .iter()
        .find(|r| r["name"] == "tiny-org/Tiny-MoE-GGUF/tiny-moe-Q8_0.gguf")
        .expect("hub model in JSON");
    assert_eq!(hub["source"], "hugging_face");
    assert_eq!(hub["experts"]["routed"], 8);
    assert_eq!(hub["experts"]["used"], 2);
    assert_eq!(hub["experts"]["shared"], 1);
    assert_eq!(hub["memory"]["n_ctx"], 256);
    assert!(hub["fits"].is_boolean(), "{hub}");
    assert!(rows
        .iter()
        .any(|r| r["name"] == "corrupt.gguf" && r["problem"].is_string()));

    let split = h
        .home
        .join(".lmstudio/models/someone/split/tiny-00001-of-00002.gguf");
    let info = run(&["model", "info", split.to_str().unwrap(), "--ctx", "300"]);
    assert!(info.contains("split model: 2 parts"), "{info}");
    assert!(
        info.contains("memory for a context of 300 tokens (512 KV cells, batch 512)"),
        "{info}"
    );
    for group in [
        "attention",
        "routed experts",
        "shared experts",
        "router",
        "KV cache",
    ] {
        assert!(info.contains(group), "{group}: {info}");
    }
    let text = run(&["model", "list", "--ctx", "256"]);
    assert!(text.contains("tinymix:latest  [ollama]"), "{text}");
    assert!(text.contains("8 experts, 2 per token, 1 shared"), "{text}");
    let zh = run(&["model", "list", "--lang", "zh-CN"]);
    assert!(zh.contains("8 个专家，每词元用 2 个，1 个共享"), "{zh}");
    assert!(!text.contains('\u{1b}'));
}
