"""The embedding server users write by hand: FastAPI + sentence-transformers ``encode`` per request.

    python bench/serve_handwritten.py MODEL_DIR PORT

The bench/serve.py peer. A sync route, so FastAPI runs each request's ``encode`` in its
thread pool: concurrent requests run side by side, each as its own small batch.
"""

from __future__ import annotations

import sys
from typing import Union

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(sys.argv[1], device="cpu")
app = FastAPI()


class EmbedRequest(BaseModel):
    inputs: Union[str, list[str]]
    normalize: bool = True


@app.post("/embed")
def embed(req: EmbedRequest) -> list[list[float]]:
    texts = [req.inputs] if isinstance(req.inputs, str) else req.inputs
    return model.encode(texts, batch_size=32, normalize_embeddings=req.normalize).tolist()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
