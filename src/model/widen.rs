//! Function-preserving widening of a trained MM-GAN generator (Net2WiderNet: Chen,
//! Goodfellow and Shlens, "Net2Net", ICLR 2016), so a wider model starts from what a
//! narrower one has learnt instead of from noise: the training budget of this machine
//! cannot afford to relearn the shipped weights at a new width.
//!
//! Every new channel of an encoder or decoder level copies an old channel of that level
//! (new channel `j` copies old channel `j mod old_width`). A layer that reads a widened
//! level splits each weight it applied to an old channel among that channel's copies, in
//! shares that sum to one, so the sum it computes is unchanged. InstanceNorm without
//! affine parameters, (leaky) ReLU and dropout act per channel, so copies stay copies and
//! the widened generator computes the same function. The shares are random per reading
//! weight rather than equal: with equal shares every copy would receive a gradient
//! proportional to its twin's, Adam (invariant to that scale) would move them alike, and
//! the copies would stay tied. Uneven shares break the symmetry without changing the
//! function, where Net2Net's added noise would change it.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::generator::{Generator, GeneratorConfig};

/// Which old channel each new channel of one level copies, and how many copies each old
/// channel has.
#[derive(Debug, Clone)]
struct ChannelMap {
    source: Vec<usize>,
    copies: Vec<usize>,
}

impl ChannelMap {
    fn new(old: usize, new: usize) -> ChannelMap {
        let source: Vec<usize> = (0..new).map(|j| j % old).collect();
        let mut copies = vec![0; old];
        for &s in &source {
            copies[s] += 1;
        }
        ChannelMap { source, copies }
    }

    /// Several levels side by side along one axis (a concatenation of skip and decoder).
    fn concat(parts: &[&ChannelMap]) -> ChannelMap {
        let mut source = Vec::new();
        let mut copies = Vec::new();
        for part in parts {
            let offset = copies.len();
            source.extend(part.source.iter().map(|s| s + offset));
            copies.extend_from_slice(&part.copies);
        }
        ChannelMap { source, copies }
    }
}

/// Lowest share of a weight one of two copies gets (the other gets the rest).
const MIN_SHARE: f32 = 0.2;

/// Where a weight keeps its input channels: `[out, in, kh, kw]` for a convolution,
/// `[in, out, kh, kw]` for a transposed one (burn's layouts).
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    OutIn,
    InOut,
}

/// `w`: a weight of shape `shape` (in `layout`) reading channels mapped by `inputs` and
/// writing channels mapped by `outputs`; returns it widened. Each weight on an input with
/// copies is shared among them by random shares summing to one, drawn per (input copy,
/// old output, tap), so copies' gradients are not proportional and output copies stay
/// identical (the next layer relies on that to split them in turn).
fn remap(
    w: &[f32],
    shape: [usize; 4],
    layout: Layout,
    inputs: &ChannelMap,
    outputs: &ChannelMap,
    rng: &mut StdRng,
) -> (Vec<f32>, [usize; 4]) {
    let [_, b, kh, kw] = shape;
    let k = kh * kw;
    let outs = outputs.copies.len();
    // shares[new input][old output][tap]
    let mut shares = vec![1.0f32; inputs.source.len() * outs * k];
    for old in 0..inputs.copies.len() {
        let copies: Vec<usize> = (0..inputs.source.len())
            .filter(|&j| inputs.source[j] == old)
            .collect();
        if copies.len() < 2 {
            continue;
        }
        for o in 0..outs {
            for t in 0..k {
                let raw: Vec<f32> = copies
                    .iter()
                    .map(|_| rng.random_range(MIN_SHARE..1.0 - MIN_SHARE))
                    .collect();
                let sum: f32 = raw.iter().sum();
                for (&j, r) in copies.iter().zip(raw) {
                    shares[(j * outs + o) * k + t] = r / sum;
                }
            }
        }
    }
    let (rows, cols) = match layout {
        Layout::OutIn => (outputs, inputs),
        Layout::InOut => (inputs, outputs),
    };
    debug_assert_eq!((shape[0], b), (rows.copies.len(), cols.copies.len()));
    let mut out = Vec::with_capacity(rows.source.len() * cols.source.len() * k);
    for (r, &ro) in rows.source.iter().enumerate() {
        for (c, &co) in cols.source.iter().enumerate() {
            let (input, output) = match layout {
                Layout::OutIn => (c, ro),
                Layout::InOut => (r, co),
            };
            let base = (ro * b + co) * k;
            let share = &shares[(input * outs + output) * k..][..k];
            out.extend(w[base..base + k].iter().zip(share).map(|(v, s)| v * s));
        }
    }
    (out, [rows.source.len(), cols.source.len(), kh, kw])
}

/// `old` widened by [`remap`], as a fresh trainable parameter.
fn widened(
    old: &Param<Tensor<4>>,
    layout: Layout,
    inputs: &ChannelMap,
    outputs: &ChannelMap,
    rng: &mut StdRng,
    device: &Device,
) -> Result<Param<Tensor<4>>, String> {
    let (w, shape) = values(old)?;
    let (w, shape) = remap(&w, shape, layout, inputs, outputs, rng);
    Ok(Param::from_tensor(Tensor::<4>::from_data(
        TensorData::new(w, shape),
        device,
    )))
}

fn values(param: &Param<Tensor<4>>) -> Result<(Vec<f32>, [usize; 4]), String> {
    let t = param.val();
    let shape = t.dims();
    let w = t
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .map_err(|e| format!("cannot read a generator weight: {e:?}"))?;
    Ok((w, shape))
}

