"""Inspecting models: what they are made of and what they see."""

from bertkit.inspection.anatomy import Anatomy, EmbeddingTable, ParamCount, describe_model
from bertkit.inspection.layout import Layout, describe_layout
from bertkit.inspection.tokens import TokenRow, token_table

__all__ = ["Anatomy", "EmbeddingTable", "ParamCount", "describe_model", "Layout", "describe_layout", "TokenRow", "token_table"]
