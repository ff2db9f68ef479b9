//! GGUF files: a reader that validates before llama.cpp ever sees a file, and a writer.
