//! Tissue relaxation parameters and the spin-echo / inversion-recovery signal equations.

use crate::io::Sequence;

/// One tissue compartment: proton density (relative to CSF) and relaxation times (ms) at
/// 3 T, with the T1 after gadolinium for the contrast-enhanced T1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tissue {
    pub name: &'static str,
    pub pd: f64,
    pub t1: f64,
    pub t2: f64,
    /// T1 after contrast (ms): shortened by gadolinium where the blood-brain barrier leaks.
    pub t1_post: f64,
    /// Apparent diffusion coefficient (10^-3 mm^2/s).
    pub adc: f64,
}

/// Compartments, in the order of a voxel's fractions: grey matter, white matter, CSF,
/// necrosis, enhancing tumour, oedema.
///
/// Sources: GM/WM T1 and T2 at 3 T from Wansapura et al., J Magn Reson Imaging
/// 1999;9:531-538 (WM T1 832 ms, T2 80 ms; GM T1 1331 ms, T2 110 ms); CSF T1 about 4.2 s
/// (Lu et al., Magn Reson Med 2005;54:1403-1411) and T2 about 2 s; proton densities as in
/// BrainWeb (Cocosco et al., NeuroImage 1997;5:S425: WM 0.69, GM 0.80, CSF 1.0). Tumour
/// compartments from ranges reported for gliomas at 3 T (oedema and necrosis lengthen T1
/// and T2 with their water content; e.g. Hattingen et al., Neuroradiology 2017;59:1167);
/// the enhancing rim's post-contrast T1 from 1/T1 = 1/T1_0 + r1 C with a gadolinium
/// relaxivity r1 of about 4.5 /mM/s at 3 T (Rohrer et al., Invest Radiol 2005;40:715) and a
/// tissue concentration of 0.3 mM. Apparent diffusion coefficients (10^-3 mm^2/s): WM 0.70
/// and GM 0.83 (Helenius et al., Radiology 2002;222:499-506), CSF 3.0 (free water at body
/// temperature), oedema about 1.4 and enhancing tumour about 1.1 (Kono et al., AJNR
/// 2001;22:1081-1088), necrosis about 2.5 (cyst-like).
pub const TISSUES: [Tissue; 6] = [
    Tissue {
        name: "grey matter",
        pd: 0.80,
        t1: 1331.0,
        t2: 110.0,
        t1_post: 1300.0,
        adc: 0.83,
    },
    Tissue {
        name: "white matter",
        pd: 0.69,
        t1: 832.0,
        t2: 80.0,
        t1_post: 820.0,
        adc: 0.70,
    },
    Tissue {
        name: "CSF",
        pd: 1.00,
        t1: 4200.0,
        t2: 2000.0,
        t1_post: 4200.0,
        adc: 3.0,
    },
    Tissue {
        name: "necrosis",
        pd: 0.95,
        t1: 3000.0,
        t2: 800.0,
        t1_post: 3000.0,
        adc: 2.5,
    },
    Tissue {
        name: "enhancing tumour",
        pd: 0.85,
        t1: 1600.0,
        t2: 150.0,
        t1_post: 506.0,
        adc: 1.1,
    },
    Tissue {
        name: "oedema",
        pd: 0.88,
        t1: 1700.0,
        t2: 200.0,
        t1_post: 1650.0,
        adc: 1.4,
    },
];

/// Spin echo: S = PD (1 - exp(-TR/T1)) exp(-TE/T2).
fn spin_echo(t: &Tissue, t1: f64, tr: f64, te: f64) -> f64 {
    t.pd * (1.0 - (-tr / t1).exp()) * (-te / t.t2).exp()
}

/// FLAIR timing: TR 9000 ms, TE 125 ms, and the inversion time that nulls CSF:
/// TI = T1_csf ln(2 / (1 + exp(-TR/T1_csf))).
pub const FLAIR_TR: f64 = 9000.0;
pub const FLAIR_TE: f64 = 125.0;

pub fn flair_ti() -> f64 {
    let t1 = TISSUES[2].t1;
    t1 * (2.0 / (1.0 + (-FLAIR_TR / t1).exp())).ln()
}

/// Diffusion weighting of the DWI (s/mm^2), as ISLES's trace images.
pub const DWI_B: f64 = 1000.0;

/// The signal of a pure tissue in a sequence (arbitrary units, before scanner gain).
/// T1-weighted: spin echo TR 600 / TE 12; T2-weighted: spin echo TR 5000 / TE 100; FLAIR:
/// inversion recovery, magnitude |1 - 2 exp(-TI/T1) + exp(-TR/T1)| exp(-TE/T2);
/// T1c: the T1-weighted sequence with the post-contrast T1; DWI: a spin-echo EPI, TR 6000 /
/// TE 90, attenuated by exp(-b ADC) (Stejskal-Tanner); ADC: the coefficient itself (its
/// maps are in units of 10^-6 mm^2/s, so one unit here is 1000 of them before gain).
pub fn signal(seq: Sequence, t: &Tissue) -> f64 {
    match seq {
        Sequence::Dwi => spin_echo(t, t.t1, 6000.0, 90.0) * (-DWI_B * t.adc * 1e-3).exp(),
        Sequence::Adc => t.adc,
        Sequence::T1 => spin_echo(t, t.t1, 600.0, 12.0),
        Sequence::T1c => spin_echo(t, t.t1_post, 600.0, 12.0),
        Sequence::T2 => spin_echo(t, t.t1, 5000.0, 100.0),
        Sequence::Flair => {
            let ti = flair_ti();
            t.pd * (1.0 - 2.0 * (-ti / t.t1).exp() + (-FLAIR_TR / t.t1).exp()).abs()
                * (-FLAIR_TE / t.t2).exp()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrasts_follow_mri() {
        let [gm, wm, csf, _, enh, oed] = TISSUES.map(|t| t);
        let s = |q, t: &Tissue| signal(q, t);
        // T1: WM > GM > CSF. T2: CSF > GM > WM. FLAIR: CSF nulled, GM > WM.
        assert!(
            s(Sequence::T1, &wm) > s(Sequence::T1, &gm)
                && s(Sequence::T1, &gm) > s(Sequence::T1, &csf)
        );
        assert!(
            s(Sequence::T2, &csf) > s(Sequence::T2, &gm)
                && s(Sequence::T2, &gm) > s(Sequence::T2, &wm)
        );
        assert!(s(Sequence::Flair, &csf) < 1e-3);
        assert!(s(Sequence::Flair, &gm) > s(Sequence::Flair, &wm));
        // Enhancing rim bright on T1c only; oedema bright on FLAIR and T2.
        assert!(s(Sequence::T1c, &enh) > 1.5 * s(Sequence::T1c, &wm));
        assert!(s(Sequence::T1, &enh) < s(Sequence::T1, &wm));
        assert!(s(Sequence::Flair, &oed) > 1.5 * s(Sequence::Flair, &wm));
        assert!(s(Sequence::T2, &oed) > 1.5 * s(Sequence::T2, &wm));
        // DWI: CSF dark (fast diffusion), tissue brighter; ADC the other way round.
        assert!(s(Sequence::Dwi, &csf) < 0.5 * s(Sequence::Dwi, &wm));
        assert!(s(Sequence::Adc, &csf) > 3.0 * s(Sequence::Adc, &gm));
    }
}
