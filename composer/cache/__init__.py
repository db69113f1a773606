"""Caches of what libraries and sysroot files gave, kept between builds."""
