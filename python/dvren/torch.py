"""dvren for PyTorch: rendering as a differentiable function of torch tensors.

    import torch, dvren, dvren.torch as dt
    ctx = dt.context("cuda")                      # dvren on torch's device and current stream
    scene = ...                                   # a differentiable dvren.Scene of ctx
    model = dt.Renderer(scene)                    # its parameters as nn.Parameters, sharing dvren's memory
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(n):
        out = model(plan, outputs=("rgb",))       # {"rgb": (H, W, 3) tensor}
        loss = torch.nn.functional.mse_loss(out["rgb"], target)
        opt.zero_grad(); loss.backward(); opt.step()

:func:`render` is the autograd function: it renders a dvren scene whose
differentiable parameters ("field.voxels", "shader.tf_opacity", ...) take
the values of the tensors passed in, and back-propagates dL/d(outputs) to
them with dvren's backward pass (the march replayed, kernels/dvren_march.h).

Memory: :class:`Renderer` registers each scene parameter as an
``nn.Parameter`` made with ``torch.from_dlpack`` from dvren's own memory, so
``optimizer.step()`` updates what dvren renders from, with no copy. Other
tensors may be passed to :func:`render` (say, a grid computed by a network):
their values are then copied into the scene's memory (on the device, on
torch's stream) before the render.

Streams and devices: a CUDA tensor must live on the dvren context's GPU;
every call queues dvren's work on ``torch.cuda.current_stream()`` (the
context follows it with dvren_cuda_set_stream), so torch work queued before
is seen, and torch work queued after sees dvren's results, without
synchronisation.

Precision: float32 tensors use dvren's float32 renderer (CPU or GPU). On a
CPU context, float64 tensors use the float64 reference path
(dvren_render_f64 / dvren_render_backward_f64: outputs and gradients in
float64, parameter values rounded to float32 as dvren stores them), which is
what ``torch.autograd.gradcheck`` needs; perturb by a power of two (eps =
2**-16 on values that are multiples of 2**-10 stays exact).
"""
from __future__ import annotations

import sys
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch

import dvren

__all__ = ["context", "render", "Renderer", "parameter_tensor", "render_splats"]

_DIFF_OUTPUTS = ("rgb", "alpha", "depth", "transmittance")


def context(device: Any = None, **options: Any) -> dvren.Context:
    """A dvren context for a torch device ("cpu", "cuda", "cuda:1",
    torch.device; default: torch's current CUDA device when CUDA is
    available, else the CPU). On CUDA it uses the device's primary context
    (PyTorch's) and queues on torch's current stream. options: see
    :class:`dvren.Context`. Errors: NoDeviceError when there is no usable GPU
    (never a CPU fallback), InvalidArgumentError for other device types."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        # without a GPU torch cannot name its current device: dvren then says why (NoDeviceError)
        index = dev.index if dev.index is not None else torch.cuda.current_device() if torch.cuda.is_available() else 0
        ctx = dvren.Context("cuda:%d" % index, **options)
        _follow_stream(ctx)
        return ctx
    if dev.type != "cpu":
        raise dvren.InvalidArgumentError("dvren.torch: device %s: dvren renders on cpu or cuda" % dev, -1)
    return dvren.Context("cpu", **options)


def _torch_device(ctx: dvren.Context) -> torch.device:
    return torch.device(ctx.device_str)


def _follow_stream(ctx: dvren.Context) -> None:
    """Queue dvren's work on torch's current stream of the context's device."""
    s = torch.cuda.current_stream(_torch_device(ctx)).cuda_stream
    if (ctx._stream_value() or 0) != s or not ctx._external_stream:
        ctx.set_stream(s)


def parameter_tensor(param: "dvren.Parameter", which: str = "value") -> torch.Tensor:
    """A torch tensor sharing a scene parameter's memory (no copy):
    ``which`` is "value" or "grad". Float32, the parameter's shape, on the
    context's device."""
    v = param.value if which == "value" else param.grad
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v)
    return torch.from_dlpack(v)


