// One slice panel: window/level to grey, an optional difference overlay against the
// ground truth (signed, blue-white-red centred on 0, or absolute error, hot) or uncertainty
// overlay (inferno, fading in with the uncertainty), and an optional tumour label overlay
// (filled or outlined). The CPU reference of this shader is
// `ui::render::compose`; a test renders both and compares them pixel by pixel.
//
// Textures hold raw voxel values (r32float, x along the width, y along the height, as
// stored in RAS order); the screen's row 0 is the most anterior row.

struct Params {
    dims: vec2<u32>,
    radiological: u32,
    // 0: grey only; 1: signed difference overlay; 2: absolute error overlay;
    // 3: uncertainty overlay (the `truth` texture holds the uncertainty).
    mode: u32,
    window: vec2<f32>,
    // Divisors that bring the slice and the truth to one scale before differencing.
    means: vec2<f32>,
    diff_scale: f32,
    diff_opacity: f32,
    // 0: no labels; 1: filled; 2: outline.
    label_mode: u32,
    label_opacity: f32,
    // The slice's rectangle on the render target, in pixels. Texels are found from the
    // fragment's position, not the viewport: egui clamps a callback's viewport to the
    // window, which would squash a zoomed slice that extends past the window's edge.
    origin: vec2<f32>,
    size: vec2<f32>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var base: texture_2d<f32>;
@group(0) @binding(2) var truth: texture_2d<f32>;
@group(0) @binding(3) var labels: texture_2d<f32>;

// One triangle covering the viewport (the visible part of the slice's rectangle).
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    return vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
}

// The "inferno" colour map: Matt Zucker's degree-6 polynomial fit (public domain), the
// same constants as `ui::render::inferno`.
fn inferno(t_in: f32) -> vec3<f32> {
    let t = clamp(t_in, 0.0, 1.0);
    let c0 = vec3<f32>(0.00021894, 0.001651005, -0.0194809);
    let c1 = vec3<f32>(0.10651342, 0.56395644, 3.9327124);
    let c2 = vec3<f32>(11.602493, -3.972854, -15.942394);
    let c3 = vec3<f32>(-41.703995, 17.4364, 44.354145);
    let c4 = vec3<f32>(77.16294, -33.40236, -81.80731);
    let c5 = vec3<f32>(-71.31943, 32.626064, 73.20952);
    let c6 = vec3<f32>(25.131126, -12.242669, -23.070325);
    let c = c0 + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * (c5 + t * c6)))));
    return clamp(c, vec3<f32>(0.0), vec3<f32>(1.0));
}

fn label_at(x: i32, y: i32) -> i32 {
    return i32(round(textureLoad(labels, vec2<i32>(x, y), 0).r));
}

fn label_colour(l: i32) -> vec3<f32> {
    switch l {
        case 1: { return vec3<f32>(1.0, 0.2, 0.2); }   // necrosis
        case 2: { return vec3<f32>(0.2, 0.9, 0.2); }   // oedema
        case 3, 4: { return vec3<f32>(1.0, 0.9, 0.1); } // enhancing
        default: { return vec3<f32>(0.3, 0.6, 1.0); }
    }
}

@fragment
fn fs_main(@builtin(position) frag: vec4<f32>) -> @location(0) vec4<f32> {
    let n = vec2<f32>(p.dims);
    let uv = (frag.xy - p.origin) / max(p.size, vec2<f32>(1e-6, 1e-6));
    let col = min(u32(max(uv.x, 0.0) * n.x), p.dims.x - 1u);
    let row = min(u32(max(uv.y, 0.0) * n.y), p.dims.y - 1u);
    var x = col;
    if p.radiological == 1u {
        x = p.dims.x - 1u - col;
    }
    let y = p.dims.y - 1u - row;
    let at = vec2<i32>(i32(x), i32(y));

    let v = textureLoad(base, at, 0).r;
    let span = max(p.window.y - p.window.x, 1e-6);
    let g = clamp((v - p.window.x) / span, 0.0, 1.0);
    var rgb = vec3<f32>(g, g, g);

    let t = textureLoad(truth, at, 0).r;
    // Outside the head (both empty) there is nothing to compare: leave it black.
    if p.mode == 3u && t > 0.0 {
        let u = t / p.means.x / max(p.diff_scale, 1e-6);
        let alpha = p.diff_opacity * clamp(u * 2.0, 0.0, 1.0);
        rgb = mix(rgb, inferno(u), alpha);
    } else if (p.mode == 1u || p.mode == 2u) && (v != 0.0 || t != 0.0) {
        let d = clamp((v / p.means.x - t / p.means.y) / max(p.diff_scale, 1e-6), -1.0, 1.0);
        var c: vec3<f32>;
        if p.mode == 1u {
            if d >= 0.0 {
                c = vec3<f32>(1.0, 1.0 - d, 1.0 - d);
            } else {
                c = vec3<f32>(1.0 + d, 1.0 + d, 1.0);
            }
        } else {
            let a = abs(d) * 3.0;
            c = vec3<f32>(clamp(a, 0.0, 1.0), clamp(a - 1.0, 0.0, 1.0), clamp(a - 2.0, 0.0, 1.0));
        }
        rgb = mix(rgb, c, p.diff_opacity);
    }

    if p.label_mode != 0u {
        let l = label_at(at.x, at.y);
        if l > 0 {
            var show = p.label_mode == 1u;
            if !show {
                let maxi = vec2<i32>(p.dims) - vec2<i32>(1, 1);
                show = label_at(max(at.x - 1, 0), at.y) != l
                    || label_at(min(at.x + 1, maxi.x), at.y) != l
                    || label_at(at.x, max(at.y - 1, 0)) != l
                    || label_at(at.x, min(at.y + 1, maxi.y)) != l;
            }
            if show {
                rgb = mix(rgb, label_colour(l), p.label_opacity);
            }
        }
    }
    return vec4<f32>(rgb, 1.0);
}
