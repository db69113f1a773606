"""Inputs for the reader, inspect, extract and diff tests: real archives and hostile ones."""
