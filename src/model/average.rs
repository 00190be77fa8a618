//! Parameter averaging of several snapshots of one network (stochastic weight averaging:
//! Izmailov et al., UAI 2018; Polyak averaging). A GAN generator's per-epoch weights
//! wander about a good region as generator and discriminator take turns, and the
//! validation figures move by about 0.01 SSIM from epoch to epoch; the mean of the last
//! epochs' weights tends to sit nearer the middle of that region than any one of them.
//! Averaging is meaningful only between snapshots of one run (one initialisation), which
//! is what `mmgan average` is for; the snapshots must be the same network.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

use super::Network;

/// One float parameter of a module, flattened, in traversal order.
struct Flat {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// Reads every float parameter of a module in the order `Module::visit` walks them.
#[derive(Default)]
struct Collect {
    params: Vec<Flat>,
    error: Option<String>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        match t.into_data().convert::<f32>().try_into_vec::<f32>() {
            Ok(values) => self.params.push(Flat { shape, values }),
            Err(e) => {
                self.error
                    .get_or_insert_with(|| format!("cannot read a parameter: {e:?}"));
            }
        }
    }
}

/// Writes the averaged values back, parameter by parameter, in the same order.
struct Replace {
    params: std::vec::IntoIter<Flat>,
}

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // `average` checked that there are as many averaged parameters as the module has,
        // of its shapes; a parameter without one keeps its value.
        match self.params.next() {
            Some(flat) => param.map(|t| {
                let device = t.device();
                Tensor::from_data(TensorData::new(flat.values, t.dims()), &device)
            }),
            None => param,
        }
    }
}

fn flat<M: Module>(module: &M) -> Result<Vec<Flat>, String> {
    let mut collect = Collect::default();
    module.visit(&mut collect);
    match collect.error {
        Some(e) => Err(e),
        None => Ok(collect.params),
    }
}

/// Every float parameter of `module`, flattened, in the order `Module::visit` walks them.
#[cfg(test)]
pub(crate) fn parameter_values<M: Module>(module: &M) -> Result<Vec<Vec<f32>>, String> {
    Ok(flat(module)?.into_iter().map(|f| f.values).collect())
}

/// The module whose every float parameter is the mean of that parameter over `snapshots`
/// (at least one, all of the same architecture: the same parameters in the same shapes).
pub fn average_modules<M: Module>(snapshots: &[M]) -> Result<M, String> {
    let (first, rest) = snapshots
        .split_first()
        .ok_or("nothing to average: no snapshot given")?;
    let mut sum = flat(first)?;
    for (i, snapshot) in rest.iter().enumerate() {
        let other = flat(snapshot)?;
        let same =
            other.len() == sum.len() && other.iter().zip(&sum).all(|(a, b)| a.shape == b.shape);
        if !same {
            return Err(format!(
                "snapshot {} is not the same network as the first ({} parameters against {}, or other shapes)",
                i + 2,
                other.len(),
                sum.len()
            ));
        }
        for (s, o) in sum.iter_mut().zip(other) {
            s.values.iter_mut().zip(o.values).for_each(|(a, b)| *a += b);
        }
    }
    let n = snapshots.len() as f32;
    for p in &mut sum {
        p.values.iter_mut().for_each(|v| *v /= n);
    }
    Ok(first.clone().map(&mut Replace {
        params: sum.into_iter(),
    }))
}

impl Network {
    /// The parameter average of `snapshots`, all of one method and configuration
    /// ([`average_modules`]); REPLICA's forests have no parameters to average.
    pub fn average(snapshots: &[Network]) -> Result<Network, String> {
        fn all<T: Clone>(
            snapshots: &[Network],
            pick: impl Fn(&Network) -> Option<&T>,
        ) -> Result<Vec<T>, String> {
            snapshots
                .iter()
                .map(|n| {
                    pick(n).cloned().ok_or_else(|| {
                        format!(
                            "cannot average {} with {}",
                            snapshots[0].method(),
                            n.method()
                        )
                    })
                })
                .collect()
        }
        let first = snapshots
            .first()
            .ok_or("nothing to average: no snapshot given")?;
        Ok(match first {
            Network::MmGan(_) => Network::MmGan(average_modules(&all(snapshots, |n| match n {
                Network::MmGan(g) => Some(g),
                _ => None,
            })?)?),
            Network::MmSynthesis(_) => {
                Network::MmSynthesis(average_modules(&all(snapshots, |n| match n {
                    Network::MmSynthesis(m) => Some(m),
                    _ => None,
                })?)?)
            }
            Network::PGan(_) => Network::PGan(average_modules(&all(snapshots, |n| match n {
                Network::PGan(p) => Some(p),
                _ => None,
            })?)?),
            Network::Replica(_) => {
                return Err("REPLICA's forests have no parameters to average".into())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GeneratorConfig;
    use burn::tensor::Device;

    fn values(g: &crate::model::Generator) -> Vec<f32> {
        flat(g)
            .unwrap()
            .into_iter()
            .flat_map(|p| p.values)
            .collect()
    }

    #[test]
    fn the_average_of_two_generators_is_their_parameterwise_mean_and_computes() {
        let device = Device::flex();
        let config = GeneratorConfig::new().with_width(4).with_depth(3);
        let (a, b) = (config.init(&device), config.init(&device));
        let (va, vb) = (values(&a), values(&b));
        assert_ne!(va, vb, "two initialisations differ");
        let mean = average_modules(&[a.clone(), b.clone()]).unwrap();
        let vm = values(&mean);
        assert_eq!(vm.len(), va.len());
        for ((m, x), y) in vm.iter().zip(&va).zip(&vb) {
            assert!((m - (x + y) / 2.0).abs() < 1e-6, "{m} vs mean of {x}, {y}");
        }
        // One snapshot averages to itself; the average still runs forward.
        assert_eq!(
            values(&average_modules(std::slice::from_ref(&a)).unwrap()),
            va
        );
        let x = Tensor::<4>::zeros([1, 4, 32, 32], &device);
        assert_eq!(mean.forward(x).dims(), [1, 4, 32, 32]);
    }

    #[test]
    fn snapshots_of_different_networks_or_methods_are_refused() {
        let device = Device::flex();
        let narrow = GeneratorConfig::new()
            .with_width(4)
            .with_depth(3)
            .init(&device);
        let wide = GeneratorConfig::new()
            .with_width(8)
            .with_depth(3)
            .init(&device);
        let e = average_modules(&[narrow.clone(), wide]).unwrap_err();
        assert!(e.contains("snapshot 2 is not the same network"), "{e}");
        assert!(average_modules::<crate::model::Generator>(&[]).is_err());
        let pgan = crate::model::PGanConfig::new().with_width(4).init(&device);
        let e = Network::average(&[Network::MmGan(narrow), Network::PGan(pgan)]).unwrap_err();
        assert!(e.contains("cannot average MM-GAN with pGAN"), "{e}");
    }
}
