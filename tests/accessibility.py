"""axe-core (WCAG 2.1 A and AA rules) run in a real page; axe.min.js comes from the axe-playwright-python package."""

from typing import Any

from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Page

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def serious_violations(page: Page, include: str | None = None) -> list[str]:
    """The serious and critical WCAG 2.1 AA violations axe finds on the page (or in the ``include``
    selector), one line each: rule, impact, and the first offending element."""
    page.evaluate(AXE_SCRIPT)
    results: dict[str, Any] = page.evaluate(
        "([include, tags]) => axe.run(include ? { include: [include] } : document,"
        " { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })",
        [include, WCAG_21_AA],
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {v['nodes'][0]['html'][:200]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
