"""The reading side: inspect, extract and diff an image; none writes one."""
