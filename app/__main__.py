"""`python -m app`: the `signet` command (see app.cli.main)."""

import sys

from .cli.main import main

__all__ = ["main"]  # the installed `signet` script's entry point: signet_issuer.__main__:main

if __name__ == "__main__":
    sys.exit(main())
