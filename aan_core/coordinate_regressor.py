"""Feature map (or vector) -> landmark coordinates, optionally through the cosine embedding."""

from __future__ import annotations

from torch import Tensor, nn

from .cosine_embedding import CosineEmbedding

__all__ = ["CoordinateRegressor"]


class CoordinateRegressor(nn.Module):
    """Global average pooling -> [``cos(W x + b)``] -> linear layer -> ``K x 2`` coordinates.

    With ``embedding_dim`` set this is the paper's output head (nonlinear embedding then one
    linear layer); with ``embedding_dim=None`` it is a plain linear regressor, used for the
    intermediate-supervision branches and the "w/o embedding" ablation.

    The output layer starts at weights ``N(0, 0.01)`` and bias ``init_coordinate`` (0.5:
    the centre of a normalised crop), so training starts from the crop centre.

    Args:
        in_channels: Channels of the input features.
        num_points: ``K``, landmarks to predict.
        embedding_dim: Width ``d`` of the cosine embedding, or ``None`` for no embedding.
        embedding_sigma: RBF bandwidth of the embedding's initial draw (see
            :class:`CosineEmbedding`).
        init_coordinate: Initial bias of the output layer.

    Shape:
        - Input: :math:`(B, C, H, W)` or already pooled :math:`(B, C)`
        - Output: :math:`(B, K, 2)`

    Example:
        >>> head = CoordinateRegressor(256, num_points=68, embedding_dim=256)
        >>> head(torch.randn(2, 256, 4, 4)).shape
        torch.Size([2, 68, 2])
    """

    def __init__(
        self,
        in_channels: int,
        num_points: int,
        embedding_dim: int | None = 256,
        embedding_sigma: float | None = None,
        init_coordinate: float = 0.5,
    ) -> None:
        super().__init__()
        if num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {num_points}")
        self.in_channels = in_channels
        self.num_points = num_points
        if embedding_dim is None:
            self.embedding: nn.Module = nn.Identity()
            fc_in = in_channels
        else:
            self.embedding = CosineEmbedding(in_channels, embedding_dim, sigma=embedding_sigma)
            fc_in = embedding_dim
        self.fc = nn.Linear(fc_in, num_points * 2)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.constant_(self.fc.bias, init_coordinate)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 4:
            x = x.mean(dim=(2, 3))
        elif x.ndim != 2:
            raise ValueError(
                f"CoordinateRegressor expects (B, C, H, W) or (B, C) features, got shape "
                f"{tuple(x.shape)}"
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"CoordinateRegressor was built for in_channels={self.in_channels} but got "
                f"features with {x.shape[1]} channels; set in_channels to match the backbone"
            )
        return self.fc(self.embedding(x)).view(-1, self.num_points, 2)