class _Render(torch.autograd.Function):
    @staticmethod
    def forward(fctx, scene: dvren.Scene, plan: dvren.Plan, outputs: Tuple[str, ...], deterministic: bool,
                *values: torch.Tensor):
        ctx = scene.context
        params = list(scene.params.values())
        f64 = len(values) > 0 and all(v.dtype == torch.float64 for v in values)
        if ctx.device == "cuda":
            _follow_stream(ctx)
        for p, v in zip(params, values):
            want = bool(v.requires_grad)
            if p.trainable != want:
                p.trainable = want
            if v.data_ptr() != (p._sp.value.data or 0) or v.dtype != torch.float32:
                view = parameter_tensor(p)  # a temporary view: nothing keeps the scene alive after the call
                with torch.no_grad():
                    view.copy_(v.detach().reshape(view.shape))  # rounded to float32; on torch's stream
        fctx.scene, fctx.plan, fctx.outputs, fctx.f64 = scene, plan, outputs, f64
        fctx.deterministic = deterministic
        fctx.n = len(values)
        if f64:
            if ctx.device != "cpu":
                raise dvren.InvalidArgumentError("dvren.torch: float64 renders run on a CPU context only", -1)
            res = scene.render_f64(plan, [o for o in outputs if o in _DIFF_OUTPUTS])
            fctx.fb = None
            return tuple(torch.from_numpy(res[o]) for o in outputs)
        fb = _output_framebuffer(plan)
        res = scene.render(plan, fb)
        # a plan with rgb and transmittance lets the backward pass reuse each ray's totals (spp 1)
        fctx.fb = fb if {"rgb", "transmittance"} <= set(plan.outputs) else None
        outs = tuple(_to_torch(res[o]) for o in outputs)
        fctx.mark_non_differentiable(*[t for o, t in zip(outputs, outs) if o not in _DIFF_OUTPUTS])
        return outs

    @staticmethod
    def backward(fctx, *grads: Optional[torch.Tensor]):
        scene, plan = fctx.scene, fctx.plan
        cot = {o: g for o, g in zip(fctx.outputs, grads) if g is not None and o in _DIFF_OUTPUTS}
        need = fctx.needs_input_grad[4:]
        params = list(scene.params.values())
        if not cot or not any(need):
            return (None, None, None, None) + tuple(None for _ in range(fctx.n))
        if fctx.f64:
            g64 = scene.backward_f64(plan, {o: g.detach().double().cpu().numpy() for o, g in cot.items()})
            return (None, None, None, None) + tuple(torch.from_numpy(g64[p.name]) if n else None
                                                    for p, n in zip(params, need))
        ctx = scene.context
        if ctx.device == "cuda":
            _follow_stream(ctx)
        scene.zero_grad()
        scene.backward(plan, {o: g.detach().float().contiguous() for o, g in cot.items()}, forward=fctx.fb,
                       deterministic=fctx.deterministic)
        # the scene's gradient buffers are reused by the next backward: hand torch a copy
        out = tuple(parameter_tensor(p, "grad").clone() if n else None for p, n in zip(params, need))
        fctx.fb = None
        return (None, None, None, None) + out


def _output_framebuffer(plan: dvren.Plan) -> dvren.Framebuffer:
    """A framebuffer for the plan's outputs that nothing else references:
    one of a few kept with the plan (a framebuffer is free again once the
    tensors viewing it and the autograd graph that saved it are gone), or a
    new one. Saves allocating (and zero-filling) host and device outputs at
    every step of a training loop."""
    pool = plan._scratch.setdefault("torch_outputs", [])
    for fb in pool:
        # references: the pool's list, this loop's variable, getrefcount's argument
        if fb._ptr is not None and sys.getrefcount(fb) <= 3:
            return fb
    fb = dvren.Framebuffer(plan)
    if len(pool) < 4:
        pool.append(fb)
    return fb


def _to_torch(x: Any) -> torch.Tensor:
    return torch.from_numpy(x) if isinstance(x, np.ndarray) else torch.from_dlpack(x)


def render(scene: dvren.Scene, plan: dvren.Plan, *values: torch.Tensor, outputs: Sequence[str] = ("rgb",),
           deterministic: bool = False) -> Tuple[torch.Tensor, ...]:
    """Renders ``plan`` with the scene's parameters set to ``values`` (one
    tensor per ``scene.params`` entry, in order, each with the parameter's
    number of elements) and returns the requested outputs as tensors: rgb
    (H, W, 3), alpha / depth / transmittance (H, W) (differentiable), hit
    (H, W) uint8, samples (H, W) int32-sized uint32 and variance (H, W)
    float32 (not). Gradients flow
    to every value that requires grad; the others are frozen in dvren
    (dvren_scene_param_set_trainable). float32 values render on the
    context's device; float64 values (CPU context) through the float64
    reference path. deterministic: bitwise reproducible gradients.
    Errors: dvren.Error subclasses; InvalidArgumentError for values of the
    wrong count, size or device."""
    params = list(scene.params.values())
    if not scene.differentiable:
        raise dvren.InvalidArgumentError("dvren.torch.render: the scene was not created differentiable", -1)
    if len(values) != len(params):
        raise dvren.InvalidArgumentError("dvren.torch.render: %d values for the scene's %d parameters (%s)"
                                         % (len(values), len(params), ", ".join(p.name for p in params)), -1)
    dev = _torch_device(scene.context)
    for p, v in zip(params, values):
        if v.numel() != p.numel:
            raise dvren.InvalidArgumentError("dvren.torch.render: '%s' has %d elements, the value given %d"
                                             % (p.name, p.numel, v.numel()), -1)
        if v.device != dev:
            raise dvren.InvalidArgumentError("dvren.torch.render: '%s' is on %s, the scene renders on %s"
                                             % (p.name, v.device, dev), -1)
    outputs = tuple(outputs)
    missing = [o for o in outputs if o not in plan.outputs]
    if missing:
        raise dvren.InvalidArgumentError("dvren.torch.render: the plan does not select %s (it has %s)"
                                         % (", ".join(missing), ", ".join(plan.outputs)), -1)
    return _Render.apply(scene, plan, outputs, deterministic, *values)


