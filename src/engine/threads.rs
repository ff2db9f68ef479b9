//! How many threads llama.cpp computes with, and how its OpenMP threads wait between the
//! steps of a graph; both picked by measurement (README, *Performance*, "Beside other busy
//! processes").
//!
//! llama.cpp (built with OpenMP here) synchronises its threads at a barrier after nearly
//! every graph node, hundreds of times per token. GNU OpenMP lets a waiting thread spin
//! 300,000 rounds (about a millisecond) before it sleeps. On a quiet machine a barrier is
//! crossed within microseconds and the spinning never shows; beside busy processes, a
//! thread the kernel has paused holds every barrier up while its partner spins away the
//! time the paused one needed, and a 64-token reply took from 3 s to over 60 s. A short
//! spin keeps barriers fast when the machine is quiet and gives the core back quickly when
//! it is not (`OMP_WAIT_POLICY=passive`, no spinning, made quiet replies 1.6x slower). The
//! runtime reads the setting once, as the process starts, so `main.rs` starts the binary
//! again with it. And threads beyond the cores that are free only wait for each other: the
//! default thread count leaves out the cores other processes keep busy at load time.

use std::time::Duration;

/// The `GOMP_SPINCOUNT` the app runs with unless the user set an OpenMP wait setting.
pub const SPIN_COUNT: u32 = 1_000;

/// Set (to 1) when the app itself chose the wait setting, so that a peer program it runs
/// (llama-bench) can be given the runtime's own default instead.
pub const CHOSEN_MARKER: &str = "MOE_TUTOR_OPENMP_CHOSEN";

/// Variables GNU OpenMP reads for its wait policy; if the user set any, theirs stands.
const WAIT_VARIABLES: [&str; 2] = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"];

/// The environment to start llama.cpp's OpenMP runtime with, when the user set no wait
/// policy of their own.
pub fn openmp_wait_env() -> Option<[(&'static str, String); 2]> {
    let user_set = WAIT_VARIABLES.iter().any(|k| std::env::var_os(k).is_some());
    (!user_set).then(|| {
        [
            ("GOMP_SPINCOUNT", SPIN_COUNT.to_string()),
            (CHOSEN_MARKER, "1".to_string()),
        ]
    })
}

/// Runnable tasks on the machine now, from the fourth field of `/proc/loadavg`
/// ("running/total"); it counts the reader itself.
fn parse_running(loadavg: &str) -> Option<u32> {
    loadavg
        .split_whitespace()
        .nth(3)?
        .split_once('/')?
        .0
        .parse()
        .ok()
}

/// Threads for `cores` cores when `others` other tasks are running: the free cores, at
/// least 1, at most 8 (beyond that a model this size gains little).
pub fn threads_for(cores: u32, others: u32) -> i32 {
    cores.saturating_sub(others).clamp(1, 8) as i32
}

/// Other tasks running now: the least of a few readings 10 ms apart (a reading catches
/// short-lived tasks too), less this reader.
fn others_running() -> Option<u32> {
    let mut least: Option<u32> = None;
    for i in 0..4 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let n = parse_running(&std::fs::read_to_string("/proc/loadavg").ok()?)?;
        least = Some(least.map_or(n, |l| l.min(n)));
    }
    least.map(|n| n.saturating_sub(1))
}

/// The default thread count: the cores this process may run on that other processes do
/// not keep busy right now, at most 8 (all of them, at most 8, where that cannot be read).
pub fn default_threads() -> i32 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(2);
    threads_for(cores, others_running().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_running_tasks_from_loadavg() {
        assert_eq!(parse_running("0.85 1.73 1.39 3/412 12345\n"), Some(3));
        assert_eq!(parse_running("0.85 1.73"), None);
    }

    #[test]
    fn threads_are_the_free_cores() {
        assert_eq!(threads_for(2, 0), 2);
        assert_eq!(threads_for(2, 1), 1);
        assert_eq!(threads_for(2, 5), 1);
        assert_eq!(threads_for(16, 2), 8);
        assert_eq!(threads_for(8, 3), 5);
    }
}
