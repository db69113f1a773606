"""composer: a declarative, YAML-driven composer of Linux boot images.

The pipeline reads like its stages: recipe -> plan (manifest) -> archive -> image.
"""

__version__ = "0.1.0"
