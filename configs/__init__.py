"""The experiment configs (TOML), installed with the package."""
