//! Loading a model: checks before llama.cpp sees the file, the experts-per-token override,
//! and what the app shows about the model.

use std::ffi::CString;
use std::path::Path;
use std::pin::pin;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::kv_overrides::ParamOverrideValue;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;

use super::api::LoadOptions;
use super::ffi::StderrRedirect;
use crate::text::sanitize;
use crate::transcript::ModelInfo;

/// Metadata read from the GGUF header before loading.
struct Header {
    arch: String,
    name: Option<String>,
    n_expert: u32,
    n_expert_used: u32,
    n_expert_shared: u32,
    n_ff_exp: u32,
    /// `expert_shared_feed_forward_length`, where the architecture writes one.
    n_ff_shexp: Option<u32>,
    n_dense_lead: u32,
    display_temperature: Option<f32>,
    /// Where the tensor data starts: the header is everything before.
    data_offset: u64,
}

fn read_header(path: &Path) -> Result<Header, String> {
    let file = crate::model::gguf::GgufFile::open(path).map_err(|e| e.to_string())?;
    let arch = file
        .architecture()
        .ok_or("the GGUF file names no architecture (general.architecture)")?
        .to_string();
    let key = |k: &str| format!("{arch}.{k}");
    Ok(Header {
        name: file.get_str("general.name").map(sanitize),
        n_expert: file.get_u32(&key("expert_count")).unwrap_or(0),
        n_expert_used: file.get_u32(&key("expert_used_count")).unwrap_or(0),
        n_expert_shared: file.get_u32(&key("expert_shared_count")).unwrap_or(0),
        n_ff_exp: file
            .get_u32(&key("expert_feed_forward_length"))
            .unwrap_or(0),
        n_ff_shexp: file.get_u32(&key("expert_shared_feed_forward_length")),
        n_dense_lead: file.get_u32(&key("leading_dense_block_count")).unwrap_or(0),
        display_temperature: file
            .get_f32("moe_tutor.router_display_temperature")
            .filter(|t| t.is_finite() && *t > 0.0),
        arch: sanitize(&arch),
        data_offset: file.data_offset(),
    })
}

/// Whether the model's weights already hold its LoRA adapter (forge merged it): then the
/// adapter is switched off by applying it at -1, and on by removing that.
pub(crate) fn lora_merged(path: &Path) -> bool {
    crate::model::gguf::GgufFile::open(path)
        .ok()
        .is_some_and(|f| f.get_str(crate::model::forge::KEY_LORA_MERGED).is_some())
}

/// The checks a file passes before llama.cpp may load it: it exists, the pre-parser
/// accepts it, and (when `opts.check` asks) a child process loaded it.
fn precheck(opts: &LoadOptions, stop: &dyn Fn() -> bool) -> Result<Header, String> {
    let path = &opts.model;
    if !path.exists() {
        return Err(format!("model file not found: {}", path.display()));
    }
    if path.is_dir() {
        return Err(format!(
            "{} is a directory, not a GGUF file",
            path.display()
        ));
    }
    let header = read_header(path).map_err(|e| format!("{}: {e}", path.display()))?;
    super::preflight::ensure_loadable(path, header.data_offset, opts, stop)?;
    Ok(header)
}

/// [`precheck`] for a model switch, while the current model stays loaded.
pub(crate) fn check_before_switch(
    opts: &LoadOptions,
    stop: &dyn Fn() -> bool,
) -> Result<(), String> {
    precheck(opts, stop).map(|_| ())
}

/// Model parameters for `--gpu-layers`: llama.cpp's default where it is not given; above 0
/// it needs a GPU backend in this binary (`gpu` says whether llama.cpp has one).
pub(crate) fn gpu_params(gpu: bool, gpu_layers: Option<u32>) -> Result<LlamaModelParams, String> {
    match gpu_layers {
        Some(n) if n > 0 && !gpu => Err(format!(
            "--gpu-layers {n}: this moe-tutor was built without a GPU backend, so every layer \
             runs on the CPU; build it with one (cargo build --release --features cuda, or \
             vulkan, or metal; README, \"GPU builds\") or leave --gpu-layers out"
        )),
        Some(n) => Ok(LlamaModelParams::default().with_n_gpu_layers(n)),
        None => Ok(LlamaModelParams::default()),
    }
}

