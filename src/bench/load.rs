//! Contention: decode speed idle and beside `N` busy processes (each a shell spinning in
//! an empty loop, started and stopped by the bench), for the engine and llama-bench in the
//! same run, interleaved so that both see the same machine.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{engine_speed, peer, BenchOptions};

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
}

/// How long llama-bench may take for one measurement before it is stopped.
const PEER_LIMIT: Duration = Duration::from_secs(90);

/// Two rounds of (idle, loaded), each running the engine (capture on, as the app runs)
/// and then llama-bench's `tg` on the same model and threads.
pub fn measure(
    opts: &BenchOptions,
    peer_bin: Option<&Path>,
    tg: u32,
    progress: &mut dyn FnMut(&str),
) -> Result<Contention, String> {
    let n = opts.background_load;
    let reps = opts.reps.div_ceil(2).max(1);
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
    Ok(Contention {
        busy: n,
        engine_idle: median(&mut engine[0]).unwrap_or(0.0),
        engine_load: median(&mut engine[1]).unwrap_or(0.0),
        peer_idle: median(&mut peer_rates[0]),
        peer_load: median(&mut peer_rates[1]),
        peer_load_bounded: bounded,
    })
}
