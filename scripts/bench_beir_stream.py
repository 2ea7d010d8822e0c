"""Benchmark: a BEIR corpus of any size is read in bounded memory (issue "Sources", part 1).

Generates a synthetic BEIR ``corpus.jsonl`` (default 1,000,000 passages of 40-90 words), then runs the
ingest's streaming read + chunk stage on it (``FileSource`` -> ``BeirJsonlLoader.iter_documents`` ->
``StructureAwareChunker``, exactly as ``nectarine ingest`` does, with the fake embedder's word-piece
counter) and prints the rate and the peak RSS (psutil, sampled every 0.1 s, and the kernel's
ru_maxrss). With ``--full`` it then runs the whole ingest (embed with the hashing fake embedder
``nectarine/index/fake.py``, FAISS, BM25, chunk table) into a temporary index.

The real model embeds about 40 chunks/s on these 2 cores, so a real-model ingest of 1,000,000
passages (about 7 hours) is out of reach here; the fake embedder measures everything else.

    .venv/bin/python scripts/bench_beir_stream.py                   # 1,000,000 passages, read + chunk
    .venv/bin/python scripts/bench_beir_stream.py --passages 200000 --full
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = ("account admin approval audit backup billing cache certificate cluster connector dashboard database deploy "
         "domain email export field filter gateway group import index invoice key license limit log login mobile "
         "network notification order password permission policy portal project queue quota record region report "
         "role rule schedule schema search session setting single sign storage subscription sync table team tenant "
         "token upload user version webhook workflow workspace").split()


def generate(path: Path, passages: int, seed: int = 7) -> float:
    """Write ``passages`` BEIR records to ``path``; returns the seconds it took."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    with path.open("w", encoding="utf-8") as f:
        for i in range(passages):
            words = rng.choices(WORDS, k=rng.randint(40, 90))
            title = " ".join(rng.choices(WORDS, k=4)).capitalize()
            text = " ".join(words).capitalize() + "."
            f.write(json.dumps({"_id": f"p{i}", "title": title, "text": text, "metadata": {}}) + "\n")
    return time.perf_counter() - t0


class PeakRss:
    """Samples this process's RSS every ``interval`` seconds in a thread; ``peak`` in bytes."""

    def __init__(self, interval: float = 0.1) -> None:
        self.proc, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def read_and_chunk(corpus: Path, index: Path) -> dict:
    """The ingest's load-and-chunk stage on ``corpus``, as ``ingest()`` runs it, stopping before embedding."""
    from nectarine.index.fake import FakeEmbedder
    from nectarine.ingest.pipeline import _Build, sources_from
    from nectarine.ingest.safety import trusted_domains

    sources = sources_from([corpus])
    for s in sources:
        s.check()
    run = _Build(index, rebuild=False, max_file_bytes=5 * 1024 * 1024, progress=None, trusted=trusted_domains(None))
    with PeakRss() as rss:
        t0 = time.perf_counter()
        run.open_previous(FakeEmbedder(), None, None, None, {})
        run.collect(sources)
        seconds = time.perf_counter() - t0
    r = run.report
    chunks = run.spool.count if run.spool else 0  # the chunks went to the spool (nectarine.ingest.spool)
    run.close()
    return {"documents": r.documents, "chunks": chunks, "skipped": len(r.skipped), "seconds": round(seconds, 1),
            "passages_per_s": round(r.documents / seconds), "peak_rss_mb": round(rss.peak / 2**20)}


def full_ingest(corpus: Path, index: Path) -> dict:
    from nectarine import ingest

    with PeakRss() as rss:
        t0 = time.perf_counter()
        report = ingest([corpus], index, model="fake")
        seconds = time.perf_counter() - t0
    return {"documents": report.documents, "chunks": report.chunks, "embedded": report.embedded, "seconds": round(seconds, 1),
            "passages_per_s": round(report.documents / seconds), "stages_s": {k: round(v, 1) for k, v in report.stage_seconds.items()},
            "peak_rss_mb": round(rss.peak / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--full", action="store_true", help="also run the whole ingest with the fake embedder")
    ap.add_argument("--keep", type=Path, help="write the corpus here and keep it (default: a temporary folder)")
    args = ap.parse_args()

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
          f"load {', '.join(f'{x:.2f}' for x in os.getloadavg())}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    with tempfile.TemporaryDirectory(prefix="bench-beir-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        corpus = folder / "corpus.jsonl"
        gen = generate(corpus, args.passages)
        print(f"corpus: {args.passages:,} passages, {corpus.stat().st_size / 2**20:,.0f} MiB, generated in {gen:.0f} s")
        stage = read_and_chunk(corpus, Path(tmp) / "index-stage")
        print(f"stream read + chunk: {json.dumps(stage)}")
        if args.full:
            print(f"full ingest (fake embedder): {json.dumps(full_ingest(corpus, Path(tmp) / 'index-full'))}")
    print(f"process peak RSS (ru_maxrss, whole run): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
