"""ctypes mirror of the C API (dvren.h, dvren_cuda.h): structs, constants and
function prototypes of the package's native library (dvren/_lib/libdvren.so,
built from python/dvren/_native.c).

This module only declares; dvren/__init__.py gives the Pythonic API. Struct
layouts are checked against the C compiler's at test time
(python/tests/test_capi.py compares ctypes.sizeof with dvpy_sizeof), so a
change in dvren.h that this file misses fails a test instead of corrupting
memory. Names follow the C ones without the ``dvren_`` prefix.
"""
from __future__ import annotations

import ctypes as C
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
LIB_DIR = os.path.join(_HERE, "_lib")
PLUGIN_DIR = os.path.join(LIB_DIR, "plugins")
LIB_PATH = os.path.join(LIB_DIR, "libdvren.so")

# ---- constants (dvren.h) -------------------------------------------------

OK = 0
STATUS_NAMES = {
    -1: "INVALID_ARGUMENT", -2: "OUT_OF_MEMORY", -3: "IO", -4: "FORMAT", -5: "NOT_FOUND",
    -6: "PLUGIN", -7: "UNSUPPORTED", -8: "NO_DEVICE", -9: "DEVICE", -10: "COMPILE",
    -11: "CANCELLED", -12: "INTERNAL", -13: "TIMEOUT",
}

DTYPE_F32, DTYPE_F16, DTYPE_U8, DTYPE_U16, DTYPE_U32 = 1, 2, 3, 4, 5
MEMORY_HOST, MEMORY_DEVICE = 0, 1
DEVICE_CPU, DEVICE_CUDA = 0, 1
PLUGIN_FIELD, PLUGIN_SHADER, PLUGIN_SAMPLER, PLUGIN_SALIENCY = 1, 2, 3, 4
PLUGIN_REGISTRATION = 6
# dvren_cfa (dvren.h >>register): colour-filter-array layouts
CFA_NONE, CFA_RGGB, CFA_BGGR, CFA_GRBG, CFA_GBRG, CFA_XTRANS = 0, 1, 2, 3, 4, 5
REGISTER_MAX_PLANES = 36
SCENE_DIFFERENTIABLE = 0x1
BACKWARD_DETERMINISTIC = 0x1
CONTEXT_LOG_JSON = 0x1
PARAM_VALUE, PARAM_GRAD = 0, 1
TV_SQUARED = 0x1
CAMERA_NONE = 0

OUTPUTS = {"rgb": 0x01, "alpha": 0x02, "depth": 0x04, "transmittance": 0x08, "hit": 0x10, "samples": 0x20,
           "variance": 0x40, "surface_id": 0x80, "median_depth": 0x100}
NO_SURFACE = 0xFFFFFFFF  # DVREN_NO_SURFACE: a pixel of the surface_id output whose rays hit no surface
LOG_LEVELS = {"error": 0, "warn": 1, "info": 2, "debug": 3}
MAX_DIMS = 4

# ---- structs ------------------------------------------------------------------


class Tensor(C.Structure):
    _fields_ = [("data", C.c_void_p), ("dtype", C.c_int), ("ndim", C.c_uint32),
                ("shape", C.c_int64 * MAX_DIMS), ("strides", C.c_int64 * MAX_DIMS),
                ("memory", C.c_int), ("flags", C.c_uint32)]


class Camera(C.Structure):
    _fields_ = [("model", C.c_uint32), ("perspective", C.c_uint32), ("eye", C.c_float * 3),
                ("forward", C.c_float * 3), ("right", C.c_float * 3), ("up", C.c_float * 3),
                ("tan_half_fov_y", C.c_float), ("ortho_height", C.c_float), ("inv_view_proj", C.c_float * 16),
                ("fx", C.c_float), ("fy", C.c_float), ("cx", C.c_float), ("cy", C.c_float)]


class Rect(C.Structure):
    _fields_ = [("x", C.c_uint32), ("y", C.c_uint32), ("w", C.c_uint32), ("h", C.c_uint32)]


class PlanDesc(C.Structure):
    _fields_ = [("width", C.c_uint32), ("height", C.c_uint32), ("roi", Rect), ("camera", Camera),
                ("step_world", C.c_float), ("samples_per_ray", C.c_uint32), ("spp", C.c_uint32),
                ("seed", C.c_uint64), ("outputs", C.c_uint32), ("background", C.c_float * 3),
                ("rays", C.POINTER(Tensor)), ("min_transmittance", C.c_float),
                ("spp_map", C.POINTER(Tensor)), ("step_map", C.POINTER(Tensor))]


