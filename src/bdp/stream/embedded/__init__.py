"""The embedded stream engine: bdp's own consumer loop, in one process or several workers."""

from bdp.stream.embedded.loop import JOB, EmbeddedStreamJob

__all__ = ["JOB", "EmbeddedStreamJob"]
