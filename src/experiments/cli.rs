//! `moe-tutor experiment`: its arguments and what it prints. Progress goes to stderr, a
//! summary table to stdout.
//!
//! `temperature`, `top_p`, `seed`, `experts_used` and `max_tokens` share their ids with
//! the global options (so clap uses these definitions here); their value types match the
//! globals' (clap copies the first value up to the top-level matches).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::Args;

use super::grid::{decimal, Grid, InterventionSet};
use super::run::{peak_rss_kib, rerun, run_blocking};
use crate::engine::LoadOptions;
use crate::text::sanitize;

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// A grid file (TOML, format in the README); or give the grid with --prompt and the
    /// flags below
    #[arg(
        value_name = "GRID.toml",
        conflicts_with_all = ["prompt", "rerun", "temperature", "top_p", "seed", "experts_used", "knock_out", "force", "restrict"]
    )]
    pub grid: Option<PathBuf>,
    /// The prompt, sent as a user message through the chat template
    #[arg(long, short = 'p', required_unless_present_any = ["grid", "rerun"])]
    pub prompt: Option<String>,
    /// Temperatures to sweep, comma-separated
    #[arg(long, short = 't', value_delimiter = ',', default_values_t = [0.7f32])]
    pub temperature: Vec<f32>,
    /// top_p values to sweep, comma-separated
    #[arg(long, value_delimiter = ',', default_values_t = [0.9f32], value_name = "P")]
    pub top_p: Vec<f32>,
    /// Seeds to sweep, comma-separated
    #[arg(long, value_delimiter = ',', default_values_t = [42u64])]
    pub seed: Vec<u64>,
    /// Experts per token to sweep, comma-separated (default: the model's own)
    #[arg(long, value_delimiter = ',', value_name = "K")]
    pub experts_used: Vec<u32>,
    /// Knock expert EXPERT out of layer LAYER (`all` = every MoE layer); repeatable. The
    /// grid then runs a `baseline` set without interventions and a set with them (named
    /// after the kinds given: `knockout`, `force`, `restrict`, joined by `+`)
    #[arg(long = "knock-out", value_name = "LAYER:EXPERT")]
    pub knock_out: Vec<String>,
    /// Force EXPERT into layer LAYER's chosen k (`all` = every MoE layer); repeatable
    #[arg(long, value_name = "LAYER:EXPERT")]
    pub force: Vec<String>,
    /// Let layer LAYER choose only from the listed experts (at least k); repeatable
    #[arg(long, value_name = "LAYER:E1,E2,...")]
    pub restrict: Vec<String>,
    /// Most tokens per reply
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_tokens: u32,
    /// Send the prompt as is, without the chat template
    #[arg(long)]
    pub raw: bool,
    /// The folder to write the results into (required except with --rerun, which
    /// defaults to DIR/rerun)
    #[arg(long, value_name = "DIR", required_unless_present = "rerun")]
    pub out: Option<PathBuf>,
    /// Run the experiment saved in DIR again; exit status 1 if any reply differs
    #[arg(long, value_name = "DIR")]
    pub rerun: Option<PathBuf>,
    /// Print the wall time and the peak resident memory (VmHWM) at the end
    #[arg(long)]
    pub report_memory: bool,
}

/// The grid the flags describe.
pub fn grid_from_flags(a: &ExperimentArgs) -> Grid {
    let mut g = Grid::new(a.prompt.clone().unwrap_or_default());
    g.temperature = a.temperature.iter().map(|&t| decimal(t)).collect();
    g.top_p = a.top_p.iter().map(|&p| decimal(p)).collect();
    g.seed = a.seed.clone();
    g.experts_used = a.experts_used.clone();
    g.max_tokens = a.max_tokens;
    g.raw = a.raw;
    let given: Vec<(&str, &Vec<String>)> = [
        ("knockout", &a.knock_out),
        ("force", &a.force),
        ("restrict", &a.restrict),
    ]
    .into_iter()
    .filter(|(_, rules)| !rules.is_empty())
    .collect();
    if !given.is_empty() {
        let names: Vec<&str> = given.iter().map(|(kind, _)| *kind).collect();
        let mut set = InterventionSet {
            name: names.join("+"),
            rules: Default::default(),
        };
        for (kind, rules) in given {
            set.rules.insert(kind.into(), rules.clone());
        }
        g.interventions = vec![
            InterventionSet {
                name: "baseline".into(),
                rules: Default::default(),
            },
            set,
        ];
    }
    g
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.3}"))
}

fn short(s: &str, n: usize) -> String {
    let one_line: String = sanitize(s).replace(['\n', '\r', '\t'], " ");
    let mut out: String = one_line.chars().take(n).collect();
    if one_line.chars().count() > n {
        out.push('…');
    }
    out
}

/// Run the command; `resolve` gives the load options of the model named on the command
/// line (or the default model). Returns the exit status.
pub fn experiment(
    a: ExperimentArgs,
    resolve: &dyn Fn() -> Result<LoadOptions, String>,
    err: &mut dyn FnMut(&str),
) -> u8 {
    let started = Instant::now();
    let cancel = AtomicBool::new(false);
    let mut progress = |l: &str| eprintln!("moe-tutor: {}", sanitize(l));
    let code = if let Some(dir) = &a.rerun {
        match rerun(dir, a.out.as_deref(), &cancel, &mut progress) {
            Ok(r) => {
                let matched = r.total - r.differing.len();
                println!(
                    "{matched} of {} replies match (rerun written to {})",
                    r.total,
                    sanitize(&r.out.display().to_string())
                );
                for (id, saved, new) in &r.differing {
                    println!(
                        "{id} differs:\n  saved: {}\n  now:   {}",
                        short(saved, 100),
                        short(new, 100)
                    );
                }
                u8::from(!r.differing.is_empty())
            }
            Err(e) => {
                err(&e);
                2
            }
        }
    } else {
        let grid = match &a.grid {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(t) => Grid::from_toml(&t),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            },
            None => Ok(grid_from_flags(&a)),
        };
        let load = grid.and_then(|g| resolve().map(|l| (g, l)));
        let Some(out) = a.out.clone() else {
            err("--out DIR is required");
            return 2;
        };
        match load.and_then(|(g, l)| run_blocking(&g, &l, &out, &cancel, &mut progress)) {
            Ok(o) => {
                println!("id    T     top_p seed  k   set          tokens entropy distinct2 KL     JS     reply");
                for r in &o.results {
                    println!(
                        "{:<5} {:<5} {:<5} {:<5} {:<3} {:<12} {:<6} {:<7.3} {:<9.3} {:<6} {:<6} {}",
                        r.spec.id,
                        r.spec.temperature,
                        r.spec.top_p,
                        r.spec.seed,
                        r.spec.experts_used,
                        short(&r.spec.set, 12),
                        r.metrics.tokens,
                        r.metrics.mean_entropy,
                        r.metrics.distinct_2,
                        fmt_opt(r.versus.kl_baseline),
                        fmt_opt(r.versus.js_baseline),
                        short(&r.reply, 40)
                    );
                }
                println!(
                    "{} runs{} written to {} ({} plots)",
                    o.results.len(),
                    if o.cancelled { " (cancelled)" } else { "" },
                    sanitize(&out.display().to_string()),
                    o.plots.len()
                );
                0
            }
            Err(e) => {
                err(&e);
                2
            }
        }
    };
    if a.report_memory {
        println!(
            "wall_s={:.2} peak_rss_kib={}",
            started.elapsed().as_secs_f64(),
            peak_rss_kib().map_or_else(|| "na".into(), |k| k.to_string())
        );
    }
    code
}
