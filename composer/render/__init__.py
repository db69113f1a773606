"""Templates and recipe strings, rendered by Jinja's sandbox."""
