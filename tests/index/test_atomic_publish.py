"""A build killed with SIGKILL, at any point, leaves the previous index live and loadable."""

import os
import signal
import subprocess
import sys
import time

import pytest

from nectarine import Nectarine, ingest
from nectarine.index.store import current_generation

pytestmark = pytest.mark.slow


PAGES = 450  # 4 sections each: 1,800 new chunks, embedding for well over 4 s even where int8 kernels are fast (AMX/VNNI)
NEW_CHUNKS = 4 * PAGES


def add_pages(folder, n=PAGES):
    for i in range(n):
        sections = "\n\n".join(
            f"## Topic {j} of page {i}\n\nPage {i} explains setting number {j}: open Admin Console, find option {i}-{j}, "
            f"and save it. It applies to workflow {j} and form {i}."
            for j in range(4)
        )
        (folder / f"synthetic-{i:03}.md").write_text(f"---\ntitle: Synthetic page {i}\n---\n\n{sections}\n")


def start_build(kb, idx):
    return subprocess.Popen(
        [sys.executable, "-m", "nectarine.cli", "ingest", str(kb), "--index", str(idx)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=os.getcwd(),
    )


def snapshot(idx, embedder):
    nec = Nectarine.load(idx, embedder=embedder)
    return [(r.id, r.score) for r in nec.search("idle session timeout", k=5)], nec.reader.size


@pytest.mark.parametrize("phase", ["embedding", "publishing"])
def test_sigkill_mid_build_keeps_previous_index(kb_copy, tmp_path, embedder, phase):
    idx = tmp_path / "idx"
    ingest([kb_copy], idx, embedder=embedder)
    live = current_generation(idx)
    before = snapshot(idx, embedder)

    add_pages(kb_copy / "docs")
    proc = start_build(kb_copy, idx)
    try:
        deadline = time.monotonic() + 240
        if phase == "embedding":
            time.sleep(4)  # well into embedding the new chunks, long before the write
            assert proc.poll() is None, "the build finished before it could be killed"
        else:
            while not any(p.name.startswith(".staging-") for p in idx.iterdir()):
                assert proc.poll() is None, "the build finished before its staging folder was seen"
                assert time.monotonic() < deadline
                time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    assert current_generation(idx) == live
    assert snapshot(idx, embedder) == before  # same generation, same results

    # The next build cleans up after the dead one and publishes normally.
    report = ingest([kb_copy], idx, embedder=embedder)
    assert report.added == NEW_CHUNKS
    assert not any(p.name.startswith(".staging-") for p in idx.iterdir())
    assert current_generation(idx) != live
    assert Nectarine.load(idx, embedder=embedder).reader.size == before[1] + NEW_CHUNKS
