//! The engine: the one thread that owns llama.cpp.

pub mod api;
