import sys

from intake.entry import main

sys.exit(main())
