"""``python -m secure_mcp`` is the same program as ``secure-mcp``."""

from secure_mcp.cli import main

raise SystemExit(main())
