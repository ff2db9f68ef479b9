//! Running an experiment headless: start an engine, check the grid against the model
//! (refusing before any run), drive the runs, then compare them, measure teacher-forced
//! KL, and write the files and plots. Also `--rerun`: the same grid again, replies
//! compared with the saved ones.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::unbounded_channel;

use super::compare::{against_baselines, pairs};
use super::driver::{Driver, Progress, RunResult};
use super::files::{read_grid, read_runs, sha256_file, write_all};
use super::grid::{Grid, ModelRef, ModelShape};
use super::plan::plan;
use crate::engine::{EngineEvent, EngineHandle, LoadOptions};
use crate::transcript::ModelInfo;

/// What an experiment produced.
#[derive(Debug)]
pub struct Outcome {
    pub model: ModelInfo,
    pub results: Vec<RunResult>,
    pub cancelled: bool,
    pub plots: Vec<PathBuf>,
}

/// The model reference saved into `grid.toml`.
pub fn model_ref(load: &LoadOptions) -> Result<ModelRef, String> {
    Ok(ModelRef {
        path: load.model.display().to_string(),
        sha256: sha256_file(&load.model)?,
        lora: load.lora.as_ref().map(|p| p.display().to_string()),
        lora_sha256: load.lora.as_deref().map(sha256_file).transpose()?,
        threads: load.threads,
        n_ctx: load.n_ctx,
    })
}

fn describe(p: &Progress, total_hint: usize) -> Option<String> {
    match p {
        Progress::Started { index, total } => Some(format!("run {}/{total}", index + 1)),
        Progress::Reloading { experts_used } => Some(format!(
            "loading the model with {experts_used} experts per token"
        )),
        Progress::Finished { index, .. } if index + 1 == total_hint => Some("all runs done".into()),
        _ => None,
    }
}

/// Run `grid` on the model of `load` and write everything into `out`. `cancel` stops
/// after the run in flight (finished runs are kept and written).
pub fn run_blocking(
    grid: &Grid,
    load: &LoadOptions,
    out: &Path,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str),
) -> Result<Outcome, String> {
    let mut saved = grid.clone();
    saved.model = Some(model_ref(load)?);
    let mut load = load.clone();
    load.capture = true;
    // Runs go in increasing k: load the smallest first so the first run needs no reload.
    if let Some(k) = grid.experts_used.iter().min() {
        load.experts_used = Some(*k);
    }
    let (tx, mut rx) = unbounded_channel();
    let engine = EngineHandle::spawn(load.clone(), tx).map_err(|e| format!("engine: {e}"))?;
    let info = match rx.blocking_recv() {
        Some(EngineEvent::Loaded(info)) => *info,
        Some(EngineEvent::LoadFailed(e)) => return Err(e),
        _ => return Err("the engine stopped before loading the model".into()),
    };
    // Refuse impossible requests before anything runs.
    let plan = plan(grid, &ModelShape::of(&info))?;
    let total = plan.runs.len();
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut driver = Driver::new(plan, out, &info, 1)
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut say = |p: Progress| {
        if let Some(line) = describe(&p, total) {
            progress(&line);
        }
    };
    for c in driver.start(&mut say) {
        engine.send(c);
    }
    let mut cancel_sent = false;
    while !driver.is_done() {
        if cancel.load(Ordering::SeqCst) && !cancel_sent {
            cancel_sent = true;
            for c in driver.cancel() {
                engine.send(c);
            }
            continue;
        }
        let Some(ev) = rx.blocking_recv() else {
            return Err("the engine stopped unexpectedly".into());
        };
        for c in driver.on_event(&ev, &mut say) {
            engine.send(c);
        }
    }
    engine.shutdown();
    if let Some(e) = driver.fatal.take() {
        return Err(e);
    }
    let cancelled = driver.was_cancelled();
    let mut results = std::mem::take(&mut driver.results);
    against_baselines(&mut results);
    super::teacher::fill_kl(&mut results, &load, &ModelShape::of(&info), progress)?;
    let pairs = pairs(&results);
    write_all(out, &saved, &results, &pairs)?;
    progress("drawing the plots");
    let plots = super::plots::write_all(out, &results)?;
    Ok(Outcome {
        model: info,
        results,
        cancelled,
        plots,
    })
}

/// The result of `--rerun`.
#[derive(Debug)]
pub struct RerunReport {
    pub total: usize,
    /// Runs whose reply differs: (id, saved reply, new reply).
    pub differing: Vec<(String, String, String)>,
    pub out: PathBuf,
}

/// Load options for the model saved in `grid.toml`, after checking its bytes.
pub fn load_for(model: &ModelRef) -> Result<LoadOptions, String> {
    let mut load = LoadOptions::new(&model.path);
    let sha = sha256_file(Path::new(&model.path))?;
    if sha != model.sha256 {
        return Err(format!(
            "{} is not the model the experiment used: its sha256 is {sha}, the experiment's {}",
            model.path, model.sha256
        ));
    }
    if let (Some(lora), Some(want)) = (&model.lora, &model.lora_sha256) {
        let got = sha256_file(Path::new(lora))?;
        if &got != want {
            return Err(format!(
                "{lora} is not the LoRA adapter the experiment used (sha256 {got}, expected {want})"
            ));
        }
        load.lora = Some(PathBuf::from(lora));
    }
    load.threads = model.threads;
    load.n_ctx = model.n_ctx;
    Ok(load)
}

/// Run the experiment saved in `dir` again (into `out`, default `dir/rerun`) and compare
/// every reply with the saved one.
pub fn rerun(
    dir: &Path,
    out: Option<&Path>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str),
) -> Result<RerunReport, String> {
    let grid = read_grid(dir)?;
    let saved = read_runs(dir)?;
    let model = grid
        .model
        .clone()
        .ok_or_else(|| format!("{}/grid.toml names no model", dir.display()))?;
    let load = load_for(&model)?;
    let out = out.map_or_else(|| dir.join("rerun"), Path::to_path_buf);
    let outcome = run_blocking(&grid, &load, &out, cancel, progress)?;
    let mut differing = Vec::new();
    for s in &saved {
        let new = outcome.results.iter().find(|r| r.spec.id == s.spec.id);
        let (reply, same) = match new {
            Some(n) => (
                n.reply.clone(),
                n.reply == s.reply && n.reply_tokens == s.reply_tokens,
            ),
            None => ("(not run)".to_string(), false),
        };
        if !same {
            differing.push((s.spec.id.clone(), s.reply.clone(), reply));
        }
    }
    Ok(RerunReport {
        total: saved.len(),
        differing,
        out,
    })
}

/// Peak resident memory of this process so far (VmHWM), in KiB, where Linux reports it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
