//! Seeded random tensors for the tiny models: the same spec always gives the same bytes.

use super::TinySpec;
use crate::model::gguf::GgufWriter;

/// The sampler's SplitMix64 (identical on every platform), one stream per tensor.
pub(super) struct Rng(crate::sampling::SplitMix64);

impl Rng {
    /// A stream for one tensor, independent of the order tensors are generated in.
    pub(super) fn for_tensor(seed: u64, name: &str) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng(crate::sampling::SplitMix64::new(seed ^ h))
    }

    pub(super) fn uniform(&mut self) -> f64 {
        self.0.next_f64()
    }

    /// Roughly normal with unit variance: the sum of four uniforms, centred and scaled.
    /// Plain arithmetic only, so the values are bit-identical everywhere.
    pub(super) fn normal(&mut self) -> f32 {
        let s = self.uniform() + self.uniform() + self.uniform() + self.uniform();
        ((s - 2.0) * 1.732_050_807_568_877_2) as f32
    }
}

pub(super) struct Builder<'a> {
    pub w: GgufWriter,
    pub spec: &'a TinySpec,
}

impl Builder<'_> {
    pub(super) fn random(&mut self, name: &str, shape: &[u64], std: f32) -> anyhow::Result<()> {
        let n: u64 = shape.iter().product();
        let mut rng = Rng::for_tensor(self.spec.seed, name);
        let data: Vec<f32> = (0..n).map(|_| rng.normal() * std).collect();
        self.w.add_f16(name, shape, &data)?;
        Ok(())
    }

    pub(super) fn router(&mut self, name: &str, shape: &[u64]) -> anyhow::Result<()> {
        let n: u64 = shape.iter().product();
        let mut rng = Rng::for_tensor(self.spec.seed, name);
        let data: Vec<f32> = (0..n)
            .map(|_| rng.normal() * self.spec.router_std)
            .collect();
        self.w.add_f32(name, shape, &data)?;
        Ok(())
    }

    /// An F32 tensor of random values (biases, sinks, selection bias).
    pub(super) fn f32_random(&mut self, name: &str, shape: &[u64], std: f32) -> anyhow::Result<()> {
        let n: u64 = shape.iter().product();
        let mut rng = Rng::for_tensor(self.spec.seed, name);
        let data: Vec<f32> = (0..n).map(|_| rng.normal() * std).collect();
        self.w.add_f32(name, shape, &data)?;
        Ok(())
    }

    /// A small F32 bias.
    pub(super) fn bias(&mut self, name: &str, shape: &[u64]) -> anyhow::Result<()> {
        self.f32_random(name, shape, 0.05)
    }

    pub(super) fn ones(&mut self, name: &str, len: u64) -> anyhow::Result<()> {
        self.w.add_f32(name, &[len], &vec![1.0; len as usize])?;
        Ok(())
    }
}

/// Standard deviation of the ordinary weight matrices.
pub(super) const WEIGHT_STD: f32 = 0.08;
pub(super) const EMBED_STD: f32 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_stable() {
        let mut r = Rng::for_tensor(1, "x");
        let a: Vec<u64> = (0..3).map(|_| r.0.next_u64()).collect();
        let mut r = Rng::for_tensor(1, "x");
        let b: Vec<u64> = (0..3).map(|_| r.0.next_u64()).collect();
        assert_eq!(a, b);
        let mut r = Rng::for_tensor(7, "x");
        let n: Vec<f32> = (0..10_000).map(|_| r.normal()).collect();
        let mean = n.iter().sum::<f32>() / n.len() as f32;
        let var = n.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n.len() as f32;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