/// Load the model for `opts`. Errors are one-line messages for the user. The pre-parser
/// reads the file first; then, when `opts.check` asks for it, a child process tries it
/// ([`super::preflight`]); `stop` cuts that short (the engine is shutting down).
pub fn load(
    backend: &LlamaBackend,
    opts: &LoadOptions,
    stop: &dyn Fn() -> bool,
) -> Result<(LlamaModel, ModelInfo), String> {
    let path = &opts.model;
    let header = precheck(opts, stop)?;
    let mut n_expert_used = header.n_expert_used;
    // `--rpc` workers join ggml's device list before the first load (they count as GPUs
    // for --gpu-layers); after the pre-check, whose child process does not use them.
    super::rpc::ensure_registered()?;
    let mut params = pin!(gpu_params(backend.supports_gpu_offload(), opts.gpu_layers)?);
    if let Some(k) = opts.experts_used {
        if header.n_expert == 0 {
            return Err(format!(
                "--experts-used: {} is a dense model (architecture '{}'), it has no experts",
                path.display(),
                header.arch
            ));
        }
        if k == 0 || k > header.n_expert {
            return Err(format!(
                "--experts-used must be between 1 and {} for this model, got {k}",
                header.n_expert
            ));
        }
        let key = CString::new(format!("{}.expert_used_count", header.arch))
            .map_err(|_| "architecture name contains a NUL byte")?;
        // llama-cpp-2 prints a debug line to stderr here; keep it off the user's terminal.
        let sink = std::fs::OpenOptions::new().write(true).open("/dev/null");
        let _guard = sink
            .as_ref()
            .ok()
            .and_then(|f| StderrRedirect::to_file(f).ok());
        params
            .as_mut()
            .append_kv_override(&key, ParamOverrideValue::Int(i64::from(k)));
        n_expert_used = k;
    }
    let model = LlamaModel::load_from_file(backend, path, &params).map_err(|_| {
        format!(
            "llama.cpp could not load {}: architecture '{}' is not supported by this build, or the file is damaged (details in the log file)",
            path.display(),
            header.arch
        )
    })?;
    let name = header.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| sanitize(&s.to_string_lossy()))
            .unwrap_or_default()
    });
    let info = ModelInfo {
        path: sanitize(&path.display().to_string()),
        name,
        arch: header.arch.clone(),
        n_layer: model.n_layer(),
        n_ctx: 0,
        n_vocab: u32::try_from(model.n_vocab()).unwrap_or(0),
        n_params: model.n_params(),
        size_bytes: model.size(),
        n_expert: header.n_expert,
        n_expert_used: if header.n_expert > 0 {
            n_expert_used
        } else {
            0
        },
        n_expert_shared: header.n_expert_shared,
        n_ff_exp: header.n_ff_exp,
        // Without its own key, the shared FFN is `expert_shared_count` experts wide
        // (how llama.cpp sizes `ffn_*_shexp` for the deepseek family).
        n_ff_shexp: header
            .n_ff_shexp
            .unwrap_or(header.n_expert_shared.saturating_mul(header.n_ff_exp)),
        n_dense_lead: header.n_dense_lead,
        has_chat_template: model.chat_template(None).is_ok(),
        router_display_temperature: header.display_temperature,
        lora_adapter: None,
    };
    Ok((model, info))
}

/// Load the LoRA adapter `opts.lora` for `model` (loaded from `opts.model`): the adapter
/// is checked against the model file by the pre-parser, then, the first time this pair is
/// met and when `opts.check` asks for it, loaded and applied in a child process
/// ([`super::preflight`]), so an adapter llama.cpp aborts on is a message here.
///
/// This is the one way into llama.cpp's adapter loader: `clippy.toml` forbids calling
/// `LlamaModel::lora_adapter_init` anywhere else (the app, `eval kl`, the experiments'
/// teacher forcing and the child check all come through here).
pub fn load_lora_checked(
    model: &LlamaModel,
    opts: &LoadOptions,
    stop: &dyn Fn() -> bool,
) -> Result<Option<llama_cpp_2::model::LlamaLoraAdapter>, String> {
    let Some(path) = opts.lora.as_deref() else {
        return Ok(None);
    };
    let shown = || sanitize(&path.display().to_string());
    if !path.is_file() {
        return Err(format!("LoRA adapter not found: {}", shown()));
    }
    let open = |p: &Path| {
        crate::model::gguf::GgufFile::open(p)
            .map_err(|e| format!("{}: {e}", sanitize(&p.display().to_string())))
    };
    let (lora, base) = (open(path)?, open(&opts.model)?);
    crate::model::gguf::check_adapter(&lora, &base)
        .map_err(|e| format!("LoRA adapter {}: {e}", shown()))?;
    super::preflight::ensure_adapter_loadable(
        path,
        lora.data_offset(),
        &opts.model,
        base.data_offset(),
        opts,
        stop,
    )?;
    // The only call of the raw loader (see `disallowed-methods` in clippy.toml): the file
    // has passed the checks above.
    #[allow(clippy::disallowed_methods)]
    let adapter = model.lora_adapter_init(path);
    adapter.map(Some).map_err(|_| {
        format!(
            "llama.cpp could not load the LoRA adapter {}: it must be made for this model's architecture and shapes (details in the log file)",
            shown()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::gpu_params;

    #[test]
    fn gpu_layers_above_zero_need_a_gpu_backend() {
        let e = gpu_params(false, Some(3)).expect_err("a CPU-only binary refuses 3 GPU layers");
        assert!(
            e.contains("--gpu-layers 3") && e.contains("--features cuda"),
            "{e}"
        );
        assert_eq!(gpu_params(false, Some(0)).unwrap().n_gpu_layers(), 0);
        assert_eq!(gpu_params(true, Some(3)).unwrap().n_gpu_layers(), 3);
        // Not given: llama.cpp's own default stands.
        let default = llama_cpp_2::model::params::LlamaModelParams::default().n_gpu_layers();
        assert_eq!(gpu_params(false, None).unwrap().n_gpu_layers(), default);
    }
}
