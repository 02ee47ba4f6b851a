"""``python -m workbench`` (what ``torchrun -m workbench`` runs)."""

from workbench.cli import main

raise SystemExit(main())
