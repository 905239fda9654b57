"""Image Analysis 4.0 (``api-version=2023-10-01``; embeddings ``2024-02-01``): ``client.v4`` and its result types.

```python
from vision_async import VisionClient
from vision_async.v4 import Feature

async with VisionClient(endpoint, key) as client:
    result = await client.v4.analyze(image, features=[Feature.CAPTION, Feature.READ])
    print(result.caption.text, result.read.text)
    image_vector = await client.v4.vectorize_image(image)
    print(image_vector.cosine(await client.v4.vectorize_text("a red bicycle")))
```

A few names here are also 3.2 names exported by :mod:`vision_async`, in their own shape
(``vision_async.ImageMetadata`` is 3.2's, ``vision_async.v4.ImageMetadata`` is 4.0's).
"""

from ._embedding import Embedding
from ._models import (
    CaptionResult,
    CropRegion,
    DenseCaption,
    DetectedObject,
    DetectedPerson,
    DetectedTag,
    DetectedTextBlock,
    DetectedTextLine,
    DetectedTextWord,
    ImageAnalysisResult,
    ImageBoundingBox,
    ImageMetadata,
    ImagePoint,
    ReadResult,
)
from ._options import API_VERSION, Feature
from ._surface import ImageAnalysisV4

__all__ = [
    "API_VERSION",
    "CaptionResult",
    "CropRegion",
    "DenseCaption",
    "DetectedObject",
    "DetectedPerson",
    "DetectedTag",
    "DetectedTextBlock",
    "DetectedTextLine",
    "DetectedTextWord",
    "Embedding",
    "Feature",
    "ImageAnalysisResult",
    "ImageAnalysisV4",
    "ImageBoundingBox",
    "ImageMetadata",
    "ImagePoint",
    "ReadResult",
]
