"""pip-audit on both environments (.venv and .venv-rasa), with the accepted advisories of
requirements/audit-accepted.txt (each explained in the README) ignored.

pip-audit asks PyPI's per-release JSON (https://pypi.org/pypi/<name>/<version>/json) for advisories. Where
that cannot be reached, pip-audit itself would skip every package and still print "No known
vulnerabilities found"; this script checks first and says plainly that nothing was audited: it fails
(exit 2), or with --if-reachable (what `make test` uses) it warns and passes. Advisories not accepted fail
`make audit`; `make test` prints them and goes on.
"""

import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED = ROOT / "requirements" / "audit-accepted.txt"
PIP_AUDIT = ROOT / ".venv" / "bin" / "pip-audit"
PROBE = "https://pypi.org/pypi/pip-audit/2.10.1/json"
ENVIRONMENTS = {
    ".venv": [],  # pip-audit's own environment
    ".venv-rasa": ["--path", str(ROOT / ".venv-rasa" / "lib" / "python3.10" / "site-packages")],
}
OURS = {"embudo"}  # installed from this repository, not from PyPI


def accepted_ids() -> list[str]:
    lines = ACCEPTED.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def unreachable() -> str | None:
    """Why PyPI's vulnerability data cannot be read from here, or None when it can."""
    try:
        with urllib.request.urlopen(PROBE, timeout=15) as answer:
            return None if "vulnerabilities" in json.load(answer) else f"{PROBE} has no vulnerability data"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return f"{PROBE}: {error}"


def audit(name: str, extra: list[str]) -> list[str]:
    """The problems pip-audit found in one environment (advisories not accepted, packages not audited)."""
    ignored = [argument for vuln in accepted_ids() for argument in ("--ignore-vuln", vuln)]
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        command = [str(PIP_AUDIT), "--progress-spinner", "off", "-f", "json", "-o", report.name, *extra]
        subprocess.run([*command, *ignored], capture_output=True, text=True, check=False)
        found = json.loads(Path(report.name).read_text() or '{"dependencies": []}')
    problems = []
    for dependency in found["dependencies"]:
        if dependency.get("skip_reason") and dependency["name"] not in OURS:
            problems.append(f"{name}: {dependency['name']} not audited: {dependency['skip_reason']}")
        for vuln in dependency.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            package = f"{dependency['name']} {dependency['version']}"
            problems.append(f"{name}: {package}: {vuln['id']} ({aliases}), fixed in {fixed}")
    if not found["dependencies"]:
        problems.append(f"{name}: pip-audit listed no packages at all")
    return problems


def main() -> int:
    tolerant = "--if-reachable" in sys.argv[1:]
    why = unreachable()
    if why is not None:
        print("pip-audit NOT RUN: PyPI's vulnerability data cannot be reached from this machine,")
        print(f"so NOTHING WAS AUDITED ({why}). Run `make audit` where pypi.org answers.")
        return 0 if tolerant else 2
    problems = [problem for name, extra in ENVIRONMENTS.items() for problem in audit(name, extra)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"pip-audit: {len(problems)} problem(s). Upgrade, or explain the advisory in the README and")
        print(f"add it to {ACCEPTED.relative_to(ROOT)}.")
        # `make test` reports them and goes on: an advisory published today must not fail everyone's
        # suite before anyone could read it; `make audit` fails on it.
        return 0 if tolerant else 1
    print(f"pip-audit: both environments clean apart from the {len(accepted_ids())} accepted advisories.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
