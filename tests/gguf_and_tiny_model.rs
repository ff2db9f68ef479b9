//! The GGUF reader and writer against each other and against damaged files, and the tiny
//! generated models against llama.cpp itself.

use std::path::{Path, PathBuf};

use moe_tutor::model::gguf::{Array, GgmlType, GgufFile, GgufWriter, Value};
use moe_tutor::model::tiny::{self, TinySpec};

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write test file");
    p
}

fn open_err(dir: &Path, bytes: &[u8]) -> String {
    let p = write_bytes(dir, "bad.gguf", bytes);
    match GgufFile::open(&p) {
        Ok(_) => panic!("a damaged file was accepted"),
        Err(e) => e.to_string(),
    }
}

fn all_values() -> Vec<(&'static str, Value)> {
    vec![
        ("t.u8", Value::U8(200)),
        ("t.i8", Value::I8(-100)),
        ("t.u16", Value::U16(60_000)),
        ("t.i16", Value::I16(-30_000)),
        ("t.u32", Value::U32(4_000_000_000)),
        ("t.i32", Value::I32(-2_000_000_000)),
        ("t.f32", Value::F32(1.5e-5)),
        ("t.bool", Value::Bool(true)),
        ("t.string", Value::from("héllo 你好")),
        ("t.u64", Value::U64(u64::MAX - 1)),
        ("t.i64", Value::I64(i64::MIN + 1)),
        ("t.f64", Value::F64(-2.5e300)),
        ("a.u8", Value::from(vec![1u8, 2, 255])),
        ("a.i8", Value::from(vec![-1i8, 0, 127])),
        ("a.u16", Value::from(vec![1u16, 65_535])),
        ("a.i16", Value::from(vec![-5i16, 5])),
        ("a.u32", Value::from(vec![7u32])),
        ("a.i32", Value::from(vec![-7i32, 0, 7])),
        ("a.f32", Value::from(vec![0.25f32, -1.0, f32::MAX])),
        ("a.bool", Value::from(vec![true, false, true])),
        ("a.string", Value::from(vec!["", "a", "\u{2581}the"])),
        ("a.u64", Value::from(vec![u64::MAX])),
        ("a.i64", Value::from(vec![i64::MIN, -1])),
        ("a.f64", Value::from(vec![0.1f64, 1e-300])),
        ("a.empty", Value::Array(Array::F32(Vec::new()))),
    ]
}

