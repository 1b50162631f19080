"""Remotes: where bundles are pushed to and pulled from (S3 or a plain directory)."""
