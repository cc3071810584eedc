"""The FastAPI application: state, start-up (models load in a thread while /health says
503), draining, and the service routes (/, /health, /info, /metrics). The model routes
are in routes_embed.py and routes_tasks.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from importlib import resources

from fastapi import Body, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from bertkit.serve.batching import Batcher
from bertkit.serve.errors import ApiError, error_response, install_error_handlers, logger
from bertkit.serve.limits import ServeMiddleware
from bertkit.serve.metrics import CONTENT_TYPE_LATEST, Metrics
from bertkit.serve.models import ServedModels, load_models
from bertkit.serve.options import ServeOptions
from bertkit.serve.schemas import Health, Info

__all__ = ["ServerState", "create_app", "WEB_DIR"]

WEB_DIR = resources.files("bertkit.serve") / "web"


@dataclass
class ServerState:
    options: ServeOptions
    metrics: Metrics = field(default_factory=Metrics)
    models: ServedModels | None = None
    batchers: dict[str, Batcher] = field(default_factory=dict)
    load_error: str | None = None
    draining: bool = False
    in_flight: int = 0
    route_paths: frozenset = frozenset()
    on_load_error: object = None  # called (no arguments) when the models fail to load: the server stops

    @property
    def ready(self) -> bool:
        return self.models is not None and bool(self.batchers) and not self.draining

    def model(self, name: str):
        """The loaded model ``name`` (embed, classify, qa), or a 404/503 ApiError."""
        if self.models is None:
            raise ApiError(503, self.load_error or "the models are still loading; retry shortly")
        model = getattr(self.models, name)
        if model is None:
            loaded = ", ".join(self.models.loaded()) or "none"
            raise ApiError(404, f"no {name} model is loaded on this server; loaded: {loaded} (start it with --{name} DIR)", "NotFound")
        return model

    def batcher(self, name: str) -> Batcher:
        self.model(name)
        return self.batchers[name]


def _runner(key, items):
    """Batch keys are (bound run_* method, its option): call it on the merged items."""
    method, option = key
    return method(option, items)


def _start_batchers(state: ServerState) -> None:
    opts = state.options
    for name in state.models.loaded():
        state.batchers[name] = Batcher(name, _runner, max_batch_tokens=opts.max_batch_tokens, max_queue=opts.queue_limit, metrics=state.metrics)
        state.batchers[name].start()


async def _load(state: ServerState) -> None:
    try:
        models = await asyncio.to_thread(load_models, state.options)
    except Exception as exc:  # noqa: BLE001 - reported by /health and every route
        state.load_error = f"the models failed to load: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        logger.debug(state.load_error, exc_info=exc)
        if callable(state.on_load_error):
            state.on_load_error()
        return
    state.models = models
    _start_batchers(state)
    logger.info("bertkit serve ready: %s", ", ".join(models.loaded()))


def create_app(options: ServeOptions | None = None, models: ServedModels | None = None) -> FastAPI:
    """The server as an ASGI app. ``models`` given: serve those; else load ``options``' models
    in a thread at start-up (``/health`` answers 503 until they are ready)."""
    from bertkit import __version__
    from bertkit.serve import routes_embed, routes_rerank, routes_search, routes_tasks

    state = ServerState(options or ServeOptions())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = None
        if models is not None:
            state.models = models
            _start_batchers(state)
        else:
            loading = asyncio.get_running_loop().create_task(_load(state))
        yield
        state.draining = True
        if loading is not None:
            loading.cancel()
        for batcher in state.batchers.values():
            await batcher.close()

    app = FastAPIOffline(title="bertkit serve", version=__version__, lifespan=lifespan, favicon_url="data:,",  # /docs: no CDN
                  description="Embeddings (TEI- and OpenAI-compatible), classification and extractive QA with dynamic batching.")
    app.state.bertkit = state
    install_error_handlers(app)
    app.include_router(routes_embed.router)
    if state.options.index is not None:  # /answer without a context: from the index (before the task route)
        app.include_router(routes_rerank.open_router)
    app.include_router(routes_tasks.router)
    app.include_router(routes_rerank.router)  # /rerank, /v1/rerank
    app.include_router(routes_search.router)  # /search over the served index (--index DIR)
    routes_rerank.attach(app, state.options.rerank, state.options.index, backend=state.options.backend, dtype=state.options.dtype,
                         device=state.options.device)
    _service_routes(app, state, __version__)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR)), name="static")
    app.add_middleware(ServeMiddleware, state=state)
    state.route_paths = frozenset(app.openapi()["paths"]) | {"/", "/invocations"}  # metric labels: known routes only
    return app


def _service_routes(app: FastAPI, state: ServerState, version: str) -> None:
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(WEB_DIR / "index.html"), media_type="text/html")

    @app.post("/", summary="TEI's root route", responses={404: {"description": "no model this route answers with"}})
    async def root(request: Request, body: dict = Body(..., examples=[{"inputs": "a gorgeous, witty film"}])):
        """As text-embeddings-inference: ``/embed`` when the embedding model is served, ``/predict``
        when only the classifier is (or the body asks for scores: ``parameters``, ``raw_scores``,
        ``top_k``, ``explain``), ``/rerank`` for ``{"query", "texts"}``. Routed before it reaches
        here (limits.py, root.py); a body that gets here was not JSON."""
        raise ApiError(422, "the request body must be a JSON object (Content-Type: application/json)")

    @app.get("/health", response_model=Health, responses={503: {"description": "loading, failed to load, or draining"}})
    async def health(request: Request):
        """200 when the models are loaded and the server accepts work; 503 while loading or draining."""
        if state.ready:
            return Health(status="ok")
        reason = "draining" if state.draining else (state.load_error or "loading")
        return error_response(request.url.path, 503, f"not ready: {reason}")

    @app.get("/info", response_model=Info)
    async def info():
        """Models (with the backend and dtype each runs on), limits and version."""
        o = state.options
        models = {name: getattr(state.models, name).info() for name in state.models.loaded()} if state.models else {}
        embed = models.get("embed", {})
        return JSONResponse({
            "version": version,
            "model_id": embed.get("model"),
            "max_input_length": embed.get("max_length"),
            "max_batch_tokens": o.max_batch_tokens,
            "max_client_batch_size": o.max_client_batch_size,
            "max_concurrent_requests": o.max_concurrent_requests,
            "models": models,
            "limits": {"max_batch_tokens": o.max_batch_tokens, "max_client_batch_size": o.max_client_batch_size,
                       "max_concurrent_requests": o.max_concurrent_requests, "max_queue": o.queue_limit,
                       "payload_limit_bytes": o.payload_limit, "api_key": bool(o.api_key), "body_timeout_s": o.body_timeout,
                       "max_input_tokens": o.max_input_tokens, "max_embed_all_tokens": o.max_embed_all_tokens},
            "ready": state.ready,
        })

    @app.get("/metrics", response_class=Response)
    async def metrics():
        """Prometheus text format; every name starts with ``bertkit_``."""
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