#[test]
fn writer_and_reader_roundtrip_every_value_type_and_tensor_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    for alignment in [None, Some(64u32)] {
        let mut w = GgufWriter::new();
        w.set("general.architecture", "deepseek");
        if let Some(a) = alignment {
            w.set("general.alignment", a);
        }
        for (k, v) in all_values() {
            w.set(k, v);
        }
        w.add_f32("norm", &[3], &[1.0, 2.0, 3.0]).expect("f32");
        let m: Vec<f32> = (0..2 * 3 * 4).map(|i| i as f32 * 0.125).collect();
        w.add_f16("experts", &[2, 3, 4], &m).expect("f16");
        let mut q8 = half::f16::from_f32(0.5).to_le_bytes().to_vec();
        q8.extend((0..32).map(|i| i as u8));
        w.add_raw("q8", &[32], GgmlType::Q8_0, q8.clone())
            .expect("q8_0");
        w.add_raw("q4k", &[256], GgmlType::Q4K, vec![9; 144])
            .expect("q4_k");
        w.add_f32("scalar", &[], &[4.0]).expect("0-d");

        let path = dir.path().join("all.gguf");
        w.write(&path).expect("write");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            w.to_bytes().expect("bytes")
        );

        let f = GgufFile::open(&path).expect("reads back");
        assert_eq!(f.version(), 3);
        assert_eq!(f.alignment(), u64::from(alignment.unwrap_or(32)));
        assert_eq!(f.data_offset() % f.alignment(), 0);
        for (k, v) in all_values() {
            assert_eq!(f.get(k), Some(&v), "{k}");
        }
        let keys: Vec<&str> = f.metadata().map(|(k, _)| k).collect();
        assert_eq!(keys[0], "general.architecture");
        assert_eq!(f.architecture(), Some("deepseek"));
        assert_eq!(f.get_u32("t.u8"), Some(200));
        assert_eq!(f.get_u32("t.u64"), None, "does not fit in u32");
        assert_eq!(f.get_u32("t.i32"), None, "negative");
        assert_eq!(f.get_f32("t.f32"), Some(1.5e-5));
        assert_eq!(f.get_str("t.string"), Some("héllo 你好"));
        assert_eq!(f.get_str("t.u8"), None);
        assert_eq!(f.get("missing"), None);

        let names: Vec<&str> = f.tensors().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["norm", "experts", "q8", "q4k", "scalar"]);
        let e = f.tensor("experts").expect("experts");
        assert_eq!(e.shape, [2, 3, 4]);
        assert_eq!(e.dtype, GgmlType::F16);
        assert_eq!(e.n_bytes, 48);
        assert_eq!(e.offset % f.alignment(), 0);
        assert_eq!(f.read_tensor_f32(e).expect("decode f16"), m);
        let n = f.tensor("norm").expect("norm");
        assert_eq!(f.read_tensor_f32(n).expect("f32"), [1.0, 2.0, 3.0]);
        let q = f.tensor("q8").expect("q8");
        assert_eq!(f.read_tensor_bytes(q).expect("raw"), q8);
        assert_eq!(f.read_tensor_f32(q).expect("q8_0")[31], 15.5);
        let k = f.tensor("q4k").expect("q4k");
        assert_eq!(f.read_tensor_bytes(k).expect("raw"), vec![9; 144]);
        let err = f.read_tensor_f32(k).expect_err("q4_k is not decoded");
        assert!(err.to_string().contains("Q4_K"), "{err}");
        assert_eq!(f.tensor("scalar").expect("scalar").shape, Vec::<u64>::new());

        let s = f.summary();
        assert_eq!(s.n_params, 3 + 24 + 32 + 256 + 1);
        assert_eq!(s.n_bytes, 12 + 48 + 34 + 144 + 4);
        assert_eq!(s.by_type[0].dtype, GgmlType::Q4K);
        assert_eq!(s.by_type[0].bits_per_weight(), 4.5);
    }
}

#[test]
fn writer_output_is_deterministic_and_atomic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let make = || {
        let mut w = GgufWriter::new();
        for (k, v) in all_values() {
            w.set(k, v);
        }
        w.add_f16("x", &[4, 2], &[0.1; 8]).expect("f16");
        w
    };
    let a = make().to_bytes().expect("a");
    assert_eq!(a, make().to_bytes().expect("b"));
    let path = dir.path().join("m.gguf");
    std::fs::write(&path, b"old contents").expect("old file");
    make().write(&path).expect("replace");
    assert_eq!(std::fs::read(&path).expect("read"), a);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "temporary file left behind: {leftovers:?}"
    );
}

/// A file with no metadata and one tensor named "t": the tensor info starts at byte 24.
fn one_tensor_file() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_f32("t", &[4], &[1.0; 4]).expect("tensor");
    w.to_bytes().expect("bytes")
}

/// Byte position of the type field of tensor "t" in [`one_tensor_file`].
const T_TYPE_AT: usize = 24 + 8 + 1 + 4 + 8;
const T_OFFSET_AT: usize = T_TYPE_AT + 4;

