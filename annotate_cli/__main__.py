from annotate_cli.main import main

raise SystemExit(main())
