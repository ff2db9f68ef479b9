//! Thin safe wrappers over the few llama.cpp and libc calls the crate makes itself.

use std::ffi::{c_char, CString};
use std::fs::File;
use std::os::fd::AsRawFd;

use crate::transcript::ChatMessage;

/// Render `messages` with a chat template (a Jinja string from the model, or a built-in
/// template name such as "chatml"). llama.cpp recognises the common templates by their
/// text; an unknown one gives an error here instead of a wrong prompt.
pub fn apply_chat_template(
    template: &str,
    messages: &[ChatMessage],
    add_assistant: bool,
) -> Result<String, String> {
    let tmpl = CString::new(template).map_err(|_| "chat template contains a NUL byte")?;
    let owned: Vec<(CString, CString)> = messages
        .iter()
        .map(|m| {
            Ok((
                CString::new(m.role.as_str()).map_err(|_| "role contains NUL")?,
                CString::new(m.content.as_str()).map_err(|_| "message contains a NUL byte")?,
            ))
        })
        .collect::<Result<_, &str>>()?;
    let chat: Vec<llama_cpp_sys_2::llama_chat_message> = owned
        .iter()
        .map(|(role, content)| llama_cpp_sys_2::llama_chat_message {
            role: role.as_ptr(),
            content: content.as_ptr(),
        })
        .collect();
    let estimate: usize = messages.iter().map(|m| m.content.len() + 64).sum::<usize>() * 2 + 256;
    let mut buf: Vec<u8> = vec![0; estimate];
    for _ in 0..2 {
        let len = i32::try_from(buf.len()).map_err(|_| "conversation too long to template")?;
        // SAFETY: `tmpl` and every role/content pointer in `chat` point into CStrings owned
        // by `tmpl`/`owned`, alive for this call; `buf` is writable for `len` bytes. llama.cpp
        // writes at most `len` bytes and returns the full length it needed.
        let n = unsafe {
            llama_cpp_sys_2::llama_chat_apply_template(
                tmpl.as_ptr(),
                chat.as_ptr(),
                chat.len(),
                add_assistant,
                buf.as_mut_ptr().cast::<c_char>(),
                len,
            )
        };
        if n < 0 {
            return Err("llama.cpp does not support this model's chat template".into());
        }
        let n = n as usize;
        if n <= buf.len() {
            buf.truncate(n);
            return String::from_utf8(buf)
                .map_err(|_| "chat template produced invalid UTF-8".into());
        }
        buf.resize(n, 0);
    }
    Err("chat template output kept growing".into())
}

/// While alive, file descriptor 2 (stderr) points at a file: llama.cpp and the crates
/// around it write straight to stderr in places, which would draw over a full-screen UI.
pub struct StderrRedirect {
    saved: i32,
}

impl StderrRedirect {
    pub fn to_file(file: &File) -> std::io::Result<Self> {
        // SAFETY: dup/dup2 on valid descriptors (2 always exists for a process started
        // normally; `file` is open). We keep the duplicate of the original stderr to
        // restore it on drop.
        unsafe {
            let saved = libc::dup(2);
            if saved < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::dup2(file.as_raw_fd(), 2) < 0 {
                let err = std::io::Error::last_os_error();
                libc::close(saved);
                return Err(err);
            }
            Ok(StderrRedirect { saved })
        }
    }
}

impl Drop for StderrRedirect {
    fn drop(&mut self) {
        // SAFETY: `saved` is the descriptor we duplicated in `to_file` and own.
        unsafe {
            libc::dup2(self.saved, 2);
            libc::close(self.saved);
        }
    }
}

/// End the process at once with `code`, skipping exit handlers and C++ static destructors:
/// for when the engine thread may still be inside llama.cpp (see
/// [`super::EngineHandle::shutdown_within`]), whose teardown must not run under it.
/// Everything the app keeps is on disk by then: journals and progress are written as they
/// change, and the log file is written without a buffer.
pub fn leave_now(code: i32) -> ! {
    tracing::info!("leaving without waiting for the engine thread");
    // SAFETY: `_exit` takes no pointers and never returns; it ends every thread of the
    // process at once, so no destructor can run against state another thread still uses.
    unsafe { libc::_exit(code) }
}

// GNU OpenMP, which llama-cpp-sys-2 links in on GNU targets only (elsewhere llama.cpp may
// be built without OpenMP, and the switch below does nothing).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn omp_set_max_active_levels(max_levels: std::ffi::c_int);
    fn omp_get_max_active_levels() -> std::ffi::c_int;
}

/// Let OpenMP parallel regions that the calling thread starts use their threads (`true`),
/// or run each on the calling thread alone (`false`: no region is active when at most 0
/// levels may be). ggml reads the team size OpenMP gave it and computes the graph on
/// that many threads, so this switches llama.cpp between its thread count and one
/// without a new context. The setting belongs to the calling thread's OpenMP data
/// environment: call it on the thread that decodes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn set_openmp_parallel(on: bool) {
    use std::cell::Cell;
    thread_local! {
        // The thread's own setting before the first switch, to restore.
        static LEVELS: Cell<Option<std::ffi::c_int>> = const { Cell::new(None) };
    }
    // SAFETY: both calls take and return plain integers; the OpenMP runtime is linked in
    // (llama.cpp is built with it) and initialises itself on first use.
    let own = LEVELS.with(|l| {
        let v = l
            .get()
            .unwrap_or_else(|| unsafe { omp_get_max_active_levels() })
            .max(1);
        l.set(Some(v));
        v
    });
    let levels = if on { own } else { 0 };
    // SAFETY: as above; 0 is a valid setting (every region inactive).
    unsafe { omp_set_max_active_levels(levels) }
}

/// Without GNU OpenMP linked in, the thread count stays as the context was made.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn set_openmp_parallel(_on: bool) {}