#[test]
fn reader_rejects_damaged_files_with_clear_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();

    assert_eq!(
        open_err(d, b""),
        "the file is empty (0 bytes), not a GGUF model"
    );
    assert_eq!(
        open_err(d, b"PK\x03\x04rest of a zip"),
        "not a GGUF file (starts with \"PK\\x03\\x04\")"
    );
    assert_eq!(open_err(d, b"GG"), "not a GGUF file (starts with \"GG\")");

    let good = one_tensor_file();
    let mut bad = good.clone();
    bad[4..8].copy_from_slice(&7u32.to_le_bytes());
    assert_eq!(
        open_err(d, &bad),
        "unsupported GGUF version 7 (versions 2 and 3 are supported)"
    );
    bad[4..8].copy_from_slice(&1u32.to_le_bytes());
    assert!(open_err(d, &bad).contains("unsupported GGUF version 1"));
    bad[4..8].copy_from_slice(&3u32.swap_bytes().to_le_bytes());
    assert!(open_err(d, &bad).contains("other byte order"));
    let mut v2 = good.clone();
    v2[4..8].copy_from_slice(&2u32.to_le_bytes());
    assert!(GgufFile::open(write_bytes(d, "v2.gguf", &v2)).is_ok());

    // Tensor data cut short.
    let cut = &good[..good.len() - 24]; // the data, not just its padding
    let data_start = good.len() - 32; // 16 data bytes padded to 32
    assert_eq!(
        open_err(d, cut),
        format!(
            "file is truncated: tensor 't' needs bytes {}..{} but the file has {}",
            data_start,
            data_start + 16,
            cut.len()
        )
    );
    // Cut inside the tensor table.
    let mut w = GgufWriter::new();
    w.add_f32("blk.3.ffn_up.weight", &[4], &[1.0; 4])
        .expect("tensor");
    let named = w.to_bytes().expect("bytes");
    let type_at = 24 + 8 + 19 + 4 + 8;
    assert_eq!(
        open_err(d, &named[..type_at + 2]),
        format!(
            "file is truncated: it ends at byte {} while reading the type of tensor 'blk.3.ffn_up.weight'",
            type_at + 2
        )
    );
    // Too short for even the smallest tensor entries.
    assert_eq!(
        open_err(d, &good[..T_TYPE_AT]),
        format!("tensor count 1 is impossible in a file of {T_TYPE_AT} bytes")
    );

    // Absurd counts and lengths.
    let mut bad = good.clone();
    bad[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert_eq!(
        open_err(d, &bad),
        format!(
            "tensor count 1152921504606846976 is impossible in a file of {} bytes",
            good.len()
        )
    );
    let mut bad = good.clone();
    bad[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(open_err(d, &bad).starts_with("metadata count 18446744073709551615 is impossible"));
    let mut bad = good.clone();
    bad[24..32].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert_eq!(
        open_err(d, &bad),
        format!(
            "the name of tensor #0 at byte 24 claims to be 1152921504606846976 bytes long, but only {} bytes remain in the file",
            good.len() - 32
        )
    );

    // Unknown and removed tensor types.
    let mut bad = good.clone();
    bad[T_TYPE_AT..T_TYPE_AT + 4].copy_from_slice(&99u32.to_le_bytes());
    assert_eq!(open_err(d, &bad), "tensor 't' has unknown ggml type 99");
    bad[T_TYPE_AT..T_TYPE_AT + 4].copy_from_slice(&4u32.to_le_bytes());
    assert!(open_err(d, &bad).contains("no longer accepts"));
    // Q8_0 needs rows that are a multiple of 32 elements.
    bad[T_TYPE_AT..T_TYPE_AT + 4].copy_from_slice(&8u32.to_le_bytes());
    assert!(open_err(d, &bad).contains("not a whole number of Q8_0 blocks"));

    // Misaligned and out-of-order data offsets.
    let mut bad = good.clone();
    bad[T_OFFSET_AT..T_OFFSET_AT + 8].copy_from_slice(&4u64.to_le_bytes());
    assert_eq!(
        open_err(d, &bad),
        "tensor 't' starts at data offset 4, which is not a multiple of the alignment 32"
    );
    bad[T_OFFSET_AT..T_OFFSET_AT + 8].copy_from_slice(&(1u64 << 62).to_le_bytes());
    assert!(open_err(d, &bad).starts_with("file is truncated: tensor 't' needs bytes"));
}

#[test]
fn reader_rejects_bad_metadata_and_layouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();

    // Two tensors at the same offset overlap.
    let mut w = GgufWriter::new();
    w.add_f32("a", &[8], &[0.0; 8]).expect("a");
    w.add_f32("b", &[8], &[0.0; 8]).expect("b");
    let mut bytes = w.to_bytes().expect("bytes");
    let b_offset_at = 24 + (8 + 1 + 4 + 8 + 4 + 8) + (8 + 1 + 4 + 8 + 4);
    assert_eq!(bytes[b_offset_at], 32);
    bytes[b_offset_at] = 0;
    assert_eq!(
        open_err(d, &bytes),
        "tensors 'a' and 'b' overlap in the file"
    );
    // Swapped order: b first in the data but listed second.
    let mut w = GgufWriter::new();
    w.add_f32("a", &[8], &[0.0; 8]).expect("a");
    w.add_f32("b", &[8], &[0.0; 8]).expect("b");
    let mut bytes = w.to_bytes().expect("bytes");
    let a_offset_at = 24 + (8 + 1 + 4 + 8 + 4);
    bytes[a_offset_at] = 32;
    bytes[b_offset_at] = 0;
    assert!(open_err(d, &bytes).contains("llama.cpp expects 0"));

    let check = |w: &GgufWriter, want: &str| {
        let msg = open_err(d, &w.to_bytes().expect("bytes"));
        assert!(msg.contains(want), "{msg:?} should contain {want:?}");
    };
    // The writer refuses a non-u32 alignment, so rename a key after writing.
    let mut w = GgufWriter::new();
    w.set("general.alignmenX", 32u64);
    let mut bytes = w.to_bytes().expect("bytes");
    bytes[24 + 8 + 16] = b't';
    assert_eq!(
        open_err(d, &bytes),
        "metadata 'general.alignment' is wrong: it must be a u32, not a u64"
    );

    let mut w = GgufWriter::new();
    w.set("general.architecture", "deepseek")
        .set("deepseek.expert_count", 4u32)
        .set("deepseek.expert_used_count", 6u32);
    check(&w, "6 experts used per token, but the model has only 4");
    w.set("deepseek.expert_count", 600u32);
    check(&w, "more than llama.cpp supports (512)");

    let mut w = GgufWriter::new();
    w.set("tokenizer.ggml.tokens", vec!["a", "b", "c"])
        .set("tokenizer.ggml.scores", vec![0.0f32; 2]);
    check(&w, "it has 2 entries but the vocabulary has 3 tokens");
    w.set("tokenizer.ggml.scores", vec![0.0f32; 3])
        .set("tokenizer.ggml.token_type", vec![1u8; 3]);
    check(&w, "it must be an array of i32, not an array of u8");

    // A duplicated key: write "k" twice by renaming a second key of the same length.
    let mut w = GgufWriter::new();
    w.set("k1", 1u32).set("k2", 2u32);
    let mut bytes = w.to_bytes().expect("bytes");
    let second_key = 24 + 8 + 2 + 4 + 4 + 8;
    assert_eq!(&bytes[second_key..second_key + 2], b"k2");
    bytes[second_key + 1] = b'1';
    assert_eq!(open_err(d, &bytes), "metadata key 'k1' appears twice");

    // Unknown value type, nested array, absurd array length.
    let mut w = GgufWriter::new();
    w.set("k", vec![1u32, 2]);
    let good = w.to_bytes().expect("bytes");
    let type_at = 24 + 8 + 1;
    let mut bad = good.clone();
    bad[type_at] = 13;
    assert_eq!(
        open_err(d, &bad),
        "metadata key 'k' has unknown value type 13"
    );
    let mut bad = good.clone();
    bad[type_at + 4] = 9;
    assert!(open_err(d, &bad).contains("array of arrays"));
    let mut bad = good.clone();
    bad[type_at + 8..type_at + 16].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(
        open_err(d, &bad).starts_with("array 'k' element count 1152921504606846976 is impossible")
    );

    // Escape sequences in keys do not reach the message.
    let mut w = GgufWriter::new();
    w.set("\u{1b}[2Jk1", 1u32).set("\u{1b}[2Jk2", 2u32);
    let mut bytes = w.to_bytes().expect("bytes");
    let second_key = 24 + 8 + 6 + 4 + 4 + 8;
    assert_eq!(&bytes[second_key + 4..second_key + 6], b"k2");
    bytes[second_key + 5] = b'1';
    let msg = open_err(d, &bytes);
    assert_eq!(msg, "metadata key 'k1' appears twice");
}

