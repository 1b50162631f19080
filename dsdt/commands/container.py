"""``dsdt-container``: the in-container entry point (see :mod:`dsdt.containers.entrypoint`)."""

from __future__ import annotations

import sys

from dsdt.containers.entrypoint import execute, sagemaker
from dsdt.containers.protocol import EXIT_OK, parser


def main(argv: list[str] | None = None) -> int:
    """Run the entrypoint; returns the exit code (see :mod:`dsdt.containers.protocol`)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        parser().print_help()
        return EXIT_OK
    if argv and argv[0] == "--sagemaker":
        return sagemaker(argv[1:])
    return execute(argv)[0]


if __name__ == "__main__":
    sys.exit(main())
