"""Media handling with PyAV: segments, segmenting without transcoding, synthetic video."""
