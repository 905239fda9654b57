"""The answer of 4.0's multimodal embeddings (``retrieval:vectorizeImage`` and ``vectorizeText``).

The wire's ``SingleVectorResultApiModel`` is ``{"modelVersion": "2023-04-15", "vector": [...]}``:
1024 numbers for both model versions, images and texts in one space. An answer whose ``vector``
is missing, empty or not all (finite) numbers is a ResponseValidationError: a vector that cannot
be compared is worth nothing in an index.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .._checks import is_number
from .._core.parse import Node
from .._errors import InvalidInputError, ResponseValidationError

__all__ = ["Embedding"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _vector(n: Node) -> tuple[float, ...]:
    value = n.data.get("vector")
    if not isinstance(value, list) or not value:
        kind = "missing" if value is None else "empty" if value == [] else f"a {type(value).__name__}"
        raise ResponseValidationError(f"response field $.vector should be a non-empty array of numbers, got {kind}")
    for i, item in enumerate(value):
        if type(item) is not float and (not is_number(item)):
            raise ResponseValidationError(f"response field $.vector[{i}] should be a number, got {item!r:.40}")
        if not math.isfinite(item):
            raise ResponseValidationError(f"response field $.vector[{i}] should be a finite number, got {item!r}")
    return tuple(map(float, value))


def _norm(vector: Sequence[float]) -> float:
    return math.sqrt(math.fsum(map(operator.mul, vector, vector)))


@dataclass(frozen=True, slots=True)
class Embedding:
    """A vector of :meth:`~vision_async.v4.ImageAnalysisV4.vectorize_image` or ``vectorize_text``.

    ``vector``: the numbers as the service sent them (1024 of them today). ``model_version``:
    the model that made them (the answer's ``modelVersion``, else the one asked for); vectors
    are only comparable with vectors of the same model version. ``request_id`` comes from the
    response headers, ``resource`` is the root URL of the resource that answered, ``raw`` the
    whole body.
    """

    vector: tuple[float, ...]
    model_version: str
    request_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    #: The root URL of the Azure resource that answered (set by the client).
    resource: str | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # 1024 numbers are no use in a repr
        return (
            f"Embedding(model_version={self.model_version!r}, dimensions={len(self.vector)}, "
            f"request_id={self.request_id!r})"
        )

    def cosine(self, other: Embedding) -> float:
        """Cosine similarity with ``other``, in [-1, 1] (1: same direction; 0 for a zero vector).

        InvalidInputError when ``other`` comes from another model version or has another
        number of dimensions: such vectors are not comparable.
        """
        if not isinstance(other, Embedding):
            raise InvalidInputError(f"cosine() takes another Embedding, got {type(other).__name__}")
        if other.model_version != self.model_version:
            raise InvalidInputError(
                f"vectors of model versions {self.model_version!r} and {other.model_version!r} are not comparable"
            )
        if len(other.vector) != len(self.vector):
            raise InvalidInputError(
                f"vectors of {len(self.vector)} and {len(other.vector)} dimensions are not comparable"
            )
        norms = _norm(self.vector) * _norm(other.vector)
        if norms == 0.0:
            return 0.0
        dot = math.fsum(map(operator.mul, self.vector, other.vector))
        return max(-1.0, min(1.0, dot / norms))

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> Embedding:
        """Parse the answer; ``model_version`` is ``""`` when it names none (the client fills it in)."""
        n = Node(data, "$")
        return cls(
            vector=_vector(n),
            model_version=n.opt_text("modelVersion") or "",
            request_id=request_id,
            raw=n.raw(),
        )
