"""``nectarine eval retrieval|answers|priority|all|compare``: print what ``nectarine.eval`` computes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..eval.tables import RETRIEVAL_COLUMNS, answers_table, metrics_table, priority_tables
from .common import (AnswererOpt, BaseUrlOpt, ModelOpt, TimeoutOpt, console, err, load_assistant, load_index, print_ingest_report,
                     progress, run_ingest, write_json, write_report)

app = typer.Typer(help="Offline evaluation: retrieval quality on BEIR-layout datasets.", no_args_is_help=True)

IndexFromDatasetOpt = Annotated[Optional[Path], typer.Option(
    "--index", "-i", help="Index folder; built or updated from the dataset's corpus. Default: indexes/<dataset name>.")]


def _index_for(dataset, index: Optional[Path]) -> Path:
    """Build or update the dataset's index (``indexes/<dataset name>`` unless given) with progress bars,
    the settings' trusted domains and embedder options; print the summary when something changed."""
    from ..eval.setup import default_index

    index = Path(index) if index else default_index(dataset)
    ingested = run_ingest(dataset.corpus_paths, index)
    if not ingested.up_to_date:
        print_ingest_report(ingested)
    return index


@app.command("retrieval")
def eval_retrieval(
    dataset_dir: Annotated[Path, typer.Argument(help="BEIR dataset folder: corpus.jsonl (or dataset.yaml), queries.jsonl, qrels/.")],
    index: IndexFromDatasetOpt = None,
    split: Annotated[str, typer.Option(help="Which qrels split to score.")] = "test",
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write metrics and per-query results here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report (all three modes, plots, worst queries).")] = None,
) -> None:
    """nDCG@10, recall@1/5/10/20, MRR@10 and latency, by source type and by first turn vs follow-up."""
    from ..eval.retrieval import evaluate_retrieval
    from ..eval.setup import load_split
    from ..retrieve.hybrid import SearchMode

    SearchMode.from_str(mode)
    dataset = load_split(dataset_dir, split)
    nec = load_index(_index_for(dataset, index))
    with progress() as bars:
        task = bars.add_task(f"{split} queries", total=None)
        result = evaluate_retrieval(nec, dataset, split=split, mode=mode,
                                    progress=lambda done, total: bars.update(task, completed=done, total=total))
    m = result["metrics"]
    console.print(metrics_table(f"Retrieval on {dataset.name}/{split} ({mode})", {"all": m, **result["breakdown"]}, RETRIEVAL_COLUMNS))
    console.print(f"latency p50 {m['latency_ms_p50']:.1f} ms, p95 {m['latency_ms_p95']:.1f} ms (query embedding included)")
    if result["follow_up_gap"]:
        gap = result["follow_up_gap"]
        console.print(f"first turns minus follow-ups, nDCG@10: {gap['ndcg@10']:+.3f} (95% interval {gap['ci95'][0]:+.3f} to {gap['ci95'][1]:+.3f})")
    write_json(json_out, result)
    if report:
        modes = {mode: result}
        for other in ("hybrid", "dense", "bm25"):
            if other != mode:
                modes[other] = evaluate_retrieval(nec, dataset, split=split, mode=other)
        write_report(report, f"{dataset.name}/{split}", retrieval=modes)


@app.command("answers")
def eval_answers(
    dataset_dir: Annotated[Path, typer.Argument(help="BEIR dataset folder with reference answers and answerable flags.")],
    index: IndexFromDatasetOpt = None,
    split: Annotated[str, typer.Option(help="Which split to score.")] = "test",
    answerer: AnswererOpt = "offline",
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    timeout: TimeoutOpt = 30.0,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write metrics and per-question results here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report (reliability diagram, confidence plots, mistakes).")] = None,
    nuggets: Annotated[Optional[Path], typer.Option("--nuggets", help="JSONL of {\"_id\", \"nuggets\"} for a dataset whose queries carry none (eval/nuggets/<dataset>/<split>.jsonl is used when it exists).")] = None,
) -> None:
    """Answer quality, nugget recall, clutter, truncation, honest declines, citation precision, handoff AUROC, ECE."""
    from ..eval.answers import evaluate_answers
    from ..eval.nuggets import load_nuggets
    from ..eval.setup import load_split

    dataset = load_split(dataset_dir, split)
    side = load_nuggets(nuggets or Path("eval/nuggets") / dataset.name / f"{split}.jsonl", required=nuggets is not None)
    nec = load_assistant(_index_for(dataset, index), answerer, base_url, model, timeout)
    with progress() as bars:
        task = bars.add_task(f"{split} questions", total=None)
        result = evaluate_answers(nec, dataset, split=split, progress=lambda d, t: bars.update(task, completed=d, total=t), nuggets=side)
    console.print(answers_table(f"Answers on {dataset.name}/{split} ({result['answerer']})", result["metrics"]))
    write_json(json_out, result)
    if report:
        write_report(report, f"{dataset.name}/{split}", answers=result)


