//! The layer lens inside the eval callback. llama.cpp names each layer's output (its
//! residual stream after attention and FFN) `l_out-N`; the final norm and the output head
//! read the last layer's `l_out`. Two modes, one single-token decode each:
//! - `Record`: copy every layer's `l_out-N` row for the token;
//! - `Inject`: when the last layer's `l_out` has been computed, overwrite the token's row
//!   with a recorded row of another layer before the norm reads it, so the logits that
//!   come out are what the model would predict if it stopped after that layer.
//!
//! Saying yes to `l_out-<last>` ends a graph split there; the scheduler runs the norm in
//! the next split, which reads the tensor's memory after we have written it (the same
//! mechanism as interventions on the router probabilities, see `callback.rs`).

use std::collections::BTreeMap;

use llama_cpp_sys_2::ggml_tensor;

use super::tensor::{read_f32, write_f32};

/// What the lens asks of the next decode.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum LensMode {
    #[default]
    Off,
    /// Record every layer's output row for the batch's last token.
    Record,
    /// Write `row` over the last token's row of `l_out-<layer>`.
    Inject { layer: u32, row: Vec<f32> },
}

/// The lens's part of the capture state.
#[derive(Debug, Default)]
pub struct LensState {
    pub mode: LensMode,
    /// Rows recorded in `Record` mode, by layer.
    pub recorded: BTreeMap<u32, Vec<f32>>,
    /// `Inject` wrote its row during the last decode.
    pub injected: bool,
    /// A read or write failed during the last decode.
    pub failed: bool,
}

impl LensState {
    pub fn active(&self) -> bool {
        self.mode != LensMode::Off
    }

    /// Set the mode for the next decode and forget what the previous one left.
    pub fn start(&mut self, mode: LensMode) {
        self.mode = mode;
        self.recorded.clear();
        self.injected = false;
        self.failed = false;
    }
}

/// The layer of a node named exactly `l_out-<layer>`.
fn layer_output(name: &[std::os::raw::c_char]) -> Option<u32> {
    const PREFIX: &[u8] = b"l_out-";
    let bytes: Vec<u8> = name.iter().map(|&c| c as u8).collect();
    let len = bytes.iter().position(|&b| b == 0)?;
    let rest = bytes[..len].strip_prefix(PREFIX)?;
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// Handle a node for the lens. `None` if the node is not one the lens wants (the caller
/// goes on with its own work); otherwise the answer to give llama.cpp.
///
/// # Safety
/// `t` must be a live tensor of the running graph; with `ask == false`, computed and not
/// yet read by any other node.
pub(super) unsafe fn on_node(lens: &mut LensState, t: *mut ggml_tensor, ask: bool) -> Option<bool> {
    if !lens.active() {
        return None;
    }
    // SAFETY: per the contract `t` is live.
    let tensor = unsafe { &*t };
    let layer = layer_output(&tensor.name)?;
    let wanted = match &lens.mode {
        LensMode::Off => false,
        LensMode::Record => true,
        LensMode::Inject { layer: target, .. } => *target == layer,
    };
    if ask {
        return Some(wanted);
    }
    if !wanted {
        return Some(true);
    }
    let n_embd = usize::try_from(tensor.ne[0]).unwrap_or(0);
    // SAFETY: computed just now (ask == false).
    let Some(mut values) = (unsafe { read_f32(tensor) }) else {
        lens.failed = true;
        return Some(true);
    };
    if n_embd == 0 || values.len() < n_embd || values.len() % n_embd != 0 {
        lens.failed = true;
        return Some(true);
    }
    let last = values.len() - n_embd;
    match &lens.mode {
        LensMode::Record => {
            lens.recorded.insert(layer, values[last..].to_vec());
        }
        LensMode::Inject { row, .. } if row.len() == n_embd => {
            values[last..].copy_from_slice(row);
            // SAFETY: `t` is this node, computed and not yet read by the next one.
            if unsafe { write_f32(t, &values) } {
                lens.injected = true;
            } else {
                lens.failed = true;
            }
        }
        _ => lens.failed = true,
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Vec<std::os::raw::c_char> {
        let mut v: Vec<std::os::raw::c_char> =
            s.bytes().map(|b| b as std::os::raw::c_char).collect();
        v.push(0);
        v
    }

    #[test]
    fn layer_outputs_match_exactly() {
        assert_eq!(layer_output(&name("l_out-0")), Some(0));
        assert_eq!(layer_output(&name("l_out-29")), Some(29));
        assert_eq!(layer_output(&name("l_out-3 (view)")), None);
        assert_eq!(layer_output(&name("l_out-")), None);
        assert_eq!(layer_output(&name("ffn_out-3")), None);
        assert_eq!(layer_output(&name("l_out-1")[..3]), None, "no NUL");
    }
}
