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

/// How one axis of a 4-d weight is widened: which old index each new index reads, and
/// whether the weight is split among the copies of its source (the axis a layer reads).
struct Axis<'a> {
    map: &'a ChannelMap,
    split: bool,
}

/// Lowest share of a weight one of two copies gets (the other gets the rest).
const MIN_SHARE: f32 = 0.2;

/// `w`: a weight of shape `[a, b, kh, kw]`; returns it widened along its first two axes.
/// On a split axis each weight is shared among the copies of its source by random shares
/// summing to one (per weight, so copies' gradients are not proportional).
fn remap(
    w: &[f32],
    shape: [usize; 4],
    rows: Axis,
    cols: Axis,
    rng: &mut StdRng,
) -> (Vec<f32>, [usize; 4]) {
    let [a, b, kh, kw] = shape;
    debug_assert_eq!(a, rows.map.copies.len());
    debug_assert_eq!(b, cols.map.copies.len());
    debug_assert!(!(rows.split && cols.split), "a layer reads one axis");
    let (split, other) = if rows.split {
        (&rows, &cols)
    } else {
        (&cols, &rows)
    };
    let k = kh * kw;
    // shares[new split index][old other index][tap]: uneven, and for each old weight the
    // shares of its copies sum to one.
    let mut shares = vec![1.0f32; split.map.source.len() * other.map.copies.len() * k];
    if split.split {
        let at = |j: usize, o: usize, t: usize| (j * other.map.copies.len() + o) * k + t;
        for old in 0..split.map.copies.len() {
            let copies: Vec<usize> = (0..split.map.source.len())
                .filter(|&j| split.map.source[j] == old)
                .collect();
            if copies.len() < 2 {
                continue;
            }
            for o in 0..other.map.copies.len() {
                for t in 0..k {
                    let raw: Vec<f32> = copies
                        .iter()
                        .map(|_| rng.random_range(MIN_SHARE..1.0 - MIN_SHARE))
                        .collect();
                    let sum: f32 = raw.iter().sum();
                    for (&j, r) in copies.iter().zip(raw) {
                        shares[at(j, o, t)] = r / sum;
                    }
                }
            }
        }
    }
    let share = |r: usize, c: usize, t: usize| {
        let (j, o) = if rows.split {
            (r, cols.map.source[c])
        } else {
            (c, rows.map.source[r])
        };
        shares[(j * other.map.copies.len() + o) * k + t]
    };
    let (na, nb) = (rows.map.source.len(), cols.map.source.len());
    let mut out = Vec::with_capacity(na * nb * k);
    for (r, &ro) in rows.map.source.iter().enumerate() {
        for (c, &co) in cols.map.source.iter().enumerate() {
            let base = (ro * b + co) * k;
            out.extend((0..k).map(|t| w[base + t] * share(r, c, t)));
        }
    }
    (out, [na, nb, kh, kw])
}

/// A trainable parameter holding `w` (shape `shape`).
fn fresh((w, shape): (Vec<f32>, [usize; 4]), device: &Device) -> Param<Tensor<4>> {
    Param::from_tensor(Tensor::<4>::from_data(TensorData::new(w, shape), device))
}

fn values(param: &Param<Tensor<4>>) -> (Vec<f32>, [usize; 4]) {
    let t = param.val();
    let shape = t.dims();
    let w: Vec<f32> = t
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .unwrap_or_default();
    (w, shape)
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
        {
            return Err(format!(
                "can only widen: these weights are width {}, depth {}, dropout {}; the run asks for width {}, depth {}, dropout {}",
                from.width, from.depth, from.dropout, to.width, to.depth, to.dropout
            ));
        }
        let levels: Vec<ChannelMap> = (0..from.depth)
            .map(|i| ChannelMap::new(from.level_width(i), to.level_width(i)))
            .collect();
        let sequences = ChannelMap::new(from.channels, to.channels);
        let mut wide = to.init(device);
        let mut rng = StdRng::seed_from_u64(seed);

        for (i, (down, old)) in wide.downs.iter_mut().zip(&self.downs).enumerate() {
            let input = if i == 0 { &sequences } else { &levels[i - 1] };
            let (w, shape) = values(&old.conv.weight);
            let rows = Axis {
                map: &levels[i],
                split: false,
            };
            let cols = Axis {
                map: input,
                split: true,
            };
            down.conv.weight = fresh(remap(&w, shape, rows, cols, &mut rng), device);
        }
        let depth = from.depth;
        for (j, (up, old)) in wide.ups.iter_mut().zip(&self.ups).enumerate() {
            let (level, _, _) = from.up_block(j);
            // Transposed convolutions store [in, out, kh, kw]; the input is the
            // bottleneck, then [decoder output, skip] of the level below.
            let input = if j == 0 {
                levels[depth - 1].clone()
            } else {
                ChannelMap::concat(&[&levels[level + 1], &levels[level + 1]])
            };
            let (w, shape) = values(&old.conv.weight);
            let rows = Axis {
                map: &input,
                split: true,
            };
            let cols = Axis {
                map: &levels[level],
                split: false,
            };
            up.conv.weight = fresh(remap(&w, shape, rows, cols, &mut rng), device);
        }
        let input = ChannelMap::concat(&[&levels[0], &levels[0]]);
        let (w, shape) = values(&self.out.weight);
        let rows = Axis {
            map: &sequences,
            split: false,
        };
        let cols = Axis {
            map: &input,
            split: true,
        };
        wide.out.weight = fresh(remap(&w, shape, rows, cols, &mut rng), device);
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
        let (old, [_, c_in, kh, kw]) = values(&narrow.downs[1].conv.weight);
        let (new, [_, c_new, _, _]) = values(&wide.downs[1].conv.weight);
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
        let (_, [c_out, _, _, _]) = values(&wide.downs[1].conv.weight);
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
