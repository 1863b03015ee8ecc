import sys

from sisr.cli import main

sys.exit(main())