#[test]
fn reader_never_panics_on_cut_or_corrupted_models() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = tiny::build(&TinySpec::default())
        .expect("build")
        .to_bytes()
        .expect("bytes");
    let f = GgufFile::open(write_bytes(dir.path(), "good.gguf", &good)).expect("valid");
    let header_end = usize::try_from(f.data_offset()).expect("fits");
    // Every cut inside the header, and a sample of cuts inside the data.
    let cuts = (0..header_end)
        .step_by(7)
        .chain((header_end..good.len()).step_by(4099));
    for cut in cuts {
        let p = write_bytes(dir.path(), "cut.gguf", &good[..cut]);
        assert!(GgufFile::open(&p).is_err(), "cut at {cut} accepted");
    }
    // Corrupt header bytes with a fixed pseudo-random pattern.
    let mut x: u64 = 12345;
    for _ in 0..400 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bad = good.clone();
        let at = (x as usize) % header_end;
        bad[at] ^= (x >> 32) as u8 | 1;
        let p = write_bytes(dir.path(), "flip.gguf", &bad);
        let _ = GgufFile::open(&p);
    }
}

#[test]
fn tiny_model_is_deterministic_per_seed() {
    let bytes = |spec: &TinySpec| tiny::build(spec).expect("build").to_bytes().expect("bytes");
    let spec = TinySpec::default();
    let a = bytes(&spec);
    assert_eq!(a, bytes(&spec));
    let other = TinySpec {
        seed: spec.seed + 1,
        ..spec.clone()
    };
    let b = bytes(&other);
    assert_eq!(a.len(), b.len());
    assert_ne!(a, b);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.gguf");
    tiny::write(&path, &spec).expect("write");
    assert_eq!(std::fs::read(&path).expect("read"), a);
}

