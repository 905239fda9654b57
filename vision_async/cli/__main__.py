"""``python -m vision_async.cli``: the same as the ``vision-async`` command."""

import sys

from ._main import main

sys.exit(main())
