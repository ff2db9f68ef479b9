//! The sampling kernel: temperature, the top_p cut and a seeded draw over a step's logits,
//! returning the snapshot the views and traces show. Tuned for a large vocabulary (block
//! maxima in lanes, a branch-free exp, per-thread buffers); `tests` below check it against
//! a plain full sort. Over 400 lines because those tests (a third of the file) sit beside
//! the private helpers they check.

use super::{Candidate, SamplingParams, SplitMix64, StepSnapshot, SNAPSHOT_CANDIDATES};

/// Map an f32 to a u32 whose unsigned order is the float order (-inf lowest).
fn ordered_bits(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Sort key: logit descending, then token id ascending, as one u64 (integer comparisons
/// instead of float comparisons through the logits).
fn sort_key(i: usize, l: f32) -> u64 {
    // + 0.0 turns -0.0 into 0.0: equal logits tie whatever their sign bit.
    (u64::from(u32::MAX - ordered_bits(l + 0.0)) << 32) | i as u64
}

/// `e^x` for `-87 <= x <= 0`, and 0 for every other input (below -87, positive, NaN):
/// callers pass a logit's distance below the top, so anything else is a non-finite logit
/// that must get no probability. Written without branches or calls so that a loop over
/// it vectorises: this runs over the whole vocabulary for every token.
/// `x = n ln2 + r` with `|r| <= ln2 / 2`; `e^r` by its Taylor series to the 7th power
/// (truncation error below 6e-9, under f32's rounding); `2^n` built in the exponent bits.
#[inline(always)]
fn exp_neg(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n * LN2_HI is exact for the n that occur (|n| <= 126).
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5 * 2^23: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let inside = (-87.0..=0.0).contains(&x);
    let xc = if inside { x } else { 0.0 };
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let ni = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let scale = f32::from_bits(((ni + 127) << 23) as u32);
    if inside {
        p * scale
    } else {
        0.0
    }
}

/// `exp((l - max) * scale)` for every logit into `out` (0 for non-finite logits).
fn fill_weights(logits: &[f32], max: f32, scale: f32, out: &mut Vec<f32>) {
    out.clear();
    out.resize(logits.len(), 0.0);
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = exp_neg((l - max) * scale);
    }
}

/// The `want` highest logits' token ids, sorted as [`sort_key`] orders them. The
/// `want`-th largest block maximum is a lower bound for the answer's last logit (those
/// blocks hold at least `want` values that high), so only blocks that reach it are read.
fn top_by_logit(logits: &[f32], blocks: &[f32], max: f32, want: usize) -> Vec<u32> {
    let dist = |l: f32| {
        if l.is_finite() {
            l - max
        } else {
            f32::NEG_INFINITY
        }
    };
    let bound = if want == 0 || blocks.len() < want {
        f32::NEG_INFINITY
    } else {
        let mut b = blocks.to_vec();
        let (_, nth, _) = b.select_nth_unstable_by(want - 1, |x, y| y.total_cmp(x));
        dist(*nth)
    };
    let mut top: Vec<u64> = Vec::with_capacity(want + 1);
    let mut floor = bound;
    for (bi, _) in blocks.iter().enumerate().filter(|(_, &m)| dist(m) >= bound) {
        let start = bi * BLOCK;
        for (j, &l) in logits[start..(start + BLOCK).min(logits.len())]
            .iter()
            .enumerate()
        {
            let d = dist(l);
            if d < floor {
                continue;
            }
            let k = sort_key(start + j, d);
            let at = top.partition_point(|&x| x < k);
            if at < want {
                top.insert(at, k);
                top.truncate(want);
                if top.len() == want {
                    floor = f32::from_bits(unordered_bits(u32::MAX - (top[want - 1] >> 32) as u32));
                }
            }
        }
    }
    top.iter().map(|k| *k as u32).collect()
}

/// Inverse of [`ordered_bits`].
fn unordered_bits(o: u32) -> u32 {
    if o & 0x8000_0000 != 0 {
        o & 0x7fff_ffff
    } else {
        !o
    }
}

thread_local! {
    /// Reused weight buffers of [`sample`] (tempered, raw).
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Tokens per block of [`block_maxima`].
const BLOCK: usize = 64;

/// The largest finite value of each block of [`BLOCK`] values (-inf for a block with
/// none). Eight independent lanes of plain comparisons so the loop vectorises (a fold over
/// `f32::max` runs one element at a time).
fn block_maxima(xs: &[f32]) -> Vec<f32> {
    xs.chunks(BLOCK)
        .map(|block| {
            let mut lanes = [f32::NEG_INFINITY; 8];
            let mut it = block.chunks_exact(8);
            for c in &mut it {
                for k in 0..8 {
                    let v = if c[k].is_finite() {
                        c[k]
                    } else {
                        f32::NEG_INFINITY
                    };
                    lanes[k] = if v > lanes[k] { v } else { lanes[k] };
                }
            }
            let tail = it.remainder().iter().copied().filter(|x| x.is_finite());
            lanes
                .into_iter()
                .chain(tail)
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .collect()
}

/// Sum of many small non-negative f32 terms: eight f32 lanes per block of 512 (so the
/// loop vectorises), blocks added in f64.
fn sum_f64(xs: &[f32]) -> f64 {
    let mut total = 0.0f64;
    for block in xs.chunks(512) {
        let mut lanes = [0f32; 8];
        let mut it = block.chunks_exact(8);
        for c in &mut it {
            for k in 0..8 {
                lanes[k] += c[k];
            }
        }
        total += lanes.iter().map(|&v| v as f64).sum::<f64>();
        total += it.remainder().iter().map(|&v| v as f64).sum::<f64>();
    }
    total
}

/// Result of [`sample`]: the token and the snapshot (without candidate texts; the engine
/// fills those in from the vocabulary).
///
/// Cost per call over a 49,152-token vocabulary: two vectorised exp passes (the raw and
/// the tempered normalisers), one pass that gathers the head of the distribution above a
/// logit threshold, and a sort of that head only. With top_p = 1 the draw walks the
/// weights in token order instead of sorting the whole vocabulary.
pub fn sample(logits: &[f32], params: SamplingParams, rng: &mut SplitMix64) -> StepSnapshot {
    let params = params.clamped();
    let n = logits.len();
    let empty = StepSnapshot {
        params,
        candidates: Vec::new(),
        nucleus_size: 0,
        chosen: 0,
        chosen_prob: 0.0,
        chosen_p_raw: 0.0,
    };
    if n == 0 {
        return empty;
    }
    let blocks = block_maxima(logits);
    let max = blocks.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return empty;
    }
    // Distance below the top logit; non-finite logits (NaN, +-inf) count as -inf.
    let dist = |l: f32| {
        if l.is_finite() {
            l - max
        } else {
            f32::NEG_INFINITY
        }
    };
    let greedy = params.temperature <= 0.0;
    let inv_t = 1.0 / params.temperature.max(1e-3);
    // Weights after temperature, relative to the top token (which has weight 1). The
    // buffers are kept per thread: a fresh 200 KB allocation per token costs page faults.
    let mut weights = SCRATCH.with(|s| std::mem::take(&mut s.borrow_mut().0));
    if !greedy {
        fill_weights(logits, max, inv_t, &mut weights);
    }
    let raw_sum = if params.temperature == 1.0 {
        sum_f64(&weights)
    } else {
        let mut raw = SCRATCH.with(|s| std::mem::take(&mut s.borrow_mut().1));
        fill_weights(logits, max, 1.0, &mut raw);
        let sum = sum_f64(&raw);
        SCRATCH.with(|s| s.borrow_mut().1 = raw);
        sum
    };
    let temp_sum = if greedy { 1.0 } else { sum_f64(&weights) };
    let p_raw = |i: u32| (exp_neg(dist(logits[i as usize])) as f64 / raw_sum) as f32;
    let weight = |i: u32| {
        if greedy {
            if dist(logits[i as usize]) >= 0.0 {
                1.0
            } else {
                0.0
            }
        } else {
            weights[i as usize]
        }
    };
    let p_temp = |i: u32| (weight(i) as f64 / temp_sum) as f32;
    let whole = !greedy && params.top_p >= 1.0;

    // The head of the distribution, sorted: always the top SNAPSHOT_CANDIDATES by logit
    // (one pass that keeps a small sorted list); when top_p < 1 and those do not hold the
    // nucleus, every token within a logit threshold chosen from the mass above it. Either
    // is a prefix of the full sorted order (a threshold keeps ties together).
    let want = n.min(SNAPSHOT_CANDIDATES);
    let mut order = top_by_logit(logits, &blocks, max, want);
    let in_head: f64 = order.iter().map(|&i| p_temp(i) as f64).sum();
    if !greedy && !whole && in_head < params.top_p as f64 {
        // Mass within 7, 12 and 17 (tempered) nats of the top, in one vectorised pass.
        const CUTS: [f32; 3] = [-7.0, -12.0, -17.0];
        let mut within = [0f64; 3];
        for (block_l, block_w) in logits.chunks(512).zip(weights.chunks(512)) {
            let mut lanes = [0f32; 3];
            for (&l, &w) in block_l.iter().zip(block_w) {
                let s = dist(l) * inv_t;
                for (lane, cut) in lanes.iter_mut().zip(CUTS) {
                    *lane += if s >= cut { w } else { 0.0 };
                }
            }
            for (acc, lane) in within.iter_mut().zip(lanes) {
                *acc += lane as f64;
            }
        }
        let need = params.top_p as f64 * temp_sum * (1.0 + 1e-5);
        let cut = CUTS
            .iter()
            .zip(within)
            .find(|(_, m)| *m >= need)
            .map_or(f32::NEG_INFINITY, |(c, _)| *c);
        let mut keys: Vec<u64> = logits
            .iter()
            .enumerate()
            .filter(|(_, &l)| dist(l) * inv_t >= cut)
            .map(|(i, &l)| sort_key(i, dist(l)))
            .collect();
        keys.sort_unstable();
        let wide: Vec<u32> = keys.iter().map(|k| *k as u32).collect();
        let mass: f64 = wide.iter().map(|&i| p_temp(i) as f64).sum();
        order = if mass >= params.top_p as f64 || cut == f32::NEG_INFINITY {
            wide
        } else {
            // Rounding left the nucleus just outside the threshold: take everything.
            let mut keys: Vec<u64> = logits
                .iter()
                .enumerate()
                .map(|(i, &l)| sort_key(i, dist(l)))
                .collect();
            keys.sort_unstable();
            keys.iter().map(|k| *k as u32).collect()
        };
    }
    let head = order.len();

    let (nucleus, nucleus_mass, chosen) = if whole {
        // top_p = 1: every token with a weight can be drawn; walk them in token order.
        let nucleus = weights.iter().filter(|&&w| w > 0.0).count().max(1);
        let r = rng.next_f64() * temp_sum;
        let mut acc = 0.0f64;
        let mut chosen = order[0];
        for (i, &w) in weights.iter().enumerate() {
            if w > 0.0 {
                acc += w as f64;
                chosen = i as u32;
                if r < acc {
                    break;
                }
            }
        }
        (nucleus, 1.0f64, chosen)
    } else {
        // Nucleus: the smallest prefix whose mass reaches top_p (at least one token).
        let mut cum = 0.0f64;
        let mut nucleus = 0usize;
        for &i in &order {
            let p = p_temp(i) as f64;
            if greedy && p == 0.0 {
                break;
            }
            nucleus += 1;
            cum += p;
            if greedy || cum >= params.top_p as f64 {
                break;
            }
        }
        let nucleus = nucleus.max(1);
        let nucleus_mass: f64 = order[..nucleus].iter().map(|&i| p_temp(i) as f64).sum();
        let chosen_idx = if greedy || nucleus == 1 {
            0
        } else {
            let r = rng.next_f64() * nucleus_mass;
            let mut acc = 0.0;
            let mut pick = nucleus - 1;
            for (j, &i) in order[..nucleus].iter().enumerate() {
                acc += p_temp(i) as f64;
                if r < acc {
                    pick = j;
                    break;
                }
            }
            pick
        };
        (nucleus, nucleus_mass, order[chosen_idx])
    };
    let chosen_prob = if nucleus_mass > 0.0 {
        (p_temp(chosen) as f64 / nucleus_mass) as f32
    } else {
        1.0
    };

    let candidates = order[..head.min(SNAPSHOT_CANDIDATES)]
        .iter()
        .enumerate()
        .map(|(j, &i)| Candidate {
            token_id: i,
            text: String::new(),
            logit: logits[i as usize],
            p_raw: p_raw(i),
            p_temp: p_temp(i),
            in_nucleus: j < nucleus,
        })
        .collect();
    SCRATCH.with(|s| s.borrow_mut().0 = weights);
    StepSnapshot {
        params,
        candidates,
        nucleus_size: nucleus,
        chosen,
        chosen_prob,
        chosen_p_raw: p_raw(chosen),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(t: f32, p: f32) -> SamplingParams {
        SamplingParams {
            temperature: t,
            top_p: p,
            seed: 1,
        }
    }

    #[test]
    fn greedy_picks_the_argmax() {
        let logits = [0.1, 3.0, 2.9, -1.0];
        let mut rng = SplitMix64::new(7);
        for _ in 0..20 {
            let s = sample(&logits, params(0.0, 1.0), &mut rng);
            assert_eq!(s.chosen, 1);
            assert_eq!(s.nucleus_size, 1);
            assert_eq!(s.chosen_prob, 1.0);
        }
    }

    #[test]
    fn probabilities_are_softmax_and_sorted() {
        let logits = [1.0f32, 2.0, 3.0];
        let mut rng = SplitMix64::new(7);
        let s = sample(&logits, params(1.0, 1.0), &mut rng);
        let z: f32 = logits.iter().map(|l| l.exp()).sum();
        assert_eq!(s.candidates[0].token_id, 2);
        assert!((s.candidates[0].p_raw - 3f32.exp() / z).abs() < 1e-6);
        assert!((s.candidates[0].p_temp - s.candidates[0].p_raw).abs() < 1e-6);
        let sum: f32 = s.candidates.iter().map(|c| c.p_temp).sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }

    #[test]
    fn temperature_sharpens_and_flattens() {
        let logits = [1.0f32, 2.0, 3.0];
        let mut rng = SplitMix64::new(7);
        let cold = sample(&logits, params(0.5, 1.0), &mut rng);
        let hot = sample(&logits, params(2.0, 1.0), &mut rng);
        assert!(cold.candidates[0].p_temp > cold.candidates[0].p_raw);
        assert!(hot.candidates[0].p_temp < hot.candidates[0].p_raw);
    }

    #[test]
    fn top_p_cuts_the_tail() {
        // probabilities 0.5, 0.25, 0.125, ...
        let logits: Vec<f32> = (0..10).map(|i| -(i as f32) * 2f32.ln()).collect();
        let mut rng = SplitMix64::new(3);
        let s = sample(&logits, params(1.0, 0.7), &mut rng);
        assert_eq!(s.nucleus_size, 2);
        assert!(s.candidates[0].in_nucleus && s.candidates[1].in_nucleus);
        assert!(!s.candidates[2].in_nucleus);
        for _ in 0..200 {
            let s = sample(&logits, params(1.0, 0.7), &mut rng);
            assert!(s.chosen <= 1, "drew {} outside the nucleus", s.chosen);
        }
    }

    #[test]
    fn same_seed_same_draws() {
        let logits: Vec<f32> = (0..500).map(|i| ((i * 37) % 101) as f32 / 25.0).collect();
        let draw = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..50)
                .map(|_| sample(&logits, params(1.2, 0.95), &mut rng).chosen)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }

    #[test]
    fn wide_nucleus_falls_back_to_full_sort() {
        // 4000 equal logits: the nucleus at top_p 1 covers all of them.
        let logits = vec![0.0f32; 4000];
        let mut rng = SplitMix64::new(1);
        let s = sample(&logits, params(1.0, 1.0), &mut rng);
        assert!(s.nucleus_size >= 3999, "{}", s.nucleus_size);
    }

    #[test]
    fn fast_exp_matches_the_library_exp() {
        let mut worst = 0f64;
        for i in 0..=200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let want = (x as f64).exp();
            let rel = ((exp_neg(x) as f64 - want) / want).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp_neg(0.0), 1.0);
        for bad in [f32::NEG_INFINITY, f32::INFINITY, f32::NAN, -88.0, 0.5] {
            assert_eq!(exp_neg(bad), 0.0, "{bad}");
        }
    }

    /// The plain way: sort everything, softmax in f64, walk the sorted order.
    fn reference(logits: &[f32], t: f32, top_p: f32) -> (Vec<u32>, usize, Vec<f64>) {
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        order.sort_by(|&a, &b| {
            logits[b as usize]
                .partial_cmp(&logits[a as usize])
                .unwrap()
                .then(a.cmp(&b))
        });
        let max = logits[order[0] as usize] as f64;
        let w: Vec<f64> = order
            .iter()
            .map(|&i| ((logits[i as usize] as f64 - max) / t as f64).exp())
            .collect();
        let z: f64 = w.iter().sum();
        let p: Vec<f64> = w.iter().map(|x| x / z).collect();
        let mut cum = 0.0;
        let mut nucleus = 0;
        for &q in &p {
            nucleus += 1;
            cum += q;
            if cum >= top_p as f64 {
                break;
            }
        }
        (order, nucleus, p)
    }

    #[test]
    fn agrees_with_a_full_sort() {
        let mut rng = SplitMix64::new(11);
        for case in 0..60 {
            let n = [5usize, 40, 1000, 49_152][case % 4];
            // Peaked, flat, and tied distributions.
            let spread = [0.5f64, 3.0, 12.0][case % 3];
            let logits: Vec<f32> = (0..n)
                .map(|_| {
                    let u = rng.next_f64();
                    let l = (u * spread - spread / 2.0) as f32;
                    if case % 5 == 0 {
                        (l * 4.0).round() / 4.0
                    } else {
                        l
                    }
                })
                .collect();
            let t = [0.3f32, 0.7, 1.0, 1.6][case % 4 / 2 + case % 3 % 2 * 2];
            let top_p = [0.5f32, 0.9, 0.95][case % 3];
            let (order, nucleus, p) = reference(&logits, t, top_p);
            let s = sample(&logits, params(t, top_p), &mut rng);
            assert_eq!(s.nucleus_size, nucleus, "case {case}: nucleus");
            let ids: Vec<u32> = s.candidates.iter().map(|c| c.token_id).collect();
            assert_eq!(
                ids,
                order[..ids.len()],
                "case {case}: candidates {logits:?}"
            );
            assert_eq!(ids.len(), n.min(SNAPSHOT_CANDIDATES));
            for (c, want) in s.candidates.iter().zip(&p) {
                assert!(
                    (c.p_temp as f64 - want).abs() < 1e-6 + want * 1e-5,
                    "case {case}"
                );
            }
            assert!(
                order[..nucleus].contains(&s.chosen),
                "case {case}: drew outside"
            );
            let g = sample(&logits, params(0.0, 1.0), &mut rng);
            assert_eq!(g.chosen, order[0], "case {case}: greedy");
        }
    }

    #[test]
    fn top_p_one_draws_in_proportion() {
        // Weights 4 : 2 : 1 : 1 (two tied); 8,000 draws land near those shares.
        let logits = [4f32.ln(), 2f32.ln(), 0.0, 0.0];
        let mut rng = SplitMix64::new(5);
        let mut counts = [0u32; 4];
        for _ in 0..8000 {
            let s = sample(&logits, params(1.0, 1.0), &mut rng);
            assert_eq!(s.nucleus_size, 4);
            counts[s.chosen as usize] += 1;
        }
        for (c, want) in counts.iter().zip([4000.0, 2000.0, 1000.0, 1000.0]) {
            assert!((*c as f64 - want).abs() < want * 0.1, "{counts:?}");
        }
    }

    #[test]
    fn non_finite_logits_are_never_drawn() {
        let logits = [f32::NAN, 1.0, f32::NEG_INFINITY, 0.5];
        let mut rng = SplitMix64::new(9);
        for _ in 0..50 {
            let s = sample(&logits, params(1.5, 1.0), &mut rng);
            assert!(s.chosen == 1 || s.chosen == 3);
        }
        let s = sample(&[f32::NAN; 3], params(1.0, 1.0), &mut rng);
        assert!(s.candidates.is_empty());
    }
}