class Allocator(C.Structure):
    _fields_ = [("alloc", C.c_void_p), ("free", C.c_void_p), ("user", C.c_void_p)]


LOG_FN = C.CFUNCTYPE(None, C.c_void_p, C.c_int, C.c_char_p)
PROGRESS_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_uint64, C.c_uint64)


class ContextDesc(C.Structure):
    _fields_ = [("allocator", Allocator), ("log", LOG_FN), ("log_user", C.c_void_p), ("log_level", C.c_int),
                ("threads", C.c_uint32), ("plugin_path", C.c_char_p), ("device", C.c_int),
                ("backend", C.c_void_p), ("device_index", C.c_uint32), ("device_name", C.c_char_p),
                ("min_compute_capability", C.c_uint32), ("kernel_cache_dir", C.c_char_p), ("flags", C.c_uint32)]


class SceneDesc(C.Structure):
    _fields_ = [("field", C.c_void_p), ("shader", C.c_void_p), ("sampler", C.c_void_p), ("flags", C.c_uint32)]


class SceneParam(C.Structure):
    _fields_ = [("name", C.c_char_p), ("stage", C.c_void_p), ("slot", C.c_uint32), ("buffer", C.c_uint32),
                ("numel", C.c_uint64), ("value", Tensor), ("grad", Tensor)]


class RenderOptions(C.Structure):
    _fields_ = [("threads", C.c_uint32), ("progress", PROGRESS_FN), ("progress_user", C.c_void_p)]


class BackwardOptions(C.Structure):
    _fields_ = [("threads", C.c_uint32), ("flags", C.c_uint32), ("progress", PROGRESS_FN),
                ("progress_user", C.c_void_p), ("forward", C.c_void_p)]


class ImageF64(C.Structure):
    _fields_ = [("rgb", C.c_void_p), ("alpha", C.c_void_p), ("depth", C.c_void_p), ("transmittance", C.c_void_p)]


class LossDesc(C.Structure):
    _fields_ = [("kind", C.c_int), ("huber_delta", C.c_float), ("weight", C.c_float),
                ("target_rgb", C.POINTER(Tensor)), ("target_alpha", C.POINTER(Tensor)), ("alpha_weight", C.c_float)]


class TVDesc(C.Structure):
    _fields_ = [("param", C.c_uint32), ("weight", C.c_float), ("c0", C.c_uint32), ("c1", C.c_uint32),
                ("flags", C.c_uint32)]


class OptimizerDesc(C.Structure):
    _fields_ = [("kind", C.c_int), ("lr", C.c_float), ("beta1", C.c_float), ("beta2", C.c_float),
                ("eps", C.c_float), ("momentum", C.c_float), ("weight_decay", C.c_float),
                ("lr_decay", C.c_float), ("decay_steps", C.c_uint32)]


class GradcheckDesc(C.Structure):
    _fields_ = [("seed", C.c_uint64), ("elements", C.c_uint32), ("outputs", C.c_uint32), ("flags", C.c_uint32)]


class GradcheckResult(C.Structure):
    _fields_ = [("checked", C.c_uint32), ("skipped", C.c_uint32), ("fd_error", C.c_double),
                ("f32_error", C.c_double), ("grad_norm", C.c_double), ("worst", C.c_char * 96)]


class CudaInfo(C.Structure):
    _fields_ = [("device_name", C.c_char * 256), ("compute_capability", C.c_uint32),
                ("multiprocessors", C.c_uint32), ("total_memory", C.c_uint64), ("driver_version", C.c_int),
                ("nvrtc_major", C.c_int), ("nvrtc_minor", C.c_int), ("target", C.c_char * 32),
                ("cache_dir", C.c_char * 1024), ("context", C.c_void_p), ("device_ordinal", C.c_int)]


class CudaMemory(C.Structure):
    _fields_ = [("in_use", C.c_uint64), ("cached", C.c_uint64), ("peak", C.c_uint64),
                ("driver_allocs", C.c_uint64), ("device_free", C.c_uint64), ("device_total", C.c_uint64),
                ("peak_in_use", C.c_uint64)]


class NerfViews(C.Structure):
    _fields_ = [("count", C.c_int), ("width", C.c_int), ("height", C.c_int), ("rays", C.POINTER(C.c_float)),
                ("rgb", C.POINTER(C.c_float)), ("alpha", C.POINTER(C.c_float)), ("pose", C.POINTER(C.c_double)),
                ("focal", C.c_double)]


