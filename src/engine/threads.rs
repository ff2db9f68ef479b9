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
//! default thread count leaves out the cores other processes keep busy at load time, and
//! [`Contention`] moves the graphs to one thread while they keep them busy later.

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
        let n = running_now()?;
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

/// Readings of other running tasks a [`Contention`] keeps: the least of them counts, so a
/// task that runs only now and then (this app's own UI drawing a frame, the engine's other
/// OpenMP thread still spinning after a graph) does not count as load.
const WINDOW: usize = 4;

/// Whether other processes take the cores llama.cpp's threads need, read between graphs.
///
/// Measured on this project's 2-core machine (README, "Beside other busy processes"): with
/// two threads beside one or two busy processes, every barrier of a graph waits until the
/// kernel runs both threads again, and a token took 3 to 15 times as long as idle, how much
/// depending on the spin setting by chance; one thread there kept 0.6-0.9x the idle speed
/// of two. The thread count a context was made with cannot be changed through the pinned
/// crate, but OpenMP can be told to run its parallel regions on one thread
/// ([`super::ffi::set_openmp_parallel`]); ggml then computes the graph on the one thread.
#[derive(Debug, Clone)]
pub struct Contention {
    cores: u32,
    threads: u32,
    readings: std::collections::VecDeque<u32>,
    one_thread: bool,
}

impl Contention {
    /// For a context computing with `threads` threads on a machine of `cores` cores.
    pub fn new(cores: u32, threads: u32) -> Contention {
        Contention {
            cores: cores.max(1),
            threads: threads.max(1),
            readings: std::collections::VecDeque::with_capacity(WINDOW),
            one_thread: false,
        }
    }

    /// Take one reading of the tasks running on the machine (`/proc/loadavg`'s count, the
    /// reader included); returns whether the next graph should run on one thread: when the
    /// other tasks (the least of the last few readings) and this context's threads are
    /// more than the cores.
    pub fn observe(&mut self, running: u32) -> bool {
        if self.readings.len() == WINDOW {
            self.readings.pop_front();
        }
        self.readings.push_back(running.saturating_sub(1));
        let others = self.readings.iter().copied().min().unwrap_or(0);
        self.one_thread = self.threads > 1 && others + self.threads > self.cores;
        self.one_thread
    }

    pub fn one_thread(&self) -> bool {
        self.one_thread
    }
}

/// Tasks running on the machine now (the reader included), from `/proc/loadavg`.
pub fn running_now() -> Option<u32> {
    parse_running(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_thread_only_while_others_keep_the_cores_busy() {
        // Two threads on two cores: the reader alone is no load.
        let mut c = Contention::new(2, 2);
        assert!(!c.observe(1));
        // A brief second task (a frame being drawn) is not load: the least reading counts.
        assert!(!c.observe(2));
        assert!(!c.observe(1));
        // One busy process, reading after reading: one thread, once the window is full of it.
        for _ in 0..WINDOW - 1 {
            c.observe(2);
        }
        assert!(c.observe(2));
        assert!(c.one_thread());
        // It stops: back to both threads at the first quiet reading.
        assert!(!c.observe(1));
        // Plenty of cores: a busy process leaves room for the threads.
        let mut big = Contention::new(16, 8);
        for _ in 0..WINDOW {
            assert!(!big.observe(5));
        }
        for _ in 0..WINDOW - 1 {
            big.observe(10);
        }
        assert!(big.observe(10));
        // A context of one thread has nothing to give up.
        let mut one = Contention::new(2, 1);
        for _ in 0..WINDOW {
            assert!(!one.observe(4));
        }
    }

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
