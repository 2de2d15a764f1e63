"""Example reform files of the green-tax scenario (package data; ``python -m scenarios.reform --list``)."""