class NerfReport(C.Structure):
    _fields_ = [("frames", C.c_int), ("missing", C.c_int), ("first_missing", C.c_char * 2048)]


class BufferDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("flags", C.c_uint32), ("name", C.c_char_p), ("tensor", Tensor)]


class InstanceInfo(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("block_size", C.c_uint32), ("buffer_count", C.c_uint32),
                ("buffers", C.POINTER(BufferDesc)), ("channels", C.c_uint32), ("bounds_min", C.c_float * 3),
                ("bounds_max", C.c_float * 3), ("voxel_world", C.c_float), ("voxel_size", C.c_float * 3),
                ("channels_used", C.c_uint32), ("needs_gradient", C.c_uint32), ("gradient_channel", C.c_uint32),
                ("min_transmittance", C.c_float), ("density_from_one_channel", C.c_uint32),
                ("density_channel", C.c_uint32), ("jit_defines", C.c_char_p), ("flat_empty_density", C.c_uint32)]


class ParamDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("type", C.c_int), ("name", C.c_char_p), ("doc", C.c_char_p),
                ("unit", C.c_char_p), ("flags", C.c_uint32), ("default_number", C.c_double),
                ("default_string", C.c_char_p), ("min_value", C.c_double), ("max_value", C.c_double),
                ("enum_values", C.c_char_p), ("count_min", C.c_uint32), ("count_max", C.c_uint32),
                ("stride", C.c_uint32), ("default_numbers", C.POINTER(C.c_double)), ("default_count", C.c_uint32)]


class PluginDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("kind", C.c_int), ("name", C.c_char_p), ("version", C.c_uint32),
                ("summary", C.c_char_p), ("params", C.c_void_p), ("param_count", C.c_uint32),
                ("device_source", C.c_char_p), ("device_source_file", C.c_char_p), ("get_interface", C.c_void_p)]


# ---- >>foveate (dvren.h): saliency models, importance maps, budgets


class SaliencyInput(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("width", C.c_uint32), ("height", C.c_uint32), ("memory", C.c_int),
                ("rgb", C.c_void_p), ("alpha", C.c_void_p), ("depth", C.c_void_p), ("variance", C.c_void_p),
                ("image_path", C.c_char_p)]


class ImportanceParams(C.Structure):
    _fields_ = [("percentile_lo", C.c_float), ("percentile_hi", C.c_float), ("gamma", C.c_float),
                ("close_size", C.c_uint32), ("blur_size", C.c_uint32)]


class BudgetParams(C.Structure):
    _fields_ = [("min_spp", C.c_uint32), ("max_spp", C.c_uint32), ("mean_spp", C.c_float),
                ("max_step_scale", C.c_float), ("quantile_lo", C.c_float), ("quantile_hi", C.c_float),
                ("gamma", C.c_float)]


class BudgetStats(C.Structure):
    _fields_ = [("lo", C.c_float), ("hi", C.c_float), ("coverage", C.c_float), ("peak_spp", C.c_uint32),
                ("rays", C.c_uint64), ("mean_spp", C.c_double), ("effective_samples", C.c_double)]


# ---- >>register (dvren.h): image registration


class RegisterLayout(C.Structure):
    _fields_ = [("period", C.c_uint32), ("plane_count", C.c_uint32), ("plane_width", C.c_uint32),
                ("plane_height", C.c_uint32), ("colour", C.c_uint8 * REGISTER_MAX_PLANES)]


class RegisterInput(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("width", C.c_uint32), ("height", C.c_uint32), ("channels", C.c_uint32),
                ("dtype", C.c_int), ("memory", C.c_int), ("reference", C.c_void_p),
                ("moving", C.POINTER(C.c_void_p)), ("count", C.c_uint32), ("cfa", C.c_int),
                ("xtrans", C.c_uint8 * 36), ("grey", C.c_uint32), ("memory_limit", C.c_uint64),
                ("layout", RegisterLayout)]


class RegisterPlane(C.Structure):
    _fields_ = [("dy", C.c_float), ("dx", C.c_float), ("peak", C.c_float), ("noise", C.c_float)]


class RegisterResult(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("dy", C.c_double), ("dx", C.c_double), ("peak", C.c_double),
                ("confidence", C.c_double), ("channel_count", C.c_uint32), ("channel_dy", C.c_double * 3),
                ("channel_dx", C.c_double * 3), ("channel_peak", C.c_double * 3), ("plane_count", C.c_uint32),
                ("planes", RegisterPlane * REGISTER_MAX_PLANES), ("cfa_dy", C.c_int32), ("cfa_dx", C.c_int32),
                ("cfa_aligned", C.c_uint32)]