class Renderer(torch.nn.Module):
    """A differentiable dvren scene as a ``torch.nn.Module``. Its
    parameters are the scene's ("field.voxels" becomes the attribute and
    parameter name ``field_voxels``; :meth:`param` takes either), as
    ``nn.Parameter``s sharing dvren's memory: a ``torch.optim`` optimizer
    updates what dvren renders from, with no copy. ``trainable``: names to
    train (default all); the others are frozen (requires_grad False)."""

    def __init__(self, scene: dvren.Scene, trainable: Optional[Iterable[str]] = None):
        super().__init__()
        if not scene.differentiable:
            raise dvren.InvalidArgumentError("dvren.torch.Renderer: the scene was not created differentiable", -1)
        self.scene = scene
        want = set(trainable) if trainable is not None else None
        self._names = []
        for p in scene.params.values():
            attr = p.name.replace(".", "_")
            self.register_parameter(attr, torch.nn.Parameter(parameter_tensor(p),
                                                             requires_grad=want is None or p.name in want))
            self._names.append((p.name, attr))

    def param(self, name: str) -> torch.nn.Parameter:
        """The parameter called "field.voxels" or "field_voxels"."""
        for full, attr in self._names:
            if name in (full, attr):
                return getattr(self, attr)
        raise dvren.NotFoundError("Renderer: no parameter %r (parameters: %s)"
                                  % (name, ", ".join(n for n, _ in self._names)), -5)

    def forward(self, plan: dvren.Plan, outputs: Sequence[str] = ("rgb",),
                deterministic: bool = False) -> Dict[str, torch.Tensor]:
        """Renders plan; returns {output name: tensor} (see :func:`render`)."""
        outs = render(self.scene, plan, *[getattr(self, a) for _, a in self._names], outputs=outputs,
                      deterministic=deterministic)
        return dict(zip(tuple(outputs), outs))


# ---------------------------------------------------------------- 3D Gaussian splats

_SPLAT_DIFF = ("rgb", "alpha", "depth", "transmittance")
_SPLAT_OUTPUTS = ("rgb", "alpha", "depth", "transmittance", "median_depth", "samples")
_default_contexts: Dict[str, dvren.Context] = {}
_default_renderers: Dict[Tuple[Any, ...], dvren.SplatRenderer] = {}


def _splat_context(device: torch.device) -> dvren.Context:
    """The module's own context for a torch device (made once)."""
    key = str(device) if device.type == "cpu" else "cuda:%d" % (
        device.index if device.index is not None else torch.cuda.current_device())
    c = _default_contexts.get(key)
    if c is None or c._ptr is None:
        c = _default_contexts[key] = context(key)
    return c


class _RenderSplats(torch.autograd.Function):
    @staticmethod
    def forward(fctx, renderer: dvren.SplatRenderer, plan: dvren.Plan, outputs: Tuple[str, ...],
                *params: torch.Tensor):
        ctx = renderer.context
        if ctx.device == "cuda":
            _follow_stream(ctx)
        fb = dvren.Framebuffer(plan)
        res = renderer.render(*[p.detach() for p in params], plan, outputs=outputs, out=fb)
        fctx.renderer, fctx.plan, fctx.outputs = renderer, plan, outputs
        fctx.render_id = renderer.renders
        fctx.save_for_backward(*params)
        outs = tuple(_to_torch(res[o]) for o in outputs)
        fctx.mark_non_differentiable(*[t for o, t in zip(outputs, outs) if o not in _SPLAT_DIFF])
        return outs

    @staticmethod
    def backward(fctx, *grads: Optional[torch.Tensor]):
        renderer, plan = fctx.renderer, fctx.plan
        need = fctx.needs_input_grad[3:]
        cot = {o: g.detach().float().contiguous() for o, g in zip(fctx.outputs, grads)
               if g is not None and o in _SPLAT_DIFF}
        if not cot or not any(need):
            return (None, None, None) + tuple(None for _ in need)
        params = fctx.saved_tensors
        ctx = renderer.context
        if ctx.device == "cuda":
            _follow_stream(ctx)
        if renderer.renders != fctx.render_id:
            # the renderer drew something else since: replay this render first (same inputs, same state)
            renderer.render(*[p.detach() for p in params], plan, outputs=(), out=dvren.Framebuffer(plan))
            fctx.render_id = renderer.renders
        wants = [n for n, w in zip(dvren.SPLAT_TENSORS, need) if w]
        out = {n: torch.empty_like(p) for n, p, w in zip(dvren.SPLAT_TENSORS, params, need) if w}
        renderer.backward(cot, grads=out, wants=wants)
        return (None, None, None) + tuple(out.get(n) for n in dvren.SPLAT_TENSORS)