#[test]
fn tiny_moe_model_has_the_documented_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.gguf");
    tiny::write(&path, &TinySpec::default()).expect("write");
    let f = GgufFile::open(&path).expect("valid");
    assert_eq!(f.architecture(), Some("deepseek"));
    assert_eq!(f.get_str("general.name"), Some("moe-tutor tiny deepseek"));
    let s = f.summary();
    let moe = s.moe.clone().expect("moe params");
    assert_eq!(
        (
            moe.expert_count,
            moe.expert_used_count,
            moe.expert_shared_count
        ),
        (8, 2, Some(1))
    );
    assert_eq!(moe.leading_dense_block_count, Some(1));
    assert_eq!(moe.expert_feed_forward_length, Some(32));
    assert_eq!(s.block_count, Some(3));
    assert_eq!(s.embedding_length, Some(64));
    assert_eq!(s.context_length, Some(512));
    assert_eq!(s.router_display_temperature, None);
    let vocab = s.vocab_size.expect("vocab") as u64;
    assert_eq!(vocab as usize, tiny::pieces().len());

    let shape = |n: &str| f.tensor(n).unwrap_or_else(|| panic!("{n}")).shape.clone();
    assert_eq!(shape("token_embd.weight"), [64, vocab]);
    assert_eq!(shape("blk.0.ffn_up.weight"), [64, 128]);
    assert!(f.tensor("blk.0.ffn_gate_inp.weight").is_none());
    assert_eq!(shape("blk.1.ffn_gate_inp.weight"), [64, 8]);
    assert_eq!(shape("blk.2.ffn_gate_exps.weight"), [64, 32, 8]);
    assert_eq!(shape("blk.2.ffn_down_exps.weight"), [32, 64, 8]);
    assert_eq!(shape("blk.1.ffn_up_shexp.weight"), [64, 32]);
    assert_eq!(shape("blk.1.attn_k.weight"), [64, 32]);
    assert_eq!(
        f.get_u32("tokenizer.ggml.eos_token_id"),
        Some(tiny::IM_END_ID)
    );
    assert_eq!(
        f.get("tokenizer.ggml.add_bos_token"),
        Some(&Value::Bool(false))
    );

    // The router is sharp and token-dependent: on the token embeddings themselves
    // (RMS-normalised, as the router input is), the top expert differs between tokens and
    // its probability is far from uniform.
    let emb = f
        .read_tensor_f32(f.tensor("token_embd.weight").expect("emb"))
        .expect("f16 decodes");
    let router = f
        .read_tensor_f32(f.tensor("blk.1.ffn_gate_inp.weight").expect("router"))
        .expect("f32");
    let mut tops = std::collections::BTreeSet::new();
    let mut top_p = 0.0f32;
    for tok in 300..400usize {
        let x = &emb[tok * 64..tok * 64 + 64];
        let rms = (x.iter().map(|v| v * v).sum::<f32>() / 64.0).sqrt();
        let logits: Vec<f32> = (0..8)
            .map(|e| (0..64).map(|i| router[e * 64 + i] * x[i] / rms).sum())
            .collect();
        let max = logits.iter().cloned().fold(f32::MIN, f32::max);
        let z: f32 = logits.iter().map(|l| (l - max).exp()).sum();
        top_p += 1.0 / z;
        tops.insert(logits.iter().position(|&l| l == max).expect("max"));
    }
    assert!(tops.len() >= 6, "top experts {tops:?}");
    assert!(
        top_p / 100.0 > 0.35,
        "mean top-1 probability {}",
        top_p / 100.0
    );
}