class RegisterReport(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("batch_size", C.c_uint32), ("batches", C.c_uint32),
                ("peak_bytes", C.c_uint64), ("limit_bytes", C.c_uint64), ("milliseconds", C.c_double)]


# ---- >>splats (dvren.h): the 3D Gaussian splat renderer


class SplatParams(C.Structure):
    _fields_ = [("count", C.c_uint32), ("sh_degree", C.c_uint32), ("means", Tensor), ("log_scales", Tensor),
                ("quats", Tensor), ("opacity_logits", Tensor), ("sh", Tensor)]


class SplatOptions(C.Structure):
    _fields_ = [("near_z", C.c_float), ("far_z", C.c_float), ("eps2d", C.c_float), ("alpha_max", C.c_float)]


class SplatStats(C.Structure):
    _fields_ = [("visible", C.c_uint32), ("intersections", C.c_uint64), ("workspace_bytes", C.c_uint64)]


SPLAT_TENSORS = ("means", "log_scales", "quats", "opacity_logits", "sh")
SPLAT_PLY_LENIENT = 1  # DVREN_SPLAT_PLY_LENIENT (tools/dvren_splat_ply.h)


# ---- >>meshes (dvren.h): marching cubes, meshes out of sampled fields


class Mesh(C.Structure):
    _fields_ = [("vertex_count", C.c_uint32), ("triangle_count", C.c_uint32), ("positions", C.POINTER(C.c_float)),
                ("normals", C.POINTER(C.c_float)), ("colors", C.POINTER(C.c_float)),
                ("triangles", C.POINTER(C.c_uint32))]


class McOptions(C.Structure):
    _fields_ = [("level", C.c_float), ("origin", C.c_float * 3), ("spacing", C.c_float * 3), ("flags", C.c_uint32)]


class McStats(C.Structure):
    _fields_ = [("ms_device", C.c_double), ("ms_total", C.c_double), ("active_cells", C.c_uint64)]


class GridSampleDesc(C.Structure):
    _fields_ = [("res", C.c_uint32 * 3), ("box_min", C.c_float * 3), ("box_max", C.c_float * 3),
                ("channel", C.c_int32)]


MESH_NORMALS, MESH_COLORS = 0x1, 0x2  # DVREN_MESH_*
MC_INSIDE_BELOW, MC_NO_NORMALS = 0x1, 0x2  # DVREN_MC_*
SAMPLE_DENSITY = -1  # DVREN_SAMPLE_DENSITY


# ---- tools/dvren_mesh_io.h: OBJ, PLY and GLB files (compiled into libdvren.so)


class MeshObject(C.Structure):
    _fields_ = [("name", C.c_char_p), ("mesh", C.POINTER(Mesh)), ("translation", C.c_double * 3),
                ("rotation", C.c_double * 4), ("scale", C.c_double * 3)]


class MeshGlbObject(C.Structure):
    _fields_ = [("name", C.c_char_p), ("mesh", Mesh), ("has_matrix", C.c_int), ("translation", C.c_double * 3),
                ("rotation", C.c_double * 4), ("scale", C.c_double * 3), ("local", C.c_double * 16),
                ("world", C.c_double * 16)]


class MeshGlb(C.Structure):
    _fields_ = [("count", C.c_uint32), ("objects", C.POINTER(MeshGlbObject))]


MESH_IO_Z_UP = 0x1  # DVREN_MESH_IO_Z_UP


# ---- tools/dvren_blocks.h: the block world's host model (compiled into libdvren.so)


class BlocksMaterial(C.Structure):
    _fields_ = [("name", C.c_char * 32), ("top", C.c_float * 3), ("side", C.c_float * 3), ("bottom", C.c_float * 3)]


class BlocksWorld(C.Structure):
    _fields_ = [("size", C.c_int32 * 3), ("scale", C.c_float), ("origin", C.c_float * 3),
                ("material_count", C.c_uint32), ("materials", C.POINTER(BlocksMaterial)),
                ("block_count", C.c_uint32), ("block_cap", C.c_uint32), ("pos", C.POINTER(C.c_int32)),
                ("logits", C.POINTER(C.c_float)), ("cell", C.POINTER(C.c_uint32)), ("error", C.c_char * 512)]


class BlocksLoadOptions(C.Structure):
    _fields_ = [("label_logit", C.c_float), ("materials_path", C.c_char_p)]


