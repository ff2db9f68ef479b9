//! Model files and the tooling around them: the GGUF reader and writer (`gguf`), the
//! forge that builds the default MoE from its dense teacher and the shipped pack
//! (`forge`), fetching the teacher (`acquire`), the tiny generated test models (`tiny`),
//! finding models on this machine (`discover`), `model info` / `model list` (`inspect`) and
//! `model pull` from a Hugging Face style hub (`pull`). Nothing here runs llama.cpp.

pub mod acquire;
pub mod discover;
pub mod forge;
pub mod gguf;
pub mod inspect;
pub mod pull;
pub mod tiny;
