"""axe-core, Deque's accessibility engine, run inside a Playwright page.

The engine is npm's ``axe-core``, pinned in ``tests/browser/package.json`` and installed by
``make test-deps`` (``npm ci``): the maintainers' own build, by exact version with its hash in
the lock file. Tests that use it are skipped where it is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

AXE_JS = (
    Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"
)
# What fails a test: axe's two worst impacts. "moderate" and "minor" are reported, not failed.
FAILING = ("serious", "critical")


def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.skip(f"axe-core is not installed at {AXE_JS}: `make test-deps` installs it")
    return AXE_JS.read_text()


def run_axe(page, within: str | None = None) -> list[dict[str, Any]]:
    """Every violation axe finds in ``page`` (or in the element ``within`` selects), as axe
    reports them: ``id``, ``impact``, ``help`` and the ``nodes`` (their ``target`` selectors).

    The script goes in through the DevTools protocol, not a <script> tag, so the page's CSP
    (``script-src 'self'``) stays as the product serves it.
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(
        """async (within) => {
            const context = within ? document.querySelector(within) : document;
            const found = await axe.run(context, { resultTypes: ["violations"] });
            return found.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
            }));
        }""",
        within,
    )


def failing(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The serious and critical ones."""
    return [v for v in violations if v["impact"] in FAILING]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and element, for an assertion message a person can act on."""
    return "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']}) at {n['target']}"
        for v in violations
        for n in v["nodes"]
    )
