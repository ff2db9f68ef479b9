//! `moe-tutor model pull`: arguments, the progress bar on stderr, Ctrl-C.

use std::io::{IsTerminal, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::{curated, find_curated, human_bytes, pull, ProgressBar, PullEvent, PullOptions};
use super::{PullRequest, EXIT_CANCELLED};
use crate::i18n::tr_with;

#[derive(Debug, Clone, clap::Args)]
pub struct PullArgs {
    /// A curated model's name (see --curated), or a repository (org/name) followed by FILE
    #[arg(value_name = "NAME|REPO", required_unless_present = "curated")]
    pub target: Option<String>,
    /// The GGUF file inside the repository
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Branch, tag or commit (default: main, or the commit a curated entry is pinned to)
    #[arg(long, value_name = "R")]
    pub revision: Option<String>,
    /// List the curated models (smallest first) and exit
    #[arg(long, conflicts_with_all = ["target", "file", "revision"])]
    pub curated: bool,
    /// Stop at once when another pull of the same file is running, instead of waiting
    #[arg(long)]
    pub no_wait: bool,
}

/// The request a command line names, or the message saying why not.
pub fn request(a: &PullArgs, lang: &str) -> Result<PullRequest, String> {
    let target = a.target.clone().unwrap_or_default();
    let mut req = match &a.file {
        Some(file) => PullRequest::new(&target, file),
        None => find_curated(&target)
            .map(|m| m.request())
            .ok_or_else(|| tr_with("pull.err.unknown_name", lang, &[("name", &target)]))?,
    };
    if let Some(r) = &a.revision {
        if *r != req.revision {
            // A pinned hash belongs to its pinned commit.
            req.expected_sha256 = None;
        }
        req.revision = r.clone();
    }
    Ok(req)
}

/// Run `model pull`; returns the exit status (0, 1, 2 for a bad name, or
/// [`EXIT_CANCELLED`] after Ctrl-C with the `.part` kept).
pub fn run(a: &PullArgs, lang: &str) -> u8 {
    if a.curated {
        print!("{}", curated::listing(lang));
        return 0;
    }
    let req = match request(a, lang) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("moe-tutor: error: {}", crate::text::sanitize(&e));
            return 2;
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal sets the flag (the transfer stops between reads and keeps its
        // .part); a second one, if a stalled read never returns, exits at once with the
        // same status. The conditional exit is registered first so it sees the flag unset
        // on the first signal.
        let r = signal_hook::flag::register_conditional_shutdown(
            sig,
            i32::from(EXIT_CANCELLED),
            Arc::clone(&cancel),
        )
        .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&cancel)));
        if let Err(e) = r {
            tracing::warn!("cannot catch signal {sig}: {e}");
        }
    }
    let mut opts = PullOptions::from_env();
    opts.wait_for_lock = !a.no_wait;
    let say = |s: String| eprintln!("moe-tutor: {}", crate::text::sanitize(&s));
    say(tr_with("pull.resolving", lang, &[("file", &req.file)]));
    let tty = std::io::stderr().is_terminal();
    let bar = ProgressBar { width: 30 };
    let mut last_tenth = None;
    let mut drawn = false;
    let mut on = |e: PullEvent| match e {
        PullEvent::Resolved { total, resume_from } if resume_from > 0 => say(tr_with(
            "pull.resuming",
            lang,
            &[
                ("done", &human_bytes(resume_from)),
                ("total", &human_bytes(total)),
            ],
        )),
        PullEvent::Resolved { total, .. } => say(tr_with(
            "pull.starting",
            lang,
            &[("total", &human_bytes(total))],
        )),
        PullEvent::WaitingForLock => say(tr_with("pull.waiting", lang, &[])),
        PullEvent::Restarted => say(tr_with("pull.restarted", lang, &[])),
        PullEvent::Progress(p) => {
            let line = bar.render(&p, lang);
            if tty {
                eprint!("\r\x1b[K{line}");
                let _ = std::io::stderr().flush();
                drawn = true;
            } else {
                // Piped: one line per tenth, not a stream of carriage returns.
                let tenth = (p.fraction() * 10.0) as u64;
                if last_tenth != Some(tenth) {
                    last_tenth = Some(tenth);
                    eprintln!("{line}");
                }
            }
        }
        PullEvent::Verifying => {
            if drawn {
                eprintln!();
                drawn = false;
            }
            say(tr_with("pull.verifying", lang, &[]))
        }
    };
    let result = pull(&req, &opts, &cancel, &mut on);
    if tty {
        eprint!("\r\x1b[K");
    }
    match result {
        Ok(path) => {
            say(tr_with("pull.done", lang, &[("path", &path.display())]));
            // The path alone on stdout, for `moe-tutor --model "$(moe-tutor model pull ...)"`.
            println!("{}", crate::text::sanitize(&path.display().to_string()));
            0
        }
        Err(e) => {
            eprintln!("moe-tutor: error: {}", e.message(lang));
            e.exit_code()
        }
    }
}
