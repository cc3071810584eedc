"""``bertkit serve``: the HTTP service (embeddings, classification, QA, web page)."""

from __future__ import annotations

import os
from typing import Optional

import typer

from bertkit.errors import UsageError
from bertkit.cli.options import finite


def _log_to_stderr() -> None:
    """The server's own log lines (ready, failed requests with their ids) on stderr, like uvicorn's."""
    import logging

    logger = logging.getLogger("bertkit.serve")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def serve_command(
    embed: Optional[str] = typer.Option(None, "--embed", help="Encoder directory to serve /embed, /embed_all, /tokenize, /v1/embeddings ('default': the packaged MiniLM)."),
    classify: Optional[str] = typer.Option(None, "--classify", help="Classifier directory for /predict ('default': the shipped sentiment model)."),
    qa: Optional[str] = typer.Option(None, "--qa", help="QA model directory for /answer ('default': the shipped QA model)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Tagger directory for /tag (bertkit tag train; none is shipped)."),
    index: Optional[str] = typer.Option(None, "--index", help="Index directory (bertkit index build): POST /answer without a context answers from it."),
    rerank: Optional[str] = typer.Option(None, "--rerank", help="Reranker directory for /rerank and /v1/rerank, and to rerank /answer's passages ('default': the shipped one)."),
    pooling: str = typer.Option("mean", "--pooling", "-p", help="Pooling of /embed vectors (any `bertkit embed --pooling` spec)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 exposes the server to the network)."),
    port: int = typer.Option(8080, "--port", help="TCP port (0: any free port)."),
    api_key: Optional[str] = typer.Option(None, "--api-key", help="Require 'Authorization: Bearer KEY' (default: $BERTKIT_API_KEY when set)."),
    max_batch_tokens: int = typer.Option(16384, "--max-batch-tokens", help="Tokens per merged batch across concurrent requests."),
    max_client_batch_size: int = typer.Option(64, "--max-client-batch-size", help="Most inputs in one request (more: 422)."),
    max_concurrent_requests: int = typer.Option(512, "--max-concurrent-requests", help="Requests in flight before new ones get 429."),
    max_queue: Optional[int] = typer.Option(None, "--max-queue", help="Requests waiting per model before new ones get 429 (default: --max-concurrent-requests)."),
    payload_limit: str = typer.Option("2MB", "--payload-limit", help="Largest request body (e.g. 2MB, 512KB); more: 413."),
    body_timeout: float = typer.Option(10.0, "--body-timeout", callback=finite, help="Seconds a client may take to send its whole request body; slower: 408."),
    max_input_tokens: int = typer.Option(32768, "--max-input-tokens", help="Tokens in one request (all its texts); more: 413."),
    max_embed_all_tokens: int = typer.Option(8192, "--max-embed-all-tokens", help="Token vectors in one /embed_all answer; more: 413."),
    allowed_hosts: Optional[list[str]] = typer.Option(None, "--allowed-hosts", metavar="NAME", help="Host-header names to answer besides the bound host, localhost, 127.0.0.1 and ::1 (repeat or comma-separate; '*': any); others get 421 (DNS-rebinding guard)."),
    backend: str = typer.Option("auto", "--backend", help="auto, torch or onnx."),
    dtype: str = typer.Option("auto", "--dtype", help="auto; torch: fp32, bf16, fp16 (GPU); onnx: fp32, int8."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N."),
) -> None:
    """Serve embeddings (TEI- and OpenAI-compatible), classification, QA and named entities (--tag) over HTTP, with a web page at /."""
    from bertkit.embeddings.pooling import split_pooling_spec
    from bertkit.serve.options import API_KEY_ENV, ServeOptions
    from bertkit.serve.server import serve

    from bertkit.engine.runtime import check_names

    split_pooling_spec(pooling)
    check_names(backend, dtype)
    given = [x is not None for x in (embed, classify, qa, tag)]
    everything = not any(given)

    def path(value: Optional[str]) -> Optional[str]:
        if value is None or value == "default":
            return None
        if not os.path.isdir(os.path.expanduser(value)):
            raise UsageError(f"{value}: no such model directory")
        return value

    for flag, value in (("--index", index), ("--rerank", rerank)):
        if value is not None and value != "default" and not os.path.isdir(os.path.expanduser(value)):
            raise UsageError(f"{flag} {value}: no such directory")
    if tag is not None and not os.path.isdir(os.path.expanduser(tag)):
        raise UsageError(f"--tag {tag}: no such tagger directory (train one with: bertkit tag train)")
    options = ServeOptions(
        embed=path(embed), classify=path(classify), qa=path(qa), tag=tag, pooling=pooling, index=index, rerank=rerank,
        serve_embed=everything or given[0], serve_classify=everything or given[1], serve_qa=everything or given[2],
        host=host, port=port, api_key=api_key or os.environ.get(API_KEY_ENV) or None,
        max_batch_tokens=max_batch_tokens, max_client_batch_size=max_client_batch_size,
        max_concurrent_requests=max_concurrent_requests, max_queue=max_queue, payload_limit=payload_limit,
        body_timeout=body_timeout, max_input_tokens=max_input_tokens, max_embed_all_tokens=max_embed_all_tokens,
        allowed_hosts=tuple(allowed_hosts or ()),
        backend=backend, dtype=dtype, device=device,
    )
    _log_to_stderr()
    code = serve(options)
    if code:
        raise typer.Exit(code)
