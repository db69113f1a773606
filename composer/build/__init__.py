"""Building an image: the pipeline and its plan."""
