"""Reports on images for packagers: the SBOM and its diff, why a path is there, where
the bytes go, and the check of a served tree."""
