"""Makes the project root importable for a plain `pytest` run (rootdir conftest: pytest puts its directory on sys.path)."""
