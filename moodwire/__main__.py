from moodwire.cli import main

raise SystemExit(main())
