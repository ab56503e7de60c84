"""The decisions log as a reader gets it: plain words first, commits as links to the repository
named in _config.yml, no references to the project's issue tracker."""

import re
import subprocess

from induction_heads.publish.build import ROOT, load_config

LOG = ROOT / "chapters" / "08_decisions.md"
_HASH = re.compile(r"(?<![\w/.,])[0-9a-f]{7,40}(?![\w])")  # not the digits of a number


def _entries(text: str) -> dict[str, str]:
    """Each ``## `` entry's heading and body."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_entry_opens_with_a_plain_sentence():
    entries = _entries(LOG.read_text())
    assert len(entries) >= 10
    for head, body in entries.items():
        first = body.strip().split("\n\n")[0]
        assert not first.startswith(("-", "*", "#")), f"{head!r} opens with a list, not a sentence"
        assert first.endswith("."), head


def test_commits_are_links_to_the_books_repository():
    text = LOG.read_text()
    repo = load_config()["repository"]["url"].rstrip("/")
    links = re.findall(r"\[([0-9a-f]{7,40})\]\(([^)]+)\)", text)
    assert links, "the log names commits"
    assert all(url == f"{repo}/commit/{h}" for h, url in links)
    unlinked = _HASH.findall(re.sub(r"\[[0-9a-f]{7,40}\]\([^)]+\)", "", text))
    assert unlinked == [], f"bare commit hashes: {unlinked}"


def test_linked_commits_exist_in_this_repository():
    """A link to a commit this history lacks would be a dead link on the published site."""
    shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True).stdout.strip()
    hashes = sorted(set(re.findall(r"\[([0-9a-f]{7,40})\]\(", LOG.read_text())))
    if shallow != "false":
        import pytest

        pytest.skip("needs the repository's full history (not a shallow clone)")
    missing = [h for h in hashes if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{h}^{{commit}}"],
                                                  capture_output=True).returncode]
    assert missing == []


def test_no_issue_numbers():
    assert not re.search(r"\bissues?\s+#?\d+", LOG.read_text(), flags=re.I)
