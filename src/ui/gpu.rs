//! Panels drawn on the GPU: raw slices uploaded as `r32float` textures only when their
//! content changes; window/level, the difference and label overlays applied per frame by
//! `shaders/slice.wgsl` through egui-wgpu paint callbacks.
//!
//! Owns the wgpu pipeline and the per-panel textures (kept in egui-wgpu's callback
//! resources). [`super::render::compose`] is the CPU reference of the same look.

use std::sync::Arc;

use eframe::egui_wgpu::{self, wgpu};

use super::render::{Difference, LabelStyle, Look};

const SHADER: &str = include_str!("../../shaders/slice.wgsl");

/// One texture's worth of voxels (row-major, x fastest) and a key naming its content:
/// the upload is skipped while the key is unchanged.
#[derive(Clone)]
pub struct Layer {
    pub key: u64,
    pub data: Arc<Vec<f32>>,
}

/// What one panel draws this frame.
#[derive(Clone)]
pub struct PanelPaint {
    /// Which panel's textures to use (0..4).
    pub panel: usize,
    /// [nx, ny] of the slice.
    pub dims: [u32; 2],
    pub base: Layer,
    pub truth: Option<Layer>,
    pub label: Option<Layer>,
    pub look: Look,
    /// Where the slice is drawn, in points (min x, min y, width, height); it may extend
    /// past the window when zoomed.
    pub rect: [f32; 4],
}

/// The shader's `Params`, as 16 words, for a target with `pixels_per_point`.
fn params(p: &PanelPaint, pixels_per_point: f32) -> [u32; 16] {
    let l = &p.look;
    let mode = match l.difference {
        Difference::Signed if p.truth.is_some() => 1,
        Difference::Absolute if p.truth.is_some() => 2,
        Difference::Uncertainty if p.truth.is_some() => 3,
        _ => 0,
    };
    let labels = match (l.labels, p.label.is_some()) {
        (LabelStyle::Filled, true) => 1,
        (LabelStyle::Outline, true) => 2,
        _ => 0,
    };
    [
        p.dims[0],
        p.dims[1],
        u32::from(l.radiological),
        mode,
        l.window.0.to_bits(),
        l.window.1.to_bits(),
        l.means.0.to_bits(),
        l.means.1.to_bits(),
        l.diff_scale.to_bits(),
        l.diff_opacity.to_bits(),
        labels,
        l.label_opacity.to_bits(),
        (p.rect[0] * pixels_per_point).to_bits(),
        (p.rect[1] * pixels_per_point).to_bits(),
        (p.rect[2] * pixels_per_point).to_bits(),
        (p.rect[3] * pixels_per_point).to_bits(),
    ]
}

/// Key of an all-zero texture (absent truth or labels).
const ZEROS: u64 = u64::MAX;

struct PanelGpu {
    dims: [u32; 2],
    textures: [wgpu::Texture; 3],
    keys: [Option<u64>; 3],
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// The pipeline and every panel's GPU state.
pub struct SliceGpu {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    panels: Vec<Option<PanelGpu>>,
}

impl SliceGpu {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> SliceGpu {
        let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mmgan slice"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                texture_entry(1),
                texture_entry(2),
                texture_entry(3),
            ],
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("shaders/slice.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("mmgan slice"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("mmgan slice"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        SliceGpu {
            pipeline,
            layout,
            panels: Vec::new(),
        }
    }

