"""Shared helpers of the training benchmarks and the device check: device facts, FLOPs, memory.

Imported by ``bench_training.py``, ``bench_full_sweep.py`` and ``device_check.py`` (scripts in
this folder, run as ``python benchmarks/<script>.py``). Nothing here estimates a figure: peak
rates come from a table of vendor datasheet values (or "unknown card"), FLOPs are counted by
:class:`torch.utils.flop_counter.FlopCounterMode`, times and memory are measured. The machine's
calibration (core count and one-thread fp32 GEMM GFLOP/s, printed beside the load average) is
:func:`neuroaffect.report.machine_calibration`, the same figure ``reports/performance.md`` gives.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time

from neuroaffect.report.performance import machine_calibration, machine_line  # noqa: F401 - re-exported

#: Dense (no 2:4 sparsity) bfloat16 tensor-core peaks in TFLOP/s, by the vendors' datasheets.
#: Matched against ``torch.cuda.get_device_name`` in order; the first match wins.
CARD_PEAKS_BF16 = (
    ("H200 NVL", 835.0, "vendor datasheet (NVIDIA H200 NVL: 1,671 TFLOP/s bf16 with sparsity, half of it dense)"),
    ("H200", 989.0, "vendor datasheet (NVIDIA H200 SXM: 1,979 TFLOP/s bf16 with sparsity, half of it dense)"),
    ("H100 PCIe", 756.0, "vendor datasheet (NVIDIA H100 PCIe: 1,513 TFLOP/s bf16 with sparsity, half of it dense)"),
    ("H100", 989.0, "vendor datasheet (NVIDIA H100 SXM: 1,979 TFLOP/s bf16 with sparsity, half of it dense)"),
    ("A100", 312.0, "vendor datasheet (NVIDIA A100: 312 TFLOP/s bf16 dense)"),
)

FLOP_NOTE = ("FLOPs counted by torch.utils.flop_counter.FlopCounterMode over one forward + backward step "
             "(matrix products, convolutions and attention only; elementwise work and AdamW are not counted), "
             "divided by the step's batch; achieved TFLOP/s = FLOPs per sample x measured samples/s.")


def load_average() -> list:
    """The 1, 5 and 15-minute load averages (``os.getloadavg``), rounded."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - platforms without it
        return [float("nan")] * 3


def card_peak(name: str | None) -> dict:
    """The bf16 dense peak used for a card, with its source; ``unknown card`` when not in the table.

    Parameters
    ----------
    name : str | None
        ``torch.cuda.get_device_name()``; ``None`` on CPU.

    Returns
    -------
    peak : dict
        ``{"tflops": float | None, "source": str}``.
    """
    if not name:
        return {"tflops": None, "source": "CPU: no peak used"}
    for key, tflops, source in CARD_PEAKS_BF16:
        if key.lower() in name.lower():
            return {"tflops": tflops, "source": source}
    return {"tflops": None, "source": "unknown card"}


def sync(device) -> None:
    """Wait for queued CUDA work (no-op on CPU)."""
    import torch

    if getattr(device, "type", str(device)).startswith("cuda"):
        torch.cuda.synchronize(device)


def reset_peak(device) -> None:
    """Reset CUDA's peak-memory counter (no-op on CPU)."""
    import torch

    if getattr(device, "type", str(device)).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device) -> float | None:
    """``torch.cuda.max_memory_allocated`` in GiB since the last :func:`reset_peak`; ``None`` on CPU."""
    import torch

    if getattr(device, "type", str(device)).startswith("cuda"):
        return torch.cuda.max_memory_allocated(device) / 2**30
    return None


def flops_per_sample(model, x, device, amp: bool = True, loss=None) -> float:
    """FLOPs of one training step (forward + backward) per sample, counted by ``FlopCounterMode``.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device`` and put in training mode; its gradients are cleared afterwards.
    x : torch.Tensor
        One batch of inputs (the leading axis is the batch).
    device : torch.device
    amp : bool
        Run the forward pass under bf16 autocast on CUDA (the count is the same either way).
    loss : callable | None
        ``loss(outputs) -> scalar``; default: the sum of the (float) outputs, or of
        ``outputs["logits"]`` for models returning a dict.

    Returns
    -------
    flops : float
        Counted FLOPs divided by the batch size.
    """
    import contextlib

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = model.to(device).train()
    x = x.to(device)
    ctx = (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if amp and device.type == "cuda"
           else contextlib.nullcontext())
    with FlopCounterMode(display=False) as counter:
        with ctx:
            out = model(x)
        if loss is not None:
            value = loss(out)
        else:
            value = (out["logits"] if isinstance(out, dict) else out).float().sum()
        value.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / x.shape[0]


def tflops(flops_per_sample_: float | None, samples_per_s: float | None) -> float | None:
    """Achieved TFLOP/s from FLOPs per sample and a measured rate (``None`` when either is missing)."""
    if not flops_per_sample_ or not samples_per_s:
        return None
    return flops_per_sample_ * samples_per_s / 1e12


def environment(device) -> dict:
    """Device, driver and library versions, CPU count, load and calibration, and the card peak used.

    ``machine`` holds :func:`machine_calibration` (cores, one-thread fp32 GEMM GFLOP/s, load average).
    """
    import torch

    env = {
        "device": str(device), "python": platform.python_version(), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "cudnn": None, "gpu_name": None, "driver": None,
        "gpu_memory_gib": None, "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
        "load_average": load_average(), "hostname": platform.node(), "machine": machine_calibration(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu_name=torch.cuda.get_device_name(device), gpu_memory_gib=props.total_memory / 2**30,
                   multiprocessors=props.multi_processor_count, capability=f"{props.major}.{props.minor}",
                   cudnn=torch.backends.cudnn.version(), driver=_driver_version())
    env["card_peak_bf16_tflops"] = card_peak(env["gpu_name"])
    return env


def _driver_version() -> str | None:
    """The NVIDIA driver version (NVML, else ``nvidia-smi``), or ``None``."""
    try:
        import pynvml

        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:  # noqa: BLE001 - optional: NVML missing or refusing
        pass
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            res = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=20)
            return res.stdout.strip().splitlines()[0] if res.returncode == 0 and res.stdout.strip() else None
        except (OSError, subprocess.TimeoutExpired):
            return None
    return None


def matmul_ceiling(device, n: int = 8192, repeats: int = 10) -> dict | None:
    """Measured bf16 matrix-product rate (``n x n x n`` on random data, CUDA events); ``None`` on CPU.

    Three warm-up products, then ``repeats`` timed ones; the mean rate is reported.
    """
    import torch

    if device.type != "cuda":
        return None
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16, generator=g)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16, generator=g)
    for _ in range(3):
        a @ b
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        a @ b
    end.record()
    torch.cuda.synchronize(device)
    ms = start.elapsed_time(end) / repeats
    del a, b
    torch.cuda.empty_cache()
    return {"n": n, "ms": ms, "tflops": 2 * n**3 / (ms * 1e-3) / 1e12, "what": "bf16 torch.matmul, random data"}


class Budget:
    """A wall-clock allowance: ``left()`` seconds remain of ``seconds`` (``None``: unlimited)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.t0 = time.monotonic()

    def left(self) -> float:
        """Seconds left (infinite when unlimited)."""
        if self.seconds is None:
            return float("inf")
        return self.seconds - (time.monotonic() - self.t0)
