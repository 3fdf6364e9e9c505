import sys

from btb.cli import main

sys.exit(main())