    fn panel_gpu(&self, device: &wgpu::Device, dims: [u32; 2]) -> PanelGpu {
        let texture = || {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some("mmgan slice layer"),
                size: wgpu::Extent3d {
                    width: dims[0],
                    height: dims[1],
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::R32Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        };
        let textures = [texture(), texture(), texture()];
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("mmgan slice params"),
            size: 64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let views: Vec<wgpu::TextureView> = textures
            .iter()
            .map(|t| t.create_view(&Default::default()))
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("mmgan slice"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniform.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&views[0]),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(&views[1]),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::TextureView(&views[2]),
                },
            ],
        });
        PanelGpu {
            dims,
            textures,
            keys: [None; 3],
            uniform,
            bind_group,
        }
    }

    /// Upload what changed for `paint` (textures by key; parameters every time).
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        paint: &PanelPaint,
        pixels_per_point: f32,
    ) {
        if self.panels.len() <= paint.panel {
            self.panels.resize_with(paint.panel + 1, || None);
        }
        if self.panels[paint.panel]
            .as_ref()
            .is_none_or(|p| p.dims != paint.dims)
        {
            self.panels[paint.panel] = Some(self.panel_gpu(device, paint.dims));
        }
        let Some(gpu) = self.panels[paint.panel].as_mut() else {
            return;
        };
        let texels = paint.dims[0] as usize * paint.dims[1] as usize;
        let layers = [
            Some(&paint.base),
            paint.truth.as_ref(),
            paint.label.as_ref(),
        ];
        for (i, layer) in layers.into_iter().enumerate() {
            let key = layer.map_or(ZEROS, |l| l.key);
            if gpu.keys[i] == Some(key) {
                continue;
            }
            let zeros;
            let data: &[f32] = match layer {
                Some(l) if l.data.len() == texels => &l.data,
                _ => {
                    zeros = vec![0f32; texels];
                    &zeros
                }
            };
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &gpu.textures[i],
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                bytemuck::cast_slice(data),
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(4 * paint.dims[0]),
                    rows_per_image: Some(paint.dims[1]),
                },
                wgpu::Extent3d {
                    width: paint.dims[0],
                    height: paint.dims[1],
                    depth_or_array_layers: 1,
                },
            );
            gpu.keys[i] = Some(key);
        }
        queue.write_buffer(
            &gpu.uniform,
            0,
            bytemuck::cast_slice(&params(paint, pixels_per_point)),
        );
    }

    /// Draw panel `panel` into the pass's viewport.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, panel: usize) {
        if let Some(Some(gpu)) = self.panels.get(panel) {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &gpu.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }
}

impl egui_wgpu::CallbackTrait for PanelPaint {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(gpu) = resources.get_mut::<SliceGpu>() {
            gpu.prepare(device, queue, self, screen.pixels_per_point);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: eframe::egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(gpu) = resources.get::<SliceGpu>() {
            gpu.draw(pass, self.panel);
        }
    }
}

/// A one-line description of the adapter, e.g. "wgpu: llvmpipe (LLVM 19), Vulkan, CPU".
pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    let kind = match info.device_type {
        wgpu::DeviceType::Cpu => "software (CPU)",
        wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        wgpu::DeviceType::VirtualGpu => "virtual GPU",
        wgpu::DeviceType::Other => "other",
    };
    format!("wgpu {:?}: {}, {kind}", info.backend, info.name)
}

/// Draw `paint` into an offscreen RGBA8 image of `paint.dims` pixels (one pixel per point;
/// `rect` places the slice, e.g. over the whole image for one pixel per voxel) on a fresh
/// device: the shader's test against the CPU reference, and usable headless. Returns the
/// pixels row by row, and the adapter used.
pub fn render_offscreen(paint: &PanelPaint) -> Result<(Vec<u8>, String), String> {
    let instance = wgpu::Instance::default();
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::LowPower,
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    }))
    .map_err(|e| format!("no wgpu adapter: {e}"))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&Default::default()))
        .map_err(|e| format!("no wgpu device: {e}"))?;
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let mut gpu = SliceGpu::new(&device, format);
    gpu.prepare(&device, &queue, paint, 1.0);
    let [w, h] = paint.dims;
    let target = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("offscreen"),
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    // Rows of a texture-to-buffer copy are padded to 256 bytes.
    let row = (4 * w).div_ceil(256) * 256;
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("offscreen readback"),
        size: u64::from(row * h),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let view = target.create_view(&Default::default());
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("offscreen"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            ..Default::default()
        });
        gpu.draw(&mut pass, paint.panel);
    }
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture: &target,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row),
                rows_per_image: Some(h),
            },
        },
        wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
    );
    queue.submit([encoder.finish()]);
    let slice = buffer.slice(..);
    let (tx, rx) = crossbeam_channel::bounded(1);
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| format!("wgpu poll: {e}"))?;
    rx.recv()
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("readback: {e}"))?;
    let mapped = slice
        .get_mapped_range()
        .map_err(|e| format!("readback: {e}"))?;
    let mut pixels = Vec::with_capacity((4 * w * h) as usize);
    for r in 0..h as usize {
        let start = r * row as usize;
        pixels.extend_from_slice(&mapped[start..start + 4 * w as usize]);
    }
    Ok((pixels, describe_adapter(&adapter.get_info())))
}
