"""`python -m lossmask` is the same as the `lossmask` command."""

from lossmask.cli import main

if __name__ == "__main__":
    main()