def render_splats(means: torch.Tensor, log_scales: torch.Tensor, quats: torch.Tensor, opacity_logits: torch.Tensor,
                  sh: torch.Tensor, camera: dvren.Camera, width: int, height: int, *,
                  outputs: Sequence[str] = ("rgb", "alpha"), background: Sequence[float] = (0.0, 0.0, 0.0),
                  min_transmittance: float = 0.0, renderer: Optional[dvren.SplatRenderer] = None,
                  **settings: float) -> Dict[str, torch.Tensor]:
    """Renders N 3D Gaussians (dvren.SplatRenderer, docs/splats.md) as a
    differentiable function of their parameters: means (N, 3), log_scales
    (N, 3), quats (N, 4) w x y z, opacity_logits (N), sh (N, K, 3) with K =
    (degree + 1)^2 (gsplat's layout), all on one device. camera: a
    dvren.Camera (:meth:`dvren.Camera.from_opencv` or ``look_at``); width,
    height: the image in pixels. Returns {name: tensor} for ``outputs``:
    rgb (H, W, 3), alpha, depth (expected camera z), transmittance (H, W)
    (differentiable), median_depth (H, W) and samples (H, W) (not).

    Tensors of any real dtype are rounded to float32 (the renderer's
    precision; gradients come back in the inputs' dtype through torch's
    cast). CPU tensors render on a CPU context, CUDA tensors on a CUDA
    context through DLPack without copies, on torch's current stream.
    renderer: the dvren.SplatRenderer to use (its context decides the
    device; default: one per device and settings, kept by this module);
    settings: near, far, eps2d, alpha_max for the default one. The backward
    pass is dvren_splat_backward (exact, deterministic), replaying this
    render when the renderer drew something else in between. Errors:
    dvren.InvalidArgumentError naming the tensor (not a real dtype, wrong
    shape, another device than the renderer's, non-finite values),
    dvren.UnsupportedError (a camera splats cannot use)."""
    ts = {"means": means, "log_scales": log_scales, "quats": quats, "opacity_logits": opacity_logits, "sh": sh}
    for n, t in ts.items():
        if not isinstance(t, torch.Tensor):
            raise dvren.InvalidArgumentError("render_splats: %s is a %s, expected a torch.Tensor"
                                             % (n, type(t).__name__), -1)
        if not t.is_floating_point():
            raise dvren.InvalidArgumentError("render_splats: %s has dtype %s, expected a real dtype (float32)"
                                             % (n, t.dtype), -1)
    dev = means.device
    for n, t in ts.items():
        if t.device != dev:
            raise dvren.InvalidArgumentError("render_splats: %s is on %s, means on %s: all on one device"
                                             % (n, t.device, dev), -1)
    if renderer is None:
        ctx = _splat_context(dev)
        key = (id(ctx),) + tuple(sorted(settings.items()))
        renderer = _default_renderers.get(key)
        if renderer is None or renderer._ptr is None:
            renderer = _default_renderers[key] = ctx.splat_renderer(**settings)
    elif settings:
        raise dvren.InvalidArgumentError("render_splats: settings %s go to the default renderer, not to one given"
                                         % ", ".join(settings), -1)
    ctx = renderer.context
    want = _torch_device(ctx)
    if dev.type != want.type or (dev.type == "cuda" and dev.index not in (None, want.index)):
        raise dvren.InvalidArgumentError("render_splats: means is on %s, the renderer draws on %s" % (dev, want), -1)
    outputs = tuple(outputs)
    for o in outputs:
        if o not in _SPLAT_OUTPUTS:
            raise dvren.InvalidArgumentError("render_splats: output %r: splats make %s"
                                             % (o, ", ".join(_SPLAT_OUTPUTS)), -1)
    if not isinstance(camera, dvren.Camera):
        raise dvren.InvalidArgumentError("render_splats: camera is a %s, expected a dvren.Camera"
                                         % type(camera).__name__, -1)
    plan = ctx.plan(width, height, camera, outputs=outputs, background=background,
                    min_transmittance=min_transmittance)
    vals = [t.to(torch.float32).contiguous() for t in ts.values()]
    outs = _RenderSplats.apply(renderer, plan, outputs, *vals)
    return dict(zip(outputs, outs))
