"""`python -m app.cli`, as the tests and benches run `regie`."""

import sys

from app.cli import main

sys.exit(main())
