import sys

from sr_studio.cli import main

sys.exit(main())