@app.command("compare")
def eval_compare(
    old: Annotated[Path, typer.Argument(help="Baseline result (--json of an eval command).")],
    new: Annotated[Path, typer.Argument(help="New result of the same eval command.")],
    tolerance: Annotated[float, typer.Option(help="How much worse a metric may get before it counts as a regression.")] = 0.01,
    gate_latency: Annotated[bool, typer.Option(help="Also fail on latency regressions (relative to the old value).")] = False,
) -> None:
    """Print metric deltas; exit 1 when a metric regresses beyond the tolerance (a CI gate)."""
    from ..eval.compare import compare, read_metrics

    deltas = compare(read_metrics(old), read_metrics(new), tolerance=tolerance, gate_latency=gate_latency)
    table = Table(title=f"{old.name} -> {new.name} (tolerance {tolerance})", header_style="bold")
    for col in ("metric", "old", "new", "delta", ""):
        table.add_column(col, justify="right" if col in ("old", "new", "delta") else "left")
    for d in deltas:
        mark = "[red]REGRESSION[/]" if d.regression else ("" if d.gated else "[dim]not gated[/]")
        table.add_row(d.metric, f"{d.old:.4f}", f"{d.new:.4f}", f"{d.delta:+.4f}", mark)
    console.print(table)
    bad = [d.metric for d in deltas if d.regression]
    if bad:
        err.print(f"[bold red]regressed beyond {tolerance}:[/] {', '.join(bad)}")
        raise typer.Exit(1)
    console.print("[green]no regression[/]")


def _priority(tickets: Path) -> dict:
    """Evaluate the priority classifier on a ticket file with a progress bar, and print its tables."""
    from ..eval.priority import evaluate_priority

    with progress() as bars:
        task = bars.add_task("tickets", total=None)
        result = evaluate_priority(tickets, progress=lambda d, t: bars.update(task, completed=d, total=t))
    for table in priority_tables(tickets.name, result):
        console.print(table)
    return result


@app.command("priority")
def eval_priority(
    tickets: Annotated[Path, typer.Argument(help="Tickets as JSONL: {\"_id\", \"text\", \"priority\", \"language\"?}.")],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write metrics and per-ticket predictions here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report (confusion matrix, errors).")] = None,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall/F1 and a confusion matrix of the priority classifier."""
    result = _priority(tickets)
    write_json(json_out, result)
    if report:
        write_report(report, tickets.name, priority=result)


@app.command("all")
def eval_all(
    split: Annotated[str, typer.Option(help="Which split of the project's sets.")] = "test",
    out: Annotated[Path, typer.Option(help="Folder for the JSON results.")] = Path("eval/results"),
    report: Annotated[Optional[Path], typer.Option("--report", help="One HTML report of everything.")] = None,
) -> None:
    """Retrieval (all modes), answers and priority on the project's own eval/ sets."""
    from ..eval.answers import evaluate_answers
    from ..eval.retrieval import evaluate_retrieval
    from ..eval.setup import load_split

    dataset = load_split(Path("eval/nectain"), split)
    index = _index_for(dataset, None)
    nec = load_assistant(index, "offline", None, None, 30.0)
    modes = {}
    with progress() as bars:
        for m in ("hybrid", "dense", "bm25"):
            task = bars.add_task(f"retrieval ({m})", total=None)
            modes[m] = evaluate_retrieval(nec, dataset, split=split, mode=m, progress=lambda d, t, task=task: bars.update(task, completed=d, total=t))
    console.print(metrics_table(f"Retrieval on {dataset.name}/{split}", {m: r["metrics"] for m, r in modes.items()}, RETRIEVAL_COLUMNS))
    with progress() as bars:
        task = bars.add_task("answers", total=None)
        answers = evaluate_answers(nec, dataset, split=split, progress=lambda d, t: bars.update(task, completed=d, total=t))
    console.print(answers_table(f"Answers on {dataset.name}/{split}", answers["metrics"]))
    priority = _priority(Path(f"eval/tickets/{split}.jsonl"))
    write_json(out / "priority.json", priority)
    for name, data in (("retrieval", modes["hybrid"]), ("answers", answers)):
        write_json(out / f"{name}.json", data)
    if report:
        write_report(report, f"{dataset.name}/{split}", retrieval=modes, answers=answers, priority=priority)


@app.command("export-reviewed")
def eval_export_reviewed(
    out: Annotated[Path, typer.Argument(help="Folder to write the BEIR dataset to (corpus.jsonl, queries.jsonl, qrels/test.tsv).")],
    database: Annotated[Optional[str], typer.Option("--database", help="Database URL. Default: NECTARINE_DATABASE_URL.")] = None,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="Knowledge base folder. Default: NECTARINE_CORPUS.")] = None,
) -> None:
    """The answers reviewed in the console (/admin, Review queue) as an evaluation set that `eval answers`
    and `eval retrieval` run on unchanged: reference answers, nuggets and the sections that answer each."""
    from ..console.export import export_reviewed
    from ..store.analytics import Analytics
    from .common import fail, service_settings

    settings = service_settings()
    try:
        counts = export_reviewed(Analytics(database or settings.database_url), Path(corpus or settings.corpus), out)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    console.print(f"wrote {counts['queries']} reviewed questions ({counts['answerable']} answerable) and {counts['documents']} "
                  f"documents to {counts['folder']}; run: nectarine eval answers {out}")
