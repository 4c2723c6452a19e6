"""Worker of tests/test_initialisation.py: one rank (gloo, CPU) builds the seeded AAN model with
the data-dependent starts and runs its first training batch (this rank's own), then reports
the start it reached. Imports aan_core only, so a spawned rank starts quickly."""

from __future__ import annotations

import os

import torch

from aan_core import AANLandmarkModel

SMALL = dict(num_points=5, stem_channels=8, stage_channels=(8, 16, 16, 32), embedding_dim=16)


def first_batch_start(rank: int, world: int, port: int, out) -> None:
    """Put ``(rank, sigma, final bias, sum of this rank's targets, embedding weight)`` on
    the queue ``out``."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # the same model on every rank, a different batch on each
        model = AANLandmarkModel(**SMALL, output_init="mean_shape", embedding_sigma="median")
        g = torch.Generator().manual_seed(10 + rank)
        x, y = torch.randn(4, 3, 64, 64, generator=g), torch.rand(4, 5, 2, generator=g)
        with torch.no_grad():
            model.train()(x, y)
        out.put((rank, model.regressor.embedding.sigma, model.regressor.fc.bias.detach(),
                 y.sum(0), model.regressor.embedding.weight.detach()))
    finally:
        torch.distributed.destroy_process_group()
