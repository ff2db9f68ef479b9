//! Headless mode: `moe-tutor run` prints a reply to stdout and can write a routing trace.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use tokio::sync::mpsc::unbounded_channel;

use crate::engine::{
    EndToken, EngineCommand, EngineEvent, EngineHandle, GenerateRequest, LoadOptions,
};
use crate::i18n::{tr, tr_with};
use crate::routing::lens::LayerLens;
use crate::routing::trace::TraceWriter;
use crate::sampling::SamplingParams;
use crate::transcript::{ChatMessage, Role, StopReason};

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub load: LoadOptions,
    pub prompt: String,
    pub raw: bool,
    pub params: SamplingParams,
    pub max_tokens: u32,
    pub trace: Option<PathBuf>,
    /// Print the layer lens for this reply token (1-based) after the reply.
    pub lens: Option<u32>,
}

/// An error with the exit status it should end the process with.
#[derive(Debug)]
pub struct RunError {
    pub code: u8,
    pub message: String,
}

impl RunError {
    fn new(code: u8, message: impl Into<String>) -> Self {
        RunError {
            code,
            message: message.into(),
        }
    }
}

/// Generate one reply. The reply goes to `out` as it streams.
pub fn run(opts: RunOptions, out: &mut dyn Write) -> Result<StopReason, RunError> {
    let mut trace = match &opts.trace {
        // The trace holds the conversation's text: readable by its owner only.
        Some(p) => Some(TraceWriter::new(BufWriter::new(
            crate::store::private::open_options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)
                .map_err(|e| {
                    RunError::new(2, format!("cannot create trace file {}: {e}", p.display()))
                })?,
        ))),
        None => None,
    };
    let mut load = opts.load.clone();
    // Capture costs a few percent: only ask llama.cpp for router tensors when tracing.
    load.capture = opts.trace.is_some();
    let (tx, mut rx) = unbounded_channel();
    let engine =
        EngineHandle::spawn(load, tx).map_err(|e| RunError::new(1, format!("engine: {e}")))?;
    match rx.blocking_recv() {
        Some(EngineEvent::Loaded(_)) => {}
        Some(EngineEvent::LoadFailed(e)) => return Err(RunError::new(2, e)),
        Some(EngineEvent::Crashed { message, .. }) => {
            return Err(RunError::new(
                2,
                format!("the engine crashed while loading the model: {message}"),
            ))
        }
        _ => {
            return Err(RunError::new(
                1,
                "the engine stopped before loading the model",
            ))
        }
    }
    let generation = 1;
    engine.send(EngineCommand::Generate {
        generation,
        request: GenerateRequest {
            messages: vec![ChatMessage {
                role: Role::User,
                content: opts.prompt.clone(),
            }],
            raw: opts.raw,
            max_tokens: opts.max_tokens,
            params: opts.params,
        },
    });
    let io_err = |e: std::io::Error| RunError::new(1, format!("write failed: {e}"));
    // Whether the reply showed anything but white space: an empty reply is reported.
    let mut wrote_text = false;
    let mut end = None;
    // Token ids of the prompt and the reply, for the lens.
    let mut ids: Vec<u32> = Vec::new();
    let mut reply: Vec<(u32, String)> = Vec::new();
    let reason = loop {
        match rx.blocking_recv() {
            Some(EngineEvent::Prompt { tokens, .. }) => {
                ids.extend(tokens.iter().map(|t| t.token_id));
                if let Some(t) = trace.as_mut() {
                    for tok in &tokens {
                        t.write(tok).map_err(io_err)?;
                    }
                }
            }
            Some(EngineEvent::Token { token, .. }) => {
                wrote_text |= !token.text.trim().is_empty();
                out.write_all(token.text.as_bytes()).map_err(io_err)?;
                out.flush().map_err(io_err)?;
                reply.push((token.token_id, token.text.clone()));
                if let Some(t) = trace.as_mut() {
                    t.write(&token).map_err(io_err)?;
                }
            }
            Some(EngineEvent::Tail { text, .. }) => {
                wrote_text |= !text.trim().is_empty();
                out.write_all(text.as_bytes()).map_err(io_err)?;
            }
            Some(EngineEvent::Ended { token, .. }) => end = Some(token),
            Some(EngineEvent::Done { reason, .. }) => break reason,
            Some(EngineEvent::Error { message, .. }) => return Err(RunError::new(1, message)),
            Some(EngineEvent::Crashed { message, .. }) => {
                return Err(RunError::new(1, format!("the engine crashed: {message}")))
            }
            Some(_) => {}
            None => return Err(RunError::new(1, "the engine stopped unexpectedly")),
        }
    };
    out.write_all(b"\n").map_err(io_err)?;
    if !wrote_text {
        eprintln!(
            "moe-tutor: {}",
            empty_reply_note(reason, end.as_ref(), "en")
        );
    }
    if let Some(t) = trace {
        t.finish().map_err(io_err)?;
    }
    if let Some(step) = opts.lens {
        let n = reply.len();
        let Some(index) = (step as usize).checked_sub(1).filter(|&i| i < n) else {
            engine.shutdown();
            return Err(RunError::new(
                2,
                tr_with("lens.bad_step", "en", &[("step", &step), ("n", &n)]),
            ));
        };
        ids.extend(reply[..index].iter().map(|r| r.0));
        engine.send(EngineCommand::Lens {
            generation: generation + 1,
            start: 0,
            tokens: ids,
        });
        let lens = loop {
            match rx.blocking_recv() {
                Some(EngineEvent::Lens { lens, .. }) => break lens,
                Some(EngineEvent::Error { message, .. }) => return Err(RunError::new(1, message)),
                Some(EngineEvent::Crashed { message, .. }) => {
                    return Err(RunError::new(1, format!("the engine crashed: {message}")))
                }
                Some(_) => {}
                None => return Err(RunError::new(1, "the engine stopped unexpectedly")),
            }
        };
        write_lens(out, &lens, step, &reply[index].1).map_err(io_err)?;
    }
    engine.shutdown();
    Ok(reason)
}

