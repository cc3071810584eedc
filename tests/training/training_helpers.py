import torch
from torch import nn


class TinyModel(nn.Module):
    """An 'encoder' of two layers and a head, named like a BERT-family classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.ModuleDict(
            {
                "embeddings": nn.Embedding(20, 8),
                "layer": nn.ModuleList([nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8)) for _ in range(2)]),
            }
        )
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(8, 3)

    def forward(self, ids):  # (B, T) -> (B, 3)
        x = self.encoder["embeddings"](ids)
        for layer in self.encoder["layer"]:
            x = torch.relu(layer(x))
        return self.head(self.dropout(x.mean(dim=1)))


def make_data(n: int = 48, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 20, (n, 5), generator=g)
    labels = ids[:, 0] % 3
    return ids, labels
