"""Multi-view graph learning with consistency and inconsistency (work in progress)."""
