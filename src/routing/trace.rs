//! JSON Lines trace files: one object per token.
