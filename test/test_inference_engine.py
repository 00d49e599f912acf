"""Inference rewrites and back-ends give the same depth as the plain eager fp32 network."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import make_model
from s2r_depth_ros.hardware import bf16_is_fast, cpu_has_native_bf16
from s2r_depth_ros.inference import DepthEstimator, EstimatorOptions
from s2r_depth_ros.inference.estimator import resolve_backend, resolve_precision
from s2r_depth_ros.inference.export import export_onnx
from s2r_depth_ros.inference.optimize import ChannelSumConv, fold_model
from s2r_depth_ros.inference.resize import resize_fast, resize_like_pil


def cpu(**fields) -> EstimatorOptions:
    """Estimator options on the CPU (the test machines have no GPU)."""
    return EstimatorOptions(device="cpu", **fields)


@pytest.mark.parametrize("name", ["paper", "lite"])
def test_folded_network_matches_eager_and_has_no_batchnorm(name):
    model = make_model(name, 96, 128, seed=5)
    folded = fold_model(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # original kept
    x = torch.rand(2, 3, 96, 128) * 2 - 1
    with torch.inference_mode():
        expected = model.forward_all(x)
        got = folded.forward_all(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip([expected.structure, expected.attention, *expected.depths],
                    [got.structure, got.attention, *got.depths]):
        assert (a - b).abs().max() < 1e-5


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "bias"), [
    (3, 1, 0, 1, True), (7, 1, 3, 1, False), (3, 2, 1, 1, True), (3, 1, 2, 2, False),
    ((3, 5), 1, (1, 2), 1, True)])
def test_single_output_conv_runs_depthwise_with_the_same_result(kernel, stride, padding,
                                                                dilation, bias):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(9, 1, kernel, stride, padding, dilation, bias=bias).eval()
    rewritten = ChannelSumConv(conv)
    x = torch.randn(2, 9, 31, 40)
    with torch.inference_mode():
        expected = conv(x)
        for layout in (torch.contiguous_format, torch.channels_last):
            got = rewritten(x.contiguous(memory_format=layout))
            assert got.shape == expected.shape
            assert (got - expected).abs().max() < 1e-5


def test_every_single_output_conv_of_the_network_is_rewritten():
    model = make_model("lite", 96, 128)
    heads = [m for m in model.modules() if ChannelSumConv.applies_to(m)]
    assert len(heads) == 6  # structure and attention maps, four depth scales
    folded = fold_model(model)
    assert not any(ChannelSumConv.applies_to(m) for m in folded.modules())
    assert sum(isinstance(m, ChannelSumConv) for m in folded.modules()) == len(heads)
    # Off on request (the estimator's GPU graph); the CPU estimator runs the rewrite.
    plain = fold_model(model, depthwise_heads=False)
    assert sum(ChannelSumConv.applies_to(m) for m in plain.modules()) == len(heads)
    cpu_network = DepthEstimator(model, cpu()).network
    assert sum(isinstance(m, ChannelSumConv) for m in cpu_network.modules()) == len(heads)


def test_folding_keeps_every_tensor_on_the_model_device():
    # The GPU path folds a model that already lives on the GPU; "meta" stands in for it here.
    folded = fold_model(make_model("lite").to("meta"))
    assert {t.device.type for t in [*folded.parameters(), *folded.buffers()]} == {"meta"}


def test_compiled_backend_matches_eager():
    model = make_model("lite", 96, 128, seed=6)
    rgb = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    eager = DepthEstimator(model, cpu()).predict(rgb)
    compiled = DepthEstimator(model, cpu(backend="compile")).predict(rgb)
    assert np.abs(eager - compiled).max() <= 1e-3


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend"):
        DepthEstimator(make_model("lite"), cpu(backend="tensorrt-on-cpu"))


def test_export_carries_the_depthwise_heads_only_when_asked(tmp_path):
    import onnx

    model = make_model("lite", 96, 128)

    def grouped_convs(depthwise_heads: bool) -> int:
        path = export_onnx(model, tmp_path / f"{depthwise_heads}.onnx",
                           depthwise_heads=depthwise_heads)
        return sum(any(a.name == "group" and a.i > 1 for a in node.attribute)
                   for node in onnx.load(str(path)).graph.node if node.op_type == "Conv")

    assert grouped_convs(True) == 6  # one depthwise conv per single-output head
    assert grouped_convs(False) == 0


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_exported_backends_match_eager(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("S2R_CACHE_DIR", str(tmp_path))
    model = make_model("lite", 96, 128, seed=7)
    rgb = np.random.default_rng(1).integers(0, 255, (100, 150, 3), dtype=np.uint8)
    eager = DepthEstimator(model, cpu()).predict(rgb)
    exported = DepthEstimator(model, cpu(backend=backend))
    assert exported.backend == backend
    assert np.abs(eager - exported.predict(rgb)).max() <= 1e-3
    assert len(list(tmp_path.glob("*.onnx"))) == 1


@pytest.mark.parametrize("backend", ["eager", "onnxruntime", "openvino"])
def test_parallel_workers_get_their_own_frames_right(tmp_path, monkeypatch, backend):
    """Frames predicted by two threads at once equal the same frames predicted one by one."""
    monkeypatch.setenv("S2R_CACHE_DIR", str(tmp_path))
    model = make_model("lite", 96, 128, seed=8)
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(6)]
    estimator = DepthEstimator(model, cpu(threads=1, backend=backend, workers=2))
    expected = [estimator.predict(f) for f in frames]
    got: dict[int, np.ndarray] = {}

    def work(indices):
        for i in indices:
            got[i] = estimator.predict(frames[i])

    threads = [threading.Thread(target=work, args=(range(k, 6, 2),)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, depth in enumerate(expected):
        np.testing.assert_array_equal(got[i], depth)
    assert not np.array_equal(expected[0], expected[1])  # the frames really differ


def test_auto_backend_picks_the_fastest_installed_runtime():
    assert resolve_backend("auto", torch.device("cpu")) == "openvino"  # installed here
    assert resolve_backend("auto", torch.device("cuda")) == "eager"
    assert resolve_backend("onnxruntime", torch.device("cpu")) == "onnxruntime"
    with pytest.raises(ValueError, match="workers"):
        DepthEstimator(make_model("lite"), cpu(workers=0))


def test_export_command_writes_a_model_onnx_runtime_agrees_with(tmp_path, tiny_checkpoint):
    import subprocess
    import sys

    import onnxruntime

    out = tmp_path / "m.onnx"
    result = subprocess.run([sys.executable, "-m", "s2r_depth_ros.cli", "export", "--model",
                             str(tiny_checkpoint), "-o", str(out), "--height", "128"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 128, 128]
    x = np.random.default_rng(2).uniform(-1, 1, (1, 3, 128, 128)).astype(np.float32)
    from s2r_depth_ros.model import load_checkpoint

    with torch.inference_mode():
        expected = load_checkpoint(tiny_checkpoint)(torch.from_numpy(x)).numpy()
    assert np.abs(session.run(None, {"image": x})[0] - expected).max() < 1e-4


@pytest.mark.parametrize("backend, precision", [("openvino", "bf16"), ("openvino", "fp16"),
                                                ("eager", "bf16")])
def test_reduced_precision_is_close_to_fp32_but_not_the_exact_path(tmp_path, monkeypatch,
                                                                    backend, precision):
    monkeypatch.setenv("S2R_CACHE_DIR", str(tmp_path))
    model = make_model("lite", 96, 128, seed=9)
    rgb = np.random.default_rng(4).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    exact = DepthEstimator(model, cpu()).predict(rgb)
    reduced = DepthEstimator(model, cpu(backend=backend, precision=precision))
    assert reduced.precision == precision
    depth = reduced.predict(rgb)
    assert depth.dtype == np.float32 and np.isfinite(depth).all()
    # 16-bit floats keep about 3 significant digits: close to, but not exactly, fp32.
    assert np.abs(depth - exact).mean() < 0.01 * model.config.max_depth
    assert np.corrcoef(depth.ravel(), exact.ravel())[0, 1] > 0.99


def test_fast_resize_is_close_to_the_exact_one_but_not_the_exact_path():
    rng = np.random.default_rng(6)
    # A smooth scene with fine texture, at a camera size the network input does not divide.
    ramp = np.linspace(0, 200, 500)[None, :, None] + np.linspace(0, 40, 375)[:, None, None]
    rgb = np.clip(ramp + rng.normal(0, 12, (375, 500, 3)), 0, 255).astype(np.uint8)
    rgb.flags.writeable = False  # as ROS messages and PIL images arrive
    exact, fast = resize_like_pil(rgb, 96, 128), resize_fast(rgb, 96, 128)
    assert fast.shape == exact.shape == (96, 128, 3) and fast.dtype == np.uint8
    diff = np.abs(exact.astype(np.int16) - fast)
    # The same filter rounded differently: at most one grey level, on few pixels, but some.
    assert diff.max() == 1 and 0 < (diff > 0).mean() < 0.02
    model = make_model("lite", 96, 128, seed=9)
    exact_depth = DepthEstimator(model, cpu()).predict(rgb)
    fast_estimator = DepthEstimator(model, cpu(resize="fast"))
    assert fast_estimator.resize == "fast"
    fast_depth = fast_estimator.predict(rgb)
    assert fast_depth.shape == (375, 500) and np.isfinite(fast_depth).all()
    assert np.abs(fast_depth - exact_depth).mean() < 1e-3 * model.config.max_depth


def test_onnxruntime_threads_spin_between_calls_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("S2R_CACHE_DIR", str(tmp_path))
    model = make_model("lite", 96, 128, seed=3)
    rgb = np.random.default_rng(5).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    depths = []
    for spin_wait, allowed in ((True, "1"), (False, "0")):
        estimator = DepthEstimator(model, cpu(backend="onnxruntime",
                                   spin_wait=spin_wait))
        options = estimator.network.session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == allowed
        depths.append(estimator.predict(rgb))
    np.testing.assert_array_equal(depths[0], depths[1])


def test_resize_choices_are_checked():
    with pytest.raises(ValueError, match="unknown resize"):
        DepthEstimator(make_model("lite"), cpu(resize="nearest"))


def test_precision_choices_are_checked():
    model = make_model("lite")
    with pytest.raises(ValueError, match="unknown precision"):
        DepthEstimator(model, cpu(precision="int8"))
    with pytest.raises(ValueError, match="needs backend openvino"):
        DepthEstimator(model, cpu(backend="onnxruntime", precision="bf16"))
    with pytest.raises(ValueError, match="needs backend openvino"):
        DepthEstimator(model, cpu(backend="eager", precision="fp16"))


def test_bf16_counts_as_fast_only_on_cpus_with_native_bf16_arithmetic():
    def cpuinfo(flags: str) -> str:
        return f"processor\t: 0\nmodel name\t: a CPU\nflags\t\t: fpu sse2 avx2 {flags}\n\n"

    assert cpu_has_native_bf16(cpuinfo("avx512f amx_bf16 amx_tile"))  # Intel with AMX
    assert cpu_has_native_bf16(cpuinfo("avx512f avx512_bf16"))  # AMD Zen 4
    assert not cpu_has_native_bf16(cpuinfo("avx512f avx512bw"))  # AVX-512, emulated bf16
    assert not cpu_has_native_bf16(cpuinfo(""))
    # A flag is a whole word on the flags line, not a substring of the file.
    assert not cpu_has_native_bf16("model name\t: amx_bf16 lookalike\nflags\t: avx2 xavx512_bf16\n")


def test_auto_precision_is_bf16_only_where_it_is_fast_and_never_for_official_models(
        tmp_path, monkeypatch):
    monkeypatch.setenv("S2R_CACHE_DIR", str(tmp_path))
    cpu_device, amx = torch.device("cpu"), bf16_is_fast(torch.device("cpu"))
    assert resolve_precision("auto", cpu_device, "openvino") == ("bf16" if amx else "fp32")
    assert resolve_precision("auto", cpu_device, "eager") == "fp32"
    assert resolve_precision("auto", cpu_device, "onnxruntime") == "fp32"
    assert resolve_precision("auto", torch.device("cuda"), "eager") == "fp16"
    assert resolve_precision("auto", torch.device("cuda"), "eager", official=True) == "fp32"
    assert resolve_precision("fp16", cpu_device, "openvino", official=True) == "fp16"
    # End to end: the OpenVINO network is compiled for what 'auto' chose, and an official
    # model (known by its provenance) keeps the exact path.
    model = make_model("lite", 96, 128, seed=13)
    native = DepthEstimator(model, cpu(backend="openvino", precision="auto"))
    assert native.precision == ("bf16" if amx else "fp32")
    mode = str(native.network.compiled.get_property("EXECUTION_MODE_HINT"))
    assert mode.endswith("PERFORMANCE" if amx else "ACCURACY")
    model.config = replace(model.config, provenance={"source": "official", "domain": "vkitti"})
    official = DepthEstimator(model, cpu(backend="openvino", precision="auto"))
    assert official.precision == "fp32"
    assert str(official.network.compiled.get_property("EXECUTION_MODE_HINT")).endswith(
        "ACCURACY")


def test_auto_backend_falls_back_to_eager_when_the_export_cannot_be_written(tmp_path,
                                                                            monkeypatch):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("S2R_CACHE_DIR", str(blocker / "cache"))
    model = make_model("lite", 96, 128, seed=10)
    rgb = np.random.default_rng(5).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    with pytest.warns(UserWarning, match="openvino unavailable"):
        estimator = DepthEstimator(model, cpu(backend="auto"))
    assert estimator.backend == "eager" and "openvino unavailable" in estimator.fallback_reason
    np.testing.assert_array_equal(estimator.predict(rgb),
                                  DepthEstimator(model, cpu()).predict(rgb))
    # The node's precision 'auto' is chosen again for eager, where bf16 gains nothing.
    with pytest.warns(UserWarning, match="openvino unavailable"):
        estimator = DepthEstimator(model, cpu(backend="auto", precision="auto"))
    assert (estimator.backend, estimator.precision) == ("eager", "fp32")
    with pytest.raises(OSError):  # asked for by name: the reason is the error
        DepthEstimator(model, cpu(backend="openvino"))


def test_export_leaves_only_the_finished_file(tmp_path):
    from s2r_depth_ros.inference.export import export_onnx

    path = export_onnx(make_model("lite", 96, 128, seed=11), tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["s2r_input_size"] == "96x128"


def test_options_are_validated_when_made_and_frozen():
    for fields, message in (({"device": "gpu"}, "unknown device"),
                            ({"backend": "tensorrt"}, "unknown backend"),
                            ({"threads": 0}, "threads must be"), ({"workers": 1.5}, "workers"),
                            ({"input_size": (96,)}, "input_size"),
                            ({"input_size": (0, 128)}, "input_size")):
        with pytest.raises(ValueError, match=message):
            EstimatorOptions(**fields)
    options = EstimatorOptions(device="cuda:1", input_size=[96, 128])
    assert options.input_size == (96, 128)
    with pytest.raises(AttributeError):
        options.threads = 2  # frozen: an estimator's options cannot change under it
    plan = cpu(backend="eager", precision="bf16").plan()
    assert plan.device.type == "cpu" and plan.backend == "eager" and plan.cpu_autocast
    assert cpu(backend="auto").plan().backend in ("openvino", "onnxruntime", "eager")


def test_the_estimator_changes_neither_the_callers_model_nor_torch_threads(tiny_checkpoint):
    model = make_model("lite", 96, 128, seed=12).train()
    before_config, before_threads = model.config, torch.get_num_threads()
    other = 1 if before_threads > 1 else 2
    estimator = DepthEstimator(model, cpu(threads=other, input_size=(112, 144)))
    assert model.config == before_config and model.training  # the caller's model as it was
    assert estimator.config.input_height == 112 and estimator.model is not model
    assert torch.get_num_threads() == before_threads
    # During a call the estimator's count applies; after it the caller's is back.
    seen = []
    original = estimator.network.forward
    estimator.network.forward = lambda x: (seen.append(torch.get_num_threads()), original(x))[1]
    rgb = np.random.default_rng(7).integers(0, 255, (80, 100, 3), dtype=np.uint8)
    assert estimator.predict(rgb).shape == (80, 100)
    assert seen == [other] and torch.get_num_threads() == before_threads
    # A model that already is what the estimator needs is used as it is, not copied.
    ready = make_model("lite", 96, 128, seed=12)
    assert DepthEstimator(ready, cpu()).model is ready
    # The keyword path of from_checkpoint and open_estimator gives the same options.
    by_fields = DepthEstimator.from_checkpoint(tiny_checkpoint, device="cpu", resize="fast")
    assert by_fields.options == cpu(resize="fast")
    with pytest.raises(TypeError, match="not both"):
        DepthEstimator.from_checkpoint(tiny_checkpoint, cpu(), resize="fast")


def test_the_exact_openvino_path_runs_every_layer_in_f32(tmp_path, monkeypatch):
    # Left to itself OpenVINO runs f32 models in bf16 on CPUs with bf16 units (AMX); on a
    # CPU without them (the AMD machines) bf16 asked for runs in f32 too.
    import openvino

    monkeypatch.setenv("S2R_CACHE_DIR", str(tmp_path))
    model = make_model("lite", 96, 128, seed=13)
    has_bf16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    for precision, expected in (("fp32", {"f32"}),
                                ("bf16", {"f32", "bf16"} if has_bf16 else {"f32"})):
        compiled = DepthEstimator(model, cpu(backend="openvino",
                                             precision=precision)).network.compiled
        mode = "ACCURACY" if precision == "fp32" else "PERFORMANCE"
        assert str(compiled.get_property("EXECUTION_MODE_HINT")).endswith(mode)
        ops = compiled.get_runtime_model().get_ordered_ops()
        floats = {op.get_rt_info()["runtimePrecision"].astype(str) for op in ops} - {"i32"}
        assert floats == expected, precision
