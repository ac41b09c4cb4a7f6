"""WCAG 2.1 AA checks with axe-core (vendored in tests/vendor, MPL-2.0), run in Chromium."""

from pathlib import Path

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page) -> list[dict]:
    """Run axe-core on the page; return violations as {id, impact, help, targets}.

    axe is evaluated through the DevTools protocol rather than added as an inline
    <script>: the portal's Content-Security-Policy (rightly) blocks inline scripts,
    and the pages are checked as they are served, with the policy in force.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5),
            }));
        }""",
        WCAG_AA_TAGS,
    )
    return result
