//! Contention: decode speed idle and beside `N` busy processes (each a shell spinning in
//! an empty loop, started and stopped by the bench), for the engine and llama-bench in the
//! same run, interleaved so that both see the same machine; and, beside the same load, how
//! fast the app answers a key while a reply streams and how fast it quits mid-reply
//! (Ctrl-Q, SIGTERM).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::startup::{self, QuitBy, StartupOptions};
use super::{engine_speed, latency, peer, BenchOptions};

/// `n` busy-loop processes, stopped when dropped.
pub struct BusyLoad {
    children: Vec<Child>,
}

impl BusyLoad {
    pub fn start(n: u32) -> Result<BusyLoad, String> {
        let mut load = BusyLoad {
            children: Vec::new(),
        };
        for _ in 0..n {
            let child = Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start a busy process: {e}"))?;
            load.children.push(child);
        }
        // Let the scheduler settle the new processes in.
        std::thread::sleep(Duration::from_millis(300));
        Ok(load)
    }
}

impl Drop for BusyLoad {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Decode rates (tokens/s, median of the runs) idle and under load.
#[derive(Debug, Clone, PartialEq)]
pub struct Contention {
    pub busy: u32,
    pub engine_idle: f64,
    pub engine_load: f64,
    pub peer_idle: Option<f64>,
    pub peer_load: Option<f64>,
    /// llama-bench did not finish under load within the limit: `peer_load` is the rate it
    /// stayed below, not a measurement.
    pub peer_load_bounded: bool,
    /// Under the load: key press to the next frame while a reply streams (median, p95, ms).
    pub key_to_frame_ms: Option<(f64, f64)>,
    /// Under the load: Ctrl-Q and SIGTERM mid-reply to the process's exit (ms).
    pub quit_ctrl_q_ms: Option<f64>,
    pub quit_sigterm_ms: Option<f64>,
}

/// Targets for the app's answers under load.
pub const KEY_TARGET_MS: f64 = 50.0;
pub const QUIT_TARGET_MS: f64 = 1000.0;

/// Beside `n` busy processes: key press to frame while streaming, then the real app
/// quit mid-reply by Ctrl-Q and by SIGTERM.
fn responsiveness(
    opts: &BenchOptions,
    n: u32,
    progress: &mut dyn FnMut(&str),
) -> Result<(f64, f64, f64, f64), String> {
    let _load = BusyLoad::start(n)?;
    progress(&format!(
        "contention: key presses while a reply streams, beside {n} busy processes"
    ));
    let keys = latency::measure(opts)?;
    let exe = std::env::current_exe().map_err(|e| format!("quit: {e}"))?;
    let app = StartupOptions {
        exe,
        args: opts.app_args(),
        runs: 1,
    };
    progress(&format!(
        "contention: quitting mid-reply, beside {n} busy processes"
    ));
    let ctrl_q = startup::quit_latency(&app, QuitBy::CtrlQ)?;
    let sigterm = startup::quit_latency(&app, QuitBy::SigTerm)?;
    Ok((keys.median_ms, keys.p95_ms, ctrl_q, sigterm))
}

/// How long llama-bench may take for one measurement before it is stopped.
const PEER_LIMIT: Duration = Duration::from_secs(90);

/// The fewest decode runs per side, configuration and round beside busy processes.
const MIN_LOADED_REPS: u32 = 4;

/// Decode runs per side (engine, llama-bench) in each of the two rounds of each
/// configuration (idle, loaded): half of `--reps`, but at least [`MIN_LOADED_REPS`].
/// Beside busy processes one run's rate swings by a quarter either way: from two runs a
/// round (four a side) the comparison read 0.89x and 0.72x in two runs, while three
/// interleaved rounds of five runs a side read 1.03x-1.27x (README, "Beside other busy
/// processes").
fn reps_per_round(reps: u32) -> u32 {
    reps.div_ceil(2).max(MIN_LOADED_REPS)
}

/// Two rounds of (idle, loaded), each running the engine (capture on, as the app runs)
/// and then llama-bench's `tg` on the same model and threads.
pub fn measure(
    opts: &BenchOptions,
    peer_bin: Option<&Path>,
    tg: u32,
    progress: &mut dyn FnMut(&str),
) -> Result<Contention, String> {
    let n = opts.background_load;
    let reps = reps_per_round(opts.reps);
    let mut engine: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut peer_rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut bounded = false;
    for round in 1..=2 {
        for loaded in [false, true] {
            let _load = if loaded {
                progress(&format!(
                    "contention: round {round}, beside {n} busy processes"
                ));
                Some(BusyLoad::start(n)?)
            } else {
                progress(&format!("contention: round {round}, idle"));
                None
            };
            let i = usize::from(loaded);
            engine[i].extend(engine_speed::decode_rates(opts, reps)?);
            if let Some(bin) = peer_bin {
                let (rates, cut) =
                    peer::tg_rates(bin, &opts.model, opts.threads, tg, reps, PEER_LIMIT)?;
                if cut {
                    progress(&format!(
                        "contention: llama-bench did not finish in {} s; its rate was below {:.1} tok/s",
                        PEER_LIMIT.as_secs(),
                        rates.first().copied().unwrap_or(0.0)
                    ));
                }
                bounded |= cut && loaded;
                peer_rates[i].extend(rates);
            }
        }
    }
    let median = |v: &mut Vec<f64>| (!v.is_empty()).then(|| super::quantile(v, 0.5));
    let (key_ms, key_p95_ms, quit_ctrl_q_ms, quit_sigterm_ms) = responsiveness(opts, n, progress)?;
    Ok(Contention {
        busy: n,
        engine_idle: median(&mut engine[0]).unwrap_or(0.0),
        engine_load: median(&mut engine[1]).unwrap_or(0.0),
        peer_idle: median(&mut peer_rates[0]),
        peer_load: median(&mut peer_rates[1]),
        peer_load_bounded: bounded,
        key_to_frame_ms: Some((key_ms, key_p95_ms)),
        quit_ctrl_q_ms: Some(quit_ctrl_q_ms),
        quit_sigterm_ms: Some(quit_sigterm_ms),
    })
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.filter(|x| x.is_finite())
        .map_or("na".to_string(), |x| format!("{x:.decimals$}"))
}

/// The report's line on answering keys and quitting under the load.
pub(super) fn responsiveness_line(c: &Contention) -> String {
    format!(
        "beside {} busy: key press to next frame median {} ms, p95 {} ms (target {KEY_TARGET_MS:.0}); \
         quit mid-reply Ctrl-Q {} ms, SIGTERM {} ms (target {QUIT_TARGET_MS:.0})\n",
        c.busy,
        opt(c.key_to_frame_ms.map(|k| k.0), 1),
        opt(c.key_to_frame_ms.map(|k| k.1), 1),
        opt(c.quit_ctrl_q_ms, 0),
        opt(c.quit_sigterm_ms, 0),
    )
}

/// The same as fields of the bench's last line (`na` without `--background-load`).
pub(super) fn responsiveness_fields(c: Option<&Contention>) -> String {
    let key = c.and_then(|c| c.key_to_frame_ms);
    format!(
        " load_key_to_frame_ms={} load_key_to_frame_p95_ms={} load_quit_ctrl_q_ms={} \
         load_quit_sigterm_ms={}",
        opt(key.map(|k| k.0), 1),
        opt(key.map(|k| k.1), 1),
        opt(c.and_then(|c| c.quit_ctrl_q_ms), 0),
        opt(c.and_then(|c| c.quit_sigterm_ms), 0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaded_rounds_take_enough_runs_for_a_median() {
        assert_eq!(reps_per_round(1), MIN_LOADED_REPS);
        assert_eq!(reps_per_round(3), MIN_LOADED_REPS);
        assert_eq!(reps_per_round(8), 4);
        assert_eq!(reps_per_round(11), 6);
    }
}
