"""The advisories `make audit` accepts are exactly the ones the README explains."""

import re

from tests.harness import ROOT


def test_every_accepted_advisory_is_explained_in_the_readme_and_none_is_accepted_silently() -> None:
    lines = (ROOT / "requirements" / "audit-accepted.txt").read_text(encoding="utf-8").splitlines()
    accepted = {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Known advisories (`make audit`).**") :]
    section = section[: section.index("\n- **", 1)]
    explained = set(re.findall(r"GHSA-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}|PYSEC-\d{4}-\d+", section))
    assert accepted and accepted == explained
