"""The one model-directory format: typed config + manifest, one reader/verifier for every task.

A task defines its config as a dataclass with ``TASK`` and ``SCHEMA_VERSION`` class
variables, writes its files between :func:`start_writing` and :func:`finish_writing`
inside :func:`writing_model_dir` (a hidden sibling swapped in whole at the end), and loads with :func:`read_model_dir` (see ``directory.py`` for the layout).
"""

from bertkit.modeldir.directory import (
    CONFIG_FILE,
    MANIFEST_FILE,
    check_relative,
    convert_model_dir,
    finish_writing,
    member_dir,
    read_model_dir,
    recover_interrupted_save,
    rewrite_model_dir,
    start_writing,
    verify_manifest,
    writing_model_dir,
)
from bertkit.modeldir.paths import DEFAULT_MODEL_NAME, default_model_dir
from bertkit.modeldir.schema import check_value, config_from_dict, config_to_json

__all__ = [
    "CONFIG_FILE",
    "MANIFEST_FILE",
    "DEFAULT_MODEL_NAME",
    "check_relative",
    "check_value",
    "config_from_dict",
    "config_to_json",
    "convert_model_dir",
    "default_model_dir",
    "finish_writing",
    "member_dir",
    "read_model_dir",
    "start_writing",
    "verify_manifest",
    "writing_model_dir",
    "rewrite_model_dir",
    "recover_interrupted_save",
]
