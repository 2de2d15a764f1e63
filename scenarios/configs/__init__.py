"""Shipped scenario configs (package data): ``--config scenarios/configs/NAME.toml``."""