impl Generator {
    /// This generator (built by `from`) widened to `to`, which may differ from `from`
    /// only in a larger width; `seed` draws the shares of the split weights.
    pub fn widen(
        &self,
        from: &GeneratorConfig,
        to: &GeneratorConfig,
        seed: u64,
        device: &Device,
    ) -> Result<Generator, String> {
        if to.width < from.width
            || to.depth != from.depth
            || to.channels != from.channels
            || to.dropout != from.dropout
            || to.context != from.context
        {
            return Err(format!(
                "can only widen: these weights are width {}, depth {}, dropout {}; the run asks for width {}, depth {}, dropout {}",
                from.width, from.depth, from.dropout, to.width, to.depth, to.dropout
            ));
        }
        let levels: Vec<ChannelMap> = (0..from.depth)
            .map(|i| ChannelMap::new(from.level_width(i), to.level_width(i)))
            .collect();
        let sequences = ChannelMap::new(from.input_channels(), to.input_channels());
        let mut wide = to.init(device);
        let mut rng = StdRng::seed_from_u64(seed);

        for (i, (down, old)) in wide.downs.iter_mut().zip(&self.downs).enumerate() {
            let input = if i == 0 { &sequences } else { &levels[i - 1] };
            down.conv.weight = widened(
                &old.conv.weight,
                Layout::OutIn,
                input,
                &levels[i],
                &mut rng,
                device,
            )?;
        }
        for (j, (up, old)) in wide.ups.iter_mut().zip(&self.ups).enumerate() {
            let (level, _, _) = from.up_block(j);
            // The bottleneck, then [decoder output, skip] of the level below.
            let input = if j == 0 {
                levels[from.depth - 1].clone()
            } else {
                ChannelMap::concat(&[&levels[level + 1], &levels[level + 1]])
            };
            up.conv.weight = widened(
                &old.conv.weight,
                Layout::InOut,
                &input,
                &levels[level],
                &mut rng,
                device,
            )?;
        }
        let input = ChannelMap::concat(&[&levels[0], &levels[0]]);
        wide.out.weight = widened(
            &self.out.weight,
            Layout::OutIn,
            &input,
            &sequences,
            &mut rng,
            device,
        )?;
        wide.out.bias = self.out.bias.as_ref().map(|b| Param::from_tensor(b.val()));
        Ok(wide)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::Distribution;

    fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        let a: Vec<f32> = a.into_data().try_to_vec().unwrap();
        let b: Vec<f32> = b.into_data().try_to_vec().unwrap();
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    fn largest(a: Tensor<4>) -> f32 {
        let a: Vec<f32> = a.into_data().try_to_vec().unwrap();
        a.iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    fn configs(from: usize, to: usize) -> (GeneratorConfig, GeneratorConfig) {
        let c = GeneratorConfig::new().with_depth(4);
        (c.clone().with_width(from), c.with_width(to))
    }

    #[test]
    fn widening_keeps_the_function() {
        let device = Device::flex();
        device.seed(7);
        for (from, to) in [(4, 8), (4, 6), (3, 7), (3, 3)] {
            let (a, b) = configs(from, to);
            let narrow = a.init(&device).valid();
            let wide = narrow.widen(&a, &b, 1, &device).unwrap().valid();
            let x = Tensor::<4>::random([2, 4, 32, 32], Distribution::Default, &device);
            let y = narrow.forward(x.clone());
            let scale = largest(y.clone());
            let diff = max_diff(y, wide.forward(x));
            assert!(scale > 0.0, "a silent network proves nothing");
            assert!(diff <= 1e-5 * scale.max(1.0), "{from} -> {to}: diff {diff}");
            assert_eq!(wide.num_params(), b.init(&device).num_params());
        }
    }

    #[test]
    fn copies_are_read_unevenly_so_they_can_part() {
        let device = Device::flex();
        let (a, b) = configs(4, 8);
        let narrow = a.init(&device);
        let wide = narrow.widen(&a, &b, 2, &device).unwrap();
        // The second encoder reads level 0, whose channel 0 has copies 0 and 4: their
        // weights are shares of the old one, uneven, summing to it.
        let (old, [_, c_in, kh, kw]) = values(&narrow.downs[1].conv.weight).unwrap();
        let (new, [_, c_new, _, _]) = values(&wide.downs[1].conv.weight).unwrap();
        let k = kh * kw;
        let tap = |w: &[f32], c: usize, i: usize| w[c * k + i]; // output channel 0
        let mut uneven = 0;
        for i in 0..k {
            let (s0, s4) = (tap(&new, 0, i), tap(&new, 4, i));
            let w = tap(&old, 0, i);
            assert!(
                (s0 + s4 - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{s0} + {s4} != {w}"
            );
            if (s0 - s4).abs() > 0.05 * w.abs() {
                uneven += 1;
            }
        }
        assert_eq!((c_in, c_new), (4, 8));
        assert!(uneven > k / 2, "only {uneven} of {k} taps split unevenly");
        // Its output copies (channels 0 and 8 of level 1) are identical: what level 2
        // relies on to split them in turn.
        let (_, [c_out, _, _, _]) = values(&wide.downs[1].conv.weight).unwrap();
        let per_out = new.len() / c_out;
        assert_eq!(new[..per_out], new[8 * per_out..9 * per_out]);
    }

    #[test]
    fn narrowing_or_changing_depth_is_refused() {
        let device = Device::flex();
        let (a, b) = configs(8, 4);
        let g = a.init(&device);
        let err = g.widen(&a, &b, 0, &device).err().unwrap();
        assert!(err.contains("width 8") && err.contains("width 4"), "{err}");
        let deeper = a.clone().with_depth(5);
        assert!(g.widen(&a, &deeper, 0, &device).is_err());
    }
}
