"""Small corpora the retrieval tests build indexes over."""

from __future__ import annotations

__all__ = ["DOCS", "SOURCES"]

DOCS = {
    "paris": "Paris is the capital and the largest city of France, on the river Seine.",
    "berlin": "Berlin is the capital of Germany and its largest city.",
    "cats": "Cats are small domesticated carnivorous mammals that purr.",
    "dogs": "Dogs bark, fetch sticks and are loyal companions of people.",
    "python": "Python is a programming language that emphasises code readability.",
    "rust": "Rust is a systems programming language focused on memory safety.",
    "long": " ".join(f"Sentence number {i} talks about rivers, mountains and the weather." for i in range(40)),
}
SOURCES = {"paris": "wiki", "berlin": "wiki", "cats": "pets", "dogs": "pets", "python": "code", "rust": "code", "long": "wiki"}