#[test]
fn tiny_dense_model_is_plain_llama() {
    let w = tiny::build(&TinySpec::dense()).expect("build");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dense.gguf");
    w.write(&path).expect("write");
    let f = GgufFile::open(&path).expect("valid");
    assert_eq!(f.architecture(), Some("llama"));
    assert_eq!(f.get_str("general.name"), Some("moe-tutor tiny dense"));
    assert!(f.summary().moe.is_none());
    assert!(f.tensors().iter().all(|t| !t.name.contains("exps")));
    assert_eq!(
        f.tensor("blk.2.ffn_down.weight").expect("dense ffn").shape,
        [128, 64]
    );
}

/// llama.cpp's backend may be initialised once per process, so one test drives both models.
#[test]
fn tiny_models_load_and_run_in_llama_cpp() {
    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::llama_backend::LlamaBackend;
    use llama_cpp_2::llama_batch::LlamaBatch;
    use llama_cpp_2::model::params::LlamaModelParams;
    use llama_cpp_2::model::{AddBos, LlamaChatMessage, LlamaModel};

    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default().with_logs_enabled(false));
    let backend = LlamaBackend::init().expect("backend");
    let dir = tempfile::tempdir().expect("tempdir");
    for spec in [TinySpec::default(), TinySpec::dense()] {
        let path = dir.path().join(format!("{}.gguf", spec.architecture()));
        tiny::write(&path, &spec).expect("write");
        let model = LlamaModel::load_from_file(&backend, &path, &LlamaModelParams::default())
            .unwrap_or_else(|e| panic!("{} does not load: {e}", spec.architecture()));
        assert_eq!(model.n_vocab() as usize, tiny::pieces().len());
        assert_eq!(model.n_layer(), 3);
        assert_eq!(model.token_bos().0 as u32, tiny::BOS_ID);
        assert_eq!(model.token_eos().0 as u32, tiny::IM_END_ID);

        let tokens = model
            .str_to_token("Hello, world! 你好", AddBos::Never)
            .expect("tokenize");
        let n_vocab = model.n_vocab();
        assert!(tokens.iter().all(|t| t.0 >= 0 && t.0 < n_vocab));
        assert!(tokens.len() >= 4, "{tokens:?}");
        let hello = model
            .str_to_token("hello", AddBos::Never)
            .expect("tokenize");
        assert_eq!(hello.len(), 1, "'\u{2581}hello' is one piece: {hello:?}");

        let ctx_params = LlamaContextParams::default()
            .with_n_ctx(std::num::NonZeroU32::new(128))
            .with_n_threads(2)
            .with_n_threads_batch(2);
        let mut ctx = model.new_context(&backend, ctx_params).expect("context");
        let mut batch = LlamaBatch::new(64, 1);
        for (i, t) in tokens.iter().enumerate() {
            batch
                .add(*t, i as i32, &[0], i + 1 == tokens.len())
                .expect("batch");
        }
        ctx.decode(&mut batch).expect("decode");
        let logits = ctx.get_logits_ith(tokens.len() as i32 - 1);
        assert_eq!(logits.len(), n_vocab as usize);
        assert!(logits.iter().all(|l| l.is_finite()), "non-finite logits");
        let spread = logits.iter().cloned().fold(f32::MIN, f32::max)
            - logits.iter().cloned().fold(f32::MAX, f32::min);
        assert!(spread > 0.1, "logits are flat: {spread}");

        let tmpl = model.chat_template(None).expect("chat template");
        let chat = [
            LlamaChatMessage::new("system".into(), "Be brief.".into()).expect("msg"),
            LlamaChatMessage::new("user".into(), "Hello".into()).expect("msg"),
        ];
        let prompt = model
            .apply_chat_template(&tmpl, &chat, true)
            .expect("apply");
        assert_eq!(
            prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
        );
        let ids = model
            .str_to_token(&prompt, AddBos::Never)
            .expect("tokenize");
        assert_eq!(ids[0].0 as u32, tiny::IM_START_ID, "control tokens parse");
    }
}
