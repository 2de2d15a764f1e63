"""``python -m scenarios.reform``: the reform files of the green-tax scenario from the command line.

``--write-docs`` regenerates ``docs/parameters.md`` from the parameter schema
(:mod:`scenarios.green_tax.params`), ``--check-docs`` checks it, ``--list`` names the shipped reforms
(``scenarios/reforms/``), ``--show REFORM`` validates a reform file (or a shipped reform's name) and
prints its resolved values, ``--json-schema`` prints the JSON Schema of reform files. The reforms
themselves (files, resolution, the baseline-vs-reform runs and tables) are
:mod:`scenarios.green_tax.reforms`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from scenarios.green_tax import params as _params
from scenarios.green_tax.reforms import DOCS_PAGE, ROOT, load_policies, read_document, shipped_reforms

__all__ = ["main", "write_docs"]


def write_docs(path: Path = DOCS_PAGE) -> Path:
    """Regenerate ``docs/parameters.md`` from the schema."""
    path.write_text(_params.parameters_markdown(), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m scenarios.reform``: the parameter page, the shipped reforms, a reform's resolved values."""
    from simulator.config import run_cli

    parser = argparse.ArgumentParser(
        prog="python -m scenarios.reform",
        description="Reform files of the green-tax scenario: parameter reference, shipped reforms, validation.",
    )
    parser.add_argument("--write-docs", action="store_true", help=f"regenerate {DOCS_PAGE.relative_to(ROOT)}")
    parser.add_argument("--check-docs", action="store_true", help="exit 1 if the parameter page is out of date")
    parser.add_argument("--list", action="store_true", help="list the shipped reforms")
    parser.add_argument("--show", metavar="REFORM", help="validate a reform file (or shipped name); print its values")
    parser.add_argument("--baseline", metavar="FILE", help="with --show: the baseline it applies to")
    parser.add_argument("--config", metavar="FILE.toml", help="with --show: the scenario config (economy)")
    parser.add_argument("--json-schema", action="store_true", help="print the JSON Schema of reform files")
    ns = parser.parse_args(argv)

    def go() -> int:
        if ns.write_docs:
            print(f"wrote {write_docs()}")
        if ns.check_docs:
            current = DOCS_PAGE.read_text(encoding="utf-8") if DOCS_PAGE.exists() else ""
            if current != _params.parameters_markdown():
                print(f"{DOCS_PAGE} is out of date: run python -m scenarios.reform --write-docs", file=sys.stderr)
                return 1
            print(f"{DOCS_PAGE} is up to date")
        if ns.list:
            for name, path in shipped_reforms().items():
                doc, _ = read_document(path)
                print(f"{name:24s} {doc.get('title', '')}  ({path.name})")
        if ns.json_schema:
            print(json.dumps(_params.reform_json_schema(), indent=2))
        if ns.show:
            from scenarios.green_tax import Args
            from simulator.config import load_toml

            args = load_toml(Args, ns.config) if ns.config else Args()
            args = dataclasses.replace(args, reform=ns.show, baseline=ns.baseline)
            pols = load_policies(args)
            assert pols.reform is not None and pols.reform_file is not None
            f = pols.reform_file
            print(f"{f.title} ({f.path}, sha256 {f.sha256[:12]})")
            if f.description:
                print(f.description)
            table = pols.reform.table(pols.baseline, rounds={k: list(v) for k, v in f.changes.items()})
            print(table.to_string(index=False))
        if not (ns.write_docs or ns.check_docs or ns.list or ns.show or ns.json_schema):
            parser.print_help()
        return 0

    return run_cli(go)


if __name__ == "__main__":
    sys.exit(main())
