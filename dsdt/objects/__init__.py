"""Immutable objects: content-addressed blobs, bundle records and value codecs."""