/// The lens as text: a header, then one line per layer with its top tokens.
fn write_lens(
    out: &mut dyn Write,
    lens: &LayerLens,
    step: u32,
    drawn: &str,
) -> std::io::Result<()> {
    let header = tr_with(
        "lens.header",
        "en",
        &[("step", &step), ("token", &format!("{drawn:?}"))],
    );
    writeln!(out, "{header}")?;
    for row in &lens.rows {
        write!(out, "{:>4}", format!("L{}", row.layer))?;
        for c in &row.top {
            write!(out, "  {:?} {:.4}", c.text, c.p)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// What `run` says on stderr when a reply holds no text, so an empty stdout is never silent
/// (the TUI says the end-token case as a notice, with the same message).
pub fn empty_reply_note(reason: StopReason, end: Option<&EndToken>, lang: &str) -> String {
    match (reason, end) {
        (StopReason::EndOfText, Some(t)) => tr_with(
            "reply.empty_ended_by",
            lang,
            &[("id", &t.token_id), ("token", &format!("{:?}", t.text))],
        ),
        (StopReason::EndOfText, None) => tr("reply.empty_ended", lang),
        (StopReason::MaxTokens, _) => tr("reply.empty_max_tokens", lang),
        (StopReason::ContextFull, _) => tr("reply.empty_context_full", lang),
        (StopReason::Cancelled, _) => tr("reply.empty_cancelled", lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_reply_note_names_the_end_token() {
        let end = EndToken {
            token_id: 2,
            text: "<|im_end|>".into(),
        };
        let note = empty_reply_note(StopReason::EndOfText, Some(&end), "en");
        assert!(note.contains("token 2"), "{note}");
        assert!(note.contains("\"<|im_end|>\""), "{note}");
        let zh = empty_reply_note(StopReason::EndOfText, Some(&end), "zh-CN");
        assert!(
            zh.contains('2') && zh.contains("<|im_end|>") && zh != note,
            "{zh}"
        );
        assert!(empty_reply_note(StopReason::MaxTokens, None, "en").contains("--max-tokens"));
    }
}