# name in dvpy_sizeof -> ctypes struct (python/tests/test_capi.py checks them all)
STRUCTS = {
    "dvren_tensor": Tensor, "dvren_camera": Camera, "dvren_rect": Rect, "dvren_plan_desc": PlanDesc,
    "dvren_context_desc": ContextDesc, "dvren_allocator": Allocator, "dvren_scene_desc": SceneDesc,
    "dvren_scene_param": SceneParam, "dvren_render_options": RenderOptions,
    "dvren_backward_options": BackwardOptions, "dvren_image_f64": ImageF64, "dvren_loss_desc": LossDesc,
    "dvren_tv_desc": TVDesc, "dvren_optimizer_desc": OptimizerDesc, "dvren_gradcheck_desc": GradcheckDesc,
    "dvren_gradcheck_result": GradcheckResult, "dvren_cuda_info": CudaInfo, "dvren_cuda_memory": CudaMemory,
    "dvren_nerf_views": NerfViews, "dvren_instance_info": InstanceInfo, "dvren_buffer_desc": BufferDesc,
    "dvren_plugin_desc": PluginDesc, "dvren_param_desc": ParamDesc, "dvren_saliency_input": SaliencyInput,
    "dvren_importance_params": ImportanceParams, "dvren_budget_params": BudgetParams,
    "dvren_budget_stats": BudgetStats, "dvren_blocks_material": BlocksMaterial, "dvren_blocks_world": BlocksWorld,
    "dvren_blocks_load_options": BlocksLoadOptions, "dvren_register_layout": RegisterLayout,
    "dvren_register_input": RegisterInput, "dvren_register_plane": RegisterPlane,
    "dvren_register_result": RegisterResult, "dvren_register_report": RegisterReport,
    "dvren_splat_params": SplatParams, "dvren_splat_options": SplatOptions, "dvren_splat_stats": SplatStats,
    "dvren_mesh": Mesh, "dvren_mc_options": McOptions, "dvren_mc_stats": McStats,
    "dvren_grid_sample_desc": GridSampleDesc, "dvren_mesh_object": MeshObject,
    "dvren_mesh_glb_object": MeshGlbObject, "dvren_mesh_glb": MeshGlb,
}

# ---- functions ----------------------------------------------------------------

_P = C.c_void_p
_S = C.c_int  # dvren_status
_PT = C.POINTER(Tensor)
_PW = C.POINTER(BlocksWorld)

