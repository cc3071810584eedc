"""Options shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.console import Console

__all__ = ["ModelOpt", "DtypeOpt", "BackendOpt", "EngineDtypeOpt", "DeviceOpt", "BatchSizeOpt", "MaxLengthOpt", "JsonOpt", "err_console", "out_console", "show_progress"]

ModelOpt = typer.Option(None, "--model", "-m", help="Local Hugging Face model directory (default: the packaged all-MiniLM-L6-v2).")
DtypeOpt = typer.Option("fp32", "--dtype", help="fp32, bf16 (autocast, CPU or GPU) or fp16 (GPU only).")
DeviceOpt = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N.")
BatchSizeOpt = typer.Option(32, "--batch-size", "-b", min=1, help="Texts per batch.")
MaxLengthOpt: Optional[int] = typer.Option(None, "--max-length", help="Max tokens per text (default: the model's).")
BackendOpt = typer.Option("torch", "--backend", help="torch or onnx (ONNX Runtime, exported once and cached).")
EngineDtypeOpt = typer.Option("fp32", "--dtype", help="torch: fp32, bf16, fp16 (GPU); onnx: fp32, int8 (refused for a model it changes).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object instead of tables.")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


def show_progress() -> bool:
    """Progress bars only on an interactive terminal."""
    return sys.stderr.isatty()
