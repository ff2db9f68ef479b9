//! Branching a reply from one of its steps: the request's prompt plus the reply's kept
//! tokens is what the KV cache must hold (the common prefix is reused; what was cached past
//! the split is removed with llama.cpp's sequence removal in `Session::run`), then the
//! forced token(s) take the place of what the sampler draws, and generation goes on.

use std::collections::VecDeque;

use llama_cpp_2::model::AddBos;
use llama_cpp_2::token::LlamaToken;

use super::session::Session;
use super::Worker;
use crate::engine::api::{BranchRequest, EngineEvent, Forced};
use crate::sampling::SamplingParams;

impl Session<'_> {
    /// Serve `EngineCommand::Branch`.
    pub fn branch(
        &mut self,
        w: &mut Worker,
        generation: u64,
        branch: &BranchRequest,
        params: &mut SamplingParams,
    ) {
        let forced: VecDeque<LlamaToken> = match &branch.forced {
            Forced::Token(id) => VecDeque::from([LlamaToken(*id as i32)]),
            Forced::Text(text) => match self.model.str_to_token(text, AddBos::Never) {
                Ok(t) => t.into(),
                Err(e) => {
                    return w.emit(EngineEvent::Error {
                        generation,
                        message: format!("could not tokenize {text:?}: {e}"),
                    })
                }
            },
        };
        let n_vocab = self.info.n_vocab;
        if forced.is_empty() || forced.iter().any(|t| t.0 < 0 || t.0 as u32 >= n_vocab) {
            return w.emit(EngineEvent::Error {
                generation,
                message: format!("no token to branch with (the vocabulary has {n_vocab})"),
            });
        }
        let kept: Vec<LlamaToken> = branch.kept.iter().map(|&t| LlamaToken(t as i32)).collect();
        self.generate_from(w, generation, &branch.request, &kept, forced, params);
    }
}
