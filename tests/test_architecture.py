"""The package's layers: lower layers never import higher ones, and no import cycles.

Every ``import`` / ``from ... import`` in bertkit is read from the source (those inside
functions too, since a lazy import is still a dependency, and those under
``if TYPE_CHECKING:``, since a type-only import is a dependency of the design all the
same), so the rule holds for what the code can do, not only for what one test run
happened to import.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import bertkit

ROOT = Path(bertkit.__file__).parent

# Lowest first. A package may import its own modules and packages of lower layers only;
# packages in the same layer are independent of each other.
LAYERS = [
    {"errors"},
    {"io"},  # reading inputs, writing outputs atomically
    {"modeldir"},  # the one model-directory format (typed config, manifest, verifier)
    {"encoder", "training"},  # tokenizer + HF model, the one forward; the training loop
    {"engine"},  # backends, ONNX export, quality gate, runtime choice: no task inside
    {"embeddings"},  # pooling, layers, the Embedder (a task on the engine)
    {"nn"},  # sequence heads (BiLSTM, CNN) over contextual embeddings
    {"retrieval"},  # passages, the vector index (exact / usearch), BM25 hybrid, IR metrics
    {"classification", "qa", "tagging", "inspection"},  # the tasks
    {"export"},  # models back out: transformers and sentence-transformers directories
    {"rerank"},  # the reranker (reuses the classifier's heads and directory format)
    {"serve", "distributed"},  # services over the predictors
    {"cli"},
]
FACADE = {"__init__", "__main__"}  # bertkit/__init__.py re-exports the public API


def _package(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(("bertkit",) + parts)


def _imports(path: Path) -> set[str]:
    """Absolute bertkit modules imported anywhere in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from pkg import module`
    return {m for m in found if m == "bertkit" or m.startswith("bertkit.")}


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "models" not in p.relative_to(ROOT).parts)


def _layer_of() -> dict[str, int]:
    return {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def test_every_package_has_a_layer():
    packages = {_package(p) for p in _sources()} - FACADE
    missing = sorted(packages - set(_layer_of()))
    assert not missing, f"add {missing} to LAYERS in {__file__}"


def test_lower_layers_never_import_higher_ones():
    layer = _layer_of()
    bad = []
    for path in _sources():
        source = _package(path)
        if source in FACADE:
            continue
        for module in _imports(path):
            parts = module.split(".")
            if len(parts) < 2 or parts[1] == source:
                continue
            target = parts[1]
            if target in layer and layer[target] >= layer[source]:
                bad.append(f"{path.relative_to(ROOT)} imports {module} ({source} is layer {layer[source]}, {target} layer {layer[target]})")
    assert not bad, "\n".join(bad)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_package_level_import_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        source = _package(path)
        if source in FACADE:
            continue
        for module in _imports(path):
            parts = module.split(".")
            if len(parts) > 1 and parts[1] != source and parts[1] not in FACADE:
                graph[source].add(parts[1])
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_no_module_level_import_cycle():
    """Within packages too (io.stream and io.writers once imported each other)."""
    modules = {_module(p): p for p in _sources()}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        if path.name == "__init__.py":
            continue  # a package's facade re-exports its modules
        for module in _imports(path):
            if module in modules and module != name and modules[module].name != "__init__.py":
                graph[name].add(module)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_checker_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_model_forward_is_written_once():
    """Only ``encoder/forward.py`` calls the Hugging Face model for inference, so torch and
    every ONNX graph run the same forward (``return_dict=`` marks such a call)."""
    callers = sorted(
        str(p.relative_to(ROOT)) for p in _sources()
        if "return_dict=" in p.read_text(encoding="utf-8") and p.relative_to(ROOT).as_posix() != "encoder/forward.py"
    )
    assert not callers, f"call bertkit.encoder.forward.run_encoder instead in: {callers}"
