"""``python -m dsdt``: the dsdt command line."""

from dsdt.commands.app import main

if __name__ == "__main__":
    main()
