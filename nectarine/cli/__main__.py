"""``python -m nectarine.cli``: the same as the ``nectarine`` command."""

from . import main

main()