# name: (restype, argtypes). Opaque handles are void pointers.
_PROTOTYPES = {
    "dvren_status_string": (C.c_char_p, [_S]),
    "dvren_last_error": (C.c_char_p, [_P]),
    "dvren_context_create": (_S, [C.POINTER(ContextDesc), C.POINTER(_P)]),
    "dvren_context_destroy": (None, [_P]),
    "dvren_context_threads": (C.c_uint32, [_P]),
    "dvren_synchronize": (_S, [_P]),
    "dvren_tensor_create": (_S, [_P, C.c_int, C.c_uint32, C.POINTER(C.c_int64), _PT]),
    "dvren_tensor_destroy": (None, [_P, _PT]),
    "dvren_camera_look_at": (_S, [C.c_float * 3, C.c_float * 3, C.c_float * 3, C.c_float, C.POINTER(Camera)]),
    "dvren_camera_orthographic": (_S, [C.c_float * 3, C.c_float * 3, C.c_float * 3, C.c_float, C.POINTER(Camera)]),
    "dvren_camera_from_matrices": (_S, [C.c_float * 16, C.c_float * 16, C.POINTER(Camera)]),
    "dvren_camera_from_opencv": (_S, [C.c_float * 16, C.c_float * 9, C.POINTER(Camera)]),
    "dvren_params_create": (_S, [_P, C.POINTER(_P)]),
    "dvren_params_destroy": (None, [_P]),
    "dvren_params_set_number": (_S, [_P, C.c_char_p, C.c_double]),
    "dvren_params_set_bool": (_S, [_P, C.c_char_p, C.c_int]),
    "dvren_params_set_string": (_S, [_P, C.c_char_p, C.c_char_p]),
    "dvren_params_set_numbers": (_S, [_P, C.c_char_p, C.POINTER(C.c_double), C.c_uint32]),
    "dvren_params_set_tensor": (_S, [_P, C.c_char_p, _PT]),
    "dvren_plugin_load": (_S, [_P, C.c_char_p]),
    "dvren_plugin_load_all": (_S, [_P, C.POINTER(C.c_uint32)]),
    "dvren_plugin_find": (_S, [_P, C.c_int, C.c_char_p, C.POINTER(C.POINTER(PluginDesc))]),
    "dvren_plugin_count": (C.c_uint32, [_P]),
    "dvren_plugin_at": (C.POINTER(PluginDesc), [_P, C.c_uint32, C.POINTER(C.c_char_p)]),
    "dvren_plugin_kind_name": (C.c_char_p, [C.c_int]),
    "dvren_plugin_param": (C.POINTER(ParamDesc), [C.POINTER(PluginDesc), C.c_uint32]),
    "dvren_param_summary": (C.c_int, [C.POINTER(ParamDesc), C.c_char_p, C.c_size_t]),
    "dvren_stage_create": (_S, [_P, C.c_int, C.c_char_p, _P, C.POINTER(_P)]),
    "dvren_stage_destroy": (None, [_P]),
    "dvren_stage_update": (_S, [_P, _P]),
    "dvren_stage_info": (_S, [_P, C.POINTER(InstanceInfo)]),
    "dvren_stage_plugin": (C.POINTER(PluginDesc), [_P]),
    "dvren_field_sample": (_S, [_P, C.c_uint32, _P, _P]),
    "dvren_scene_create": (_S, [_P, C.POINTER(SceneDesc), C.POINTER(_P)]),
    "dvren_scene_destroy": (None, [_P]),
    "dvren_plan_create": (_S, [_P, C.POINTER(PlanDesc), C.POINTER(_P)]),
    "dvren_plan_destroy": (None, [_P]),
    "dvren_plan_get_desc": (C.POINTER(PlanDesc), [_P]),
    "dvren_framebuffer_create_outputs": (_S, [_P, _P, C.c_uint32, C.POINTER(_P)]),
    "dvren_framebuffer_write": (_S, [_P, C.c_uint32, _PT]),
    "dvren_framebuffer_destroy": (None, [_P]),
    "dvren_framebuffer_output": (_S, [_P, C.c_uint32, _PT]),
    "dvren_render": (_S, [_P, _P, _P, C.POINTER(RenderOptions)]),
    "dvren_scene_param_count": (C.c_uint32, [_P]),
    "dvren_scene_param_get": (_S, [_P, C.c_uint32, C.POINTER(SceneParam)]),
    "dvren_scene_param_find": (_S, [_P, C.c_char_p, C.POINTER(C.c_uint32)]),
    "dvren_scene_param_set_trainable": (_S, [_P, C.c_uint32, C.c_int]),
    "dvren_scene_param_read": (_S, [_P, C.c_uint32, C.c_uint32, _PT]),
    "dvren_scene_param_write": (_S, [_P, C.c_uint32, _PT]),
    "dvren_scene_zero_grad": (_S, [_P]),
    "dvren_render_backward": (_S, [_P, _P, _P, C.POINTER(BackwardOptions)]),
    "dvren_render_f64": (_S, [_P, _P, C.POINTER(ImageF64)]),
    "dvren_render_backward_f64": (_S, [_P, _P, C.POINTER(ImageF64), C.POINTER(C.c_void_p)]),
    "dvren_gradcheck": (_S, [_P, _P, C.POINTER(GradcheckDesc), C.POINTER(GradcheckResult)]),
    "dvren_loss": (_S, [_P, C.POINTER(LossDesc), _P, _P, C.POINTER(C.c_double)]),
    "dvren_tv_regularize": (_S, [_P, C.POINTER(TVDesc), C.POINTER(C.c_double)]),
    "dvren_optimizer_defaults": (OptimizerDesc, [C.c_int]),
    "dvren_optimizer_create": (_S, [_P, C.POINTER(OptimizerDesc), C.POINTER(_P)]),
    "dvren_optimizer_destroy": (None, [_P]),
    "dvren_optimizer_step": (_S, [_P]),
    "dvren_optimizer_steps": (C.c_uint64, [_P]),
    "dvren_optimizer_lr": (C.c_double, [_P]),
    "dvren_checkpoint_save": (_S, [_P, _P, C.c_char_p, C.c_void_p, C.c_size_t]),
    "dvren_checkpoint_load": (_S, [_P, _P, C.c_char_p, C.c_void_p, C.c_size_t, C.POINTER(C.c_size_t)]),
    "dvren_cuda_backend": (_P, []),
    "dvren_cuda_get_info": (_S, [_P, C.POINTER(CudaInfo)]),
    "dvren_cuda_memory_stats": (_S, [_P, C.POINTER(CudaMemory)]),
    "dvren_cuda_framebuffer_output": (_S, [_P, C.c_uint32, _PT]),
    "dvren_cuda_copy": (_S, [_P, _PT, _PT]),
    "dvren_cuda_set_stream": (_S, [_P, _P]),
    "dvren_cuda_own_stream": (_S, [_P]),
    "dvren_cuda_stream": (_P, [_P]),
    "dvren_saliency_compute": (_S, [_P, C.POINTER(SaliencyInput), _P]),
    "dvren_saliency_framebuffer": (_S, [_P, _P, C.c_char_p, _P]),
    "dvren_importance_params_default": (ImportanceParams, []),
    "dvren_importance_postprocess": (_S, [_P, _P, C.c_uint32, C.c_uint32, C.POINTER(ImportanceParams), _P]),
    "dvren_budget_params_default": (BudgetParams, []),
    "dvren_importance_budget": (_S, [_P, _P, C.c_uint32, C.c_uint32, C.c_uint32, C.c_uint32, C.POINTER(BudgetParams),
                                     _P, _P, C.POINTER(BudgetStats)]),
    "dvren_cfa_name": (C.c_char_p, [C.c_int]),
    "dvren_cfa_parse": (_S, [_P, C.c_char_p, C.POINTER(C.c_int)]),
    "dvren_cfa_xtrans_default": (None, [C.POINTER(C.c_uint8)]),
    "dvren_register_layout_of": (_S, [_P, C.POINTER(RegisterInput), C.POINTER(RegisterLayout)]),
    "dvren_register": (_S, [_P, C.POINTER(RegisterInput), C.POINTER(RegisterResult), C.POINTER(RegisterReport)]),
    "dvren_splat_renderer_create": (_S, [_P, C.POINTER(SplatOptions), C.POINTER(_P)]),
    "dvren_splat_renderer_destroy": (None, [_P]),
    "dvren_splat_render": (_S, [_P, C.POINTER(SplatParams), _P, _P, _P]),
    "dvren_splat_backward": (_S, [_P, C.POINTER(SplatParams), _P, C.POINTER(SplatParams)]),
    "dvren_splat_stats_get": (_S, [_P, C.POINTER(SplatStats)]),
    "dvren_sh_rotation": (_S, [C.POINTER(C.c_double), C.c_uint32, C.POINTER(C.c_double)]),
    "dvren_mesh_alloc": (_S, [_P, C.c_uint32, C.c_uint32, C.c_uint32, C.POINTER(Mesh)]),
    "dvren_mesh_free": (None, [_P, C.POINTER(Mesh)]),
    "dvren_marching_cubes": (_S, [_P, _PT, C.POINTER(McOptions), C.POINTER(Mesh), C.POINTER(McStats)]),
    "dvren_scene_sample_grid": (_S, [_P, C.POINTER(GridSampleDesc), _PT]),
    "dvren_mesh_shade": (_S, [_P, C.POINTER(Mesh)]),
    "dvren_mesh_save": (_S, [_P, C.c_char_p, C.POINTER(Mesh), C.c_uint32]),
    "dvren_mesh_load": (_S, [_P, C.c_char_p, C.c_uint32, C.POINTER(Mesh)]),
    "dvren_mesh_glb_save": (_S, [_P, C.c_char_p, C.POINTER(MeshObject), C.c_uint32, C.c_uint32]),
    "dvren_mesh_glb_load": (_S, [_P, C.c_char_p, C.c_uint32, C.POINTER(MeshGlb)]),
    "dvren_mesh_glb_free": (None, [_P, C.POINTER(MeshGlb)]),
    "dvpy_splats_load": (_S, [_P, C.c_char_p, C.c_uint, C.POINTER(_P), C.POINTER(C.c_uint64),
                              C.POINTER(C.c_uint32)]),
    "dvpy_splats_copy": (_S, [_P, _P, _P, _P, _P, _P, _P]),
    "dvpy_splats_free": (None, [_P]),
    "dvren_nerf_load": (C.c_int, [C.c_char_p, C.c_int, C.POINTER(NerfViews), C.POINTER(NerfReport), C.c_char_p,
                                  C.c_size_t]),
    "dvren_nerf_views_free": (None, [C.POINTER(NerfViews)]),
    "dvren_blocks_init": (C.c_int, [_PW, C.POINTER(C.c_int32), C.POINTER(BlocksMaterial), C.c_uint32]),
    "dvren_blocks_load": (C.c_int, [_PW, C.c_char_p, C.POINTER(BlocksLoadOptions)]),
    "dvren_blocks_free": (None, [_PW]),
    "dvren_blocks_at": (C.c_int64, [_PW, C.c_int32, C.c_int32, C.c_int32]),
    "dvren_blocks_place": (C.c_int, [_PW, C.c_int32, C.c_int32, C.c_int32, C.POINTER(C.c_float)]),
    "dvren_blocks_place_material": (C.c_int, [_PW, C.c_int32, C.c_int32, C.c_int32, C.c_uint32, C.c_float]),
    "dvren_blocks_remove": (C.c_int, [_PW, C.c_int32, C.c_int32, C.c_int32]),
    "dvren_blocks_save": (C.c_int, [_PW, C.c_char_p]),
    "dvren_blocks_save_labels": (C.c_int, [_PW, C.c_char_p]),
    "dvren_blocks_visible_faces": (C.c_uint64, [_PW, C.POINTER(C.c_uint32), C.POINTER(C.c_uint8), C.c_uint64]),
    "dvpy_blocks_argmax": (None, [_PW, C.POINTER(C.c_uint32)]),
    "dvpy_version": (C.c_char_p, []),
    "dvpy_dlpack_init": (None, [C.c_void_p] * 6),
    "dvpy_dlpack_new": (C.c_void_p, [C.c_void_p, C.c_int32, C.POINTER(C.c_int64), C.POINTER(C.c_int64), C.c_uint8,
                                     C.c_uint8, C.c_int32, C.c_int32, C.c_void_p]),
    "dvpy_dlpack_capsule_destructor": (None, [C.c_void_p]),
    "dvpy_dlpack_name": (C.c_void_p, [C.c_int]),
    "dvpy_sizeof": (C.c_size_t, [C.c_char_p]),
    "dvpy_write_png": (_S, [_P, C.c_char_p, _P, _P, C.c_uint32, C.c_uint32, C.c_int]),
    "dvpy_scenefile_new": (_P, []),
    "dvpy_scenefile_free": (None, [_P]),
    "dvpy_scenefile_load": (C.c_int, [_P, C.c_char_p]),
    "dvpy_scenefile_parse": (C.c_int, [_P, C.c_char_p, C.c_char_p, C.c_size_t, C.c_char_p]),
    "dvpy_scenefile_error": (C.c_char_p, [_P]),
    "dvpy_scenefile_status": (C.c_int, [_P]),
    "dvpy_scenefile_device": (C.c_char_p, [_P]),
    "dvpy_scenefile_gpu": (None, [_P, C.POINTER(C.c_uint32), C.POINTER(C.c_char_p), C.POINTER(C.c_uint32),
                                  C.POINTER(C.c_int)]),
    "dvpy_scenefile_output": (None, [_P, C.POINTER(C.c_char_p), C.POINTER(C.c_char_p), C.POINTER(C.c_int),
                                     C.POINTER(C.c_int)]),
    "dvpy_scenefile_override": (None, [_P, C.c_uint32, C.c_uint32, C.c_uint32, C.c_int, C.c_uint64]),
    "dvpy_scenefile_build": (C.c_int, [_P, _P]),
    "dvpy_foveate_available": (C.c_int, []),
    "dvpy_foveate": (C.c_int, [C.c_char_p, C.c_char_p, C.c_size_t, C.c_char_p, C.c_char_p, C.c_char_p, C.c_uint32,
                               C.c_char_p, C.c_int, C.c_char_p, C.c_uint32, C.c_int, C.c_uint32, C.c_uint32, C.c_int,
                               C.c_uint64, C.c_char_p, C.c_int, C.c_int, C.c_char_p, C.c_size_t,
                               C.POINTER(C.c_double), C.POINTER(BudgetStats)]),
    "dvpy_scenefile_take": (None, [_P, C.POINTER(_P), C.POINTER(_P), C.POINTER(_P), C.POINTER(PlanDesc)]),
}


class _Lib:
    """The loaded native library with typed functions as attributes (lib.dvren_render(...))."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise ImportError(
                f"dvren: the native library {path} is missing: build the package with "
                "`./build.sh python` or install it with `pip install ./python` (docs/python.md)")
        self.path = path
        self._dll = C.CDLL(path)
        for name, (res, args) in _PROTOTYPES.items():
            f = getattr(self._dll, name)
            f.restype = res
            f.argtypes = args
            setattr(self, name, f)


lib = _Lib(LIB_PATH)
