"""The publishing workflow: valid GitHub Actions, runs the README's `make book`, deploys
_build/html to Pages, and takes its addresses from _config.yml."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

from induction_heads.publish.build import ROOT, load_config

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _schema_check(path: Path) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(cli), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True)


def test_workflow_is_valid_github_actions(tmp_path):
    r = _schema_check(WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:", 1))
    assert _schema_check(broken).returncode != 0  # the check can fail


def test_workflow_builds_with_make_book_and_deploys_pages():
    wf = yaml.safe_load(WORKFLOW.read_text())
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == [load_config()["repository"]["branch"]]
    steps = wf["jobs"]["build"]["steps"]
    assert any(s.get("run") == "make book" for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in wf["jobs"]["deploy"]["steps"])
    code = [line.split("#", 1)[0] for line in WORKFLOW.read_text().splitlines()]
    assert not any("http" in line for line in code)  # no address of its own


def test_site_address_is_the_repositorys_pages():
    cfg = load_config()
    owner, repo = urlparse(cfg["repository"]["url"]).path.strip("/").split("/")
    assert cfg["html"]["baseurl"] == f"https://{owner}.github.io/{repo}/"
