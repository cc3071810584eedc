"""``bertkit serve``: embeddings, classification and extractive QA over HTTP, with
dynamic batching, limits, Prometheus metrics and a web page."""

from bertkit.serve.app import ServerState, create_app
from bertkit.serve.models import ServedModels, load_models
from bertkit.serve.options import API_KEY_ENV, ServeOptions, parse_size
from bertkit.serve.server import Server, serve

__all__ = ["create_app", "ServerState", "ServeOptions", "ServedModels", "load_models", "parse_size", "API_KEY_ENV", "Server", "serve"]
