"""Mutable state: refs (context membership, commit marks), HEAD, and their names."""
