//! 2.5D input: the slice to synthesize with its neighbours above and below
//! ([`GeneratorConfig::context`] a side), so the generator sees the third dimension a 2D
//! model cannot (vessels against enhancing tumour, partial volume at a lesion's edge).
//!
//! The input is `2 · context + 1` groups of the sequence channels, slice `z - context`
//! first: group `g` holds slice `z - context + g` ([`crate::data::context_slices`]),
//! zeros past the volume's ends. Every group's missing sequences are imputed alike; the
//! output, the losses and the discriminator's condition stay the centre slice's. A 2D
//! generator becomes a 2.5D one with the same function by zero weights on the new groups
//! ([`Generator::add_context`]), so a run can start from trained 2D weights.

use burn::module::Param;
use burn::tensor::Tensor;

use super::generator::{Generator, GeneratorConfig};
use super::{availability_mask, impute, Imputation, Scenario};

/// Impute the missing sequences of every group of a stacked input `x` ([batch, 4 ·
/// groups, h, w]), item `b` missing what `scenarios[b]` misses.
pub fn impute_stacked(x: Tensor<4>, scenarios: &[Scenario], method: Imputation) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let groups = c / 4;
    let per_group: Vec<Scenario> = scenarios
        .iter()
        .flat_map(|s| std::iter::repeat_n(*s, groups))
        .collect();
    let mask = availability_mask(&per_group, &x.device());
    impute(x.reshape([b * groups, 4, h, w]), mask, method).reshape([b, c, h, w])
}

/// The centre group of a stacked input ([batch, 4 · (2 · context + 1), h, w]): the slice
/// itself.
pub fn centre(x: Tensor<4>, context: usize) -> Tensor<4> {
    x.narrow(1, 4 * context, 4)
}

impl Generator {
    /// Channels of the input this generator reads: its first layer's.
    pub fn input_channels(&self) -> usize {
        self.downs[0].conv.weight.dims()[1]
    }

    /// Neighbouring slices a side this generator reads, from [`Self::input_channels`].
    pub fn context(&self) -> usize {
        (self.input_channels() / 4).saturating_sub(1) / 2
    }

    /// This generator, trained as `from`, reading the neighbours `to` asks for with the
    /// same function: the first layer's weights on the added groups are zero. `to` may
    /// differ from `from` in its context alone, and not have less.
    pub fn add_context(
        mut self,
        from: &GeneratorConfig,
        to: &GeneratorConfig,
    ) -> Result<Generator, String> {
        let same_otherwise = GeneratorConfig {
            context: from.context,
            ..to.clone()
        } == *from;
        if !same_otherwise || to.context < from.context {
            return Err(format!(
                "can only add neighbouring slices: these weights are width {}, depth {}, context {}; the run asks for width {}, depth {}, context {}",
                from.width, from.depth, from.context, to.width, to.depth, to.context
            ));
        }
        let pad = to.channels * (to.context - from.context);
        if pad == 0 {
            return Ok(self);
        }
        let first = &mut self.downs[0].conv;
        let w = first.weight.val(); // [out, in, k, k]
        let [o, _, k0, k1] = w.dims();
        let zeros = || Tensor::<4>::zeros([o, pad, k0, k1], &w.device());
        // Detached: a fresh leaf for autodiff, as a loaded parameter is.
        let wide = Tensor::cat(vec![zeros(), w.clone(), zeros()], 1).detach();
        first.weight = Param::from_tensor(wide);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Sequence, SequenceSet};
    use crate::model::flex_conv::tests::rel_diff;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn every_group_is_imputed_for_its_own_item() {
        let device = Device::flex();
        let x = Tensor::<4>::ones([2, 12, 3, 3], &device);
        let t1c = Scenario::with_missing(SequenceSet::BRATS, &[Sequence::T1c]).unwrap();
        let flair = Scenario::with_missing(SequenceSet::BRATS, &[Sequence::Flair]).unwrap();
        let y = impute_stacked(x, &[t1c, flair], Imputation::Zeros);
        // Channel sums over each 3x3 plane: 0 where imputed, 9 where kept.
        let sums: Vec<f32> = y
            .sum_dim(3)
            .sum_dim(2)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let missing = |b: usize, c: usize| sums[b * 12 + c] == 0.0;
        for g in 0..3 {
            assert!(
                missing(0, 4 * g + 1) && !missing(0, 4 * g + 3),
                "item 0, group {g}"
            );
            assert!(
                missing(1, 4 * g + 3) && !missing(1, 4 * g + 1),
                "item 1, group {g}"
            );
        }
    }

    #[test]
    fn added_neighbours_leave_the_function_unchanged() {
        let device = Device::flex();
        let from = GeneratorConfig::new()
            .with_width(4)
            .with_depth(3)
            .with_dropout(0.0);
        let to = from.clone().with_context(1);
        let g = from.init(&device);
        let x = Tensor::<4>::random([2, 4, 16, 16], Distribution::Default, &device);
        let before = g.forward(x.clone());
        let g = g.add_context(&from, &to).unwrap();
        let noise = || Tensor::<4>::random([2, 4, 16, 16], Distribution::Default, &device);
        let stacked = Tensor::cat(vec![noise(), x.clone(), noise()], 1);
        assert_eq!(centre(stacked.clone(), 1).into_data(), x.into_data());
        let moved = rel_diff(g.forward(stacked), before);
        assert!(moved < 1e-5, "output moved by {moved}");
        // The added weights train: they get a gradient (a leaf parameter, not an op's
        // output), non-zero on the neighbours' channels.
        let ad = Device::flex().autodiff();
        let g = from.init(&ad).add_context(&from, &to).unwrap();
        let x = Tensor::<4>::random([1, 12, 16, 16], Distribution::Default, &ad);
        let grads = g.forward(x).sum().backward();
        let dw = g.downs[0].conv.weight.grad(&grads).expect("a gradient");
        let neighbour: f32 = dw.narrow(1, 0, 4).abs().sum().into_scalar();
        assert!(neighbour > 0.0);
        // Fewer neighbours, or another width, is refused.
        assert!(g.add_context(&to, &from).is_err());
        let g = from.init(&device);
        assert!(g.add_context(&from, &to.with_width(8)).is_err());
    }
}
