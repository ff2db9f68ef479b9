//! Turn what the eval callback captured into plain [`TokenRouting`] records.

use super::capture::CaptureState;
use crate::routing::TokenRouting;
use crate::transcript::ModelInfo;

/// The routing of token `j` of a decode call of `n_tokens` tokens (all with outputs
/// requested). `None` when the model has no MoE layers. The record is marked incomplete
/// when any layer's capture failed or was partial in this decode call.
pub fn routing_for_token(
    capture: &CaptureState,
    j: usize,
    n_tokens: usize,
    info: &ModelInfo,
) -> Option<TokenRouting> {
    let moe: Vec<(&u32, &super::capture::LayerCapture)> = capture
        .layers
        .iter()
        .filter(|(_, l)| l.n_expert > 0 && l.k > 0)
        .collect();
    let Some((_, first)) = moe.first() else {
        // Nothing captured at all: for a MoE model that is a failed capture, not a dense
        // model. Say so with an empty record over the layers that have routers.
        if !(info.is_moe() && capture.failed()) {
            return None;
        }
        let layers = (info.n_dense_lead..info.n_layer)
            .filter_map(|l| u16::try_from(l).ok())
            .collect();
        let k = u16::try_from(info.n_expert_used).unwrap_or(0);
        let mut rec = TokenRouting::new(u16::try_from(info.n_expert).unwrap_or(0), k, layers);
        rec.incomplete = true;
        return Some(rec);
    };
    let n_expert = first.n_expert;
    let k = first.k;
    let layers: Vec<u16> = moe.iter().map(|(l, _)| **l as u16).collect();
    let mut rec = TokenRouting::new(n_expert as u16, k as u16, layers);
    rec.incomplete = capture.failed();
    let mut experts = vec![0u16; k];
    for (slot, (_, lc)) in moe.iter().enumerate() {
        if lc.n_expert != n_expert || lc.k != k {
            rec.incomplete = true;
            continue;
        }
        // llama.cpp routes only output tokens through the last layer; with every token's
        // output requested the column count equals n_tokens. Otherwise only the last
        // token (the one whose logits were requested) is present.
        let col = if lc.n_tokens() == n_tokens {
            j
        } else if lc.n_tokens() == 1 && j + 1 == n_tokens {
            0
        } else if lc.n_tokens() == 1 {
            // Not computed for this token by llama.cpp's design: not a failure.
            continue;
        } else {
            rec.incomplete = true;
            continue;
        };
        let probs = lc.probs.get(col * n_expert..(col + 1) * n_expert);
        let topk = lc.topk.get(col * k..(col + 1) * k);
        let weights = lc.weights.get(col * k..(col + 1) * k);
        let (Some(probs), Some(topk), Some(weights)) = (probs, topk, weights) else {
            rec.incomplete = true;
            continue;
        };
        for (dst, &id) in experts.iter_mut().zip(topk) {
            *dst = u16::try_from(id).unwrap_or(u16::MAX);
        }
        if experts.iter().any(|&e| usize::from(e) >= n_expert) {
            rec.incomplete = true;
            continue;
        }
        rec.set_layer(slot, &experts, weights, probs);
        if let Some(t) = info.router_display_temperature {
            rec.set_preference(slot, &preference(probs, t));
        }
    }
    Some(rec)
}

/// softmax(logits / t), computed from the probabilities softmax(logits): log p differs
/// from the logits by a constant, which softmax ignores.
pub fn preference(probs: &[f32], t: f32) -> Vec<f32> {
    let logs: Vec<f32> = probs.iter().map(|p| p.max(1e-30).ln() / t).collect();
    let max = logs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logs.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_sharpens_a_flat_router() {
        // logits 0.03 * [1, 2, 3]: nearly flat; at t = 0.03 the trained logits come back.
        let logits = [0.03f32, 0.06, 0.09];
        let z: f32 = logits.iter().map(|l| l.exp()).sum();
        let probs: Vec<f32> = logits.iter().map(|l| l.exp() / z).collect();
        let pref = preference(&probs, 0.03);
        let z2: f32 = [1f32, 2.0, 3.0].iter().map(|l| l.exp()).sum();
        assert!((pref[2] - 3f32.exp() / z2).abs() < 1e-3, "{pref:?}");
    }
}
