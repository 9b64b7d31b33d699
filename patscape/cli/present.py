"""What the commands print beyond their own summary line: progress bars, skipped records,
notes, the one-line summary of a map run, and JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click


def progress(total: int, unit: str, desc: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A progress bar on stderr (none when ``PATSCAPE_NO_PROGRESS=1``): its update and close."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True, mininterval=0.5,
               disable=os.environ.get("PATSCAPE_NO_PROGRESS") == "1")
    return bar.update, bar.close


def echo_problem(problem: Any) -> None:
    click.echo(f"{'warning' if getattr(problem, 'kept', False) else 'skipped'}: {problem}", err=True)


def note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


def echo_json(value: Any) -> None:
    """``value`` as one indented JSON document."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=1))


def echo_json_lines(rows: Iterable[Any]) -> None:
    """One JSON object per line."""
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))


def run_summary(m: dict[str, Any]) -> str:
    parts = [f"{m['topics']} topics", f"{m['outlier_share']:.1%} outliers (before reassignment {m['outlier_share_before_reassignment']:.1%})"]
    if m.get("silhouette_cosine") is not None:
        parts.append(f"silhouette {m['silhouette_cosine']:.3f}")
    for key in ("cpc_subclass", "ipc_subclass"):
        agreement = m.get("code_agreement", {}).get(key) or {}
        clustered, after = agreement.get("clustered"), agreement.get("after_reassignment")
        if clustered and after:
            parts.append(f"ARI {key.replace('_', ' ')} {clustered['ari']:.3f} (after reassignment {after['ari']:.3f})")
    if "landscape_f1_mean" in m:
        parts.append(f"landscape F1 {m['landscape_f1_mean']:.3f}")
    mix = m.get("language_mix", {})
    if len(mix.get("corpus_languages", {})) > 1:
        parts.append(f"{mix.get('mixed_topics', 0)} topics mix languages")
    per_language = []
    for lang, entry in (m.get("code_agreement_by_language") or {}).items():
        ipc = (entry.get("ipc_subclass") or {}).get("clustered")
        if ipc:
            per_language.append(f"{lang} {ipc['nmi']:.2f}")
    if per_language:
        parts.append("NMI ipc subclass by language: " + ", ".join(per_language))
    return "; ".join(parts)


def levels_summary(data: dict[str, Any], metrics: dict[str, Any], levels: list[list[dict[str, Any]]],
                   top_shown: int = 12) -> str:
    """The run's hierarchy in a few lines: nodes per level (top first, the topics, then their
    sub-topics), each level's landscape F1 where measured, and the top level's nodes with their
    sizes."""
    info = data.get("hierarchy")
    if not info:
        return "levels     1 (a run made before topic hierarchies: run `patscape map` again for levels)"
    counts = info.get("counts") or [metrics.get("topics", 0)]
    figures = {entry["level"]: entry for entry in metrics.get("levels", [])}
    parts = []
    for level, count in enumerate(counts):
        f1 = figures.get(level, {}).get("landscape_f1_mean")
        parts.append(f"L{level} {count}" + (f" (F1 {f1:.3f})" if f1 is not None else ""))
    lines = [f"levels     {len(counts)}: " + " > ".join(parts) + (" (topics)" if len(counts) > 1 else "")]
    sub = info.get("subtopics") or {}
    if sub.get("count"):
        f1 = figures.get(len(counts), {}).get("landscape_f1_mean")
        lines.append(f"           L{len(counts)} {sub['count']} sub-topics inside {sub['topics_split']} of the "
                     f"{counts[-1]} topics (cores of {sub['min_size']}+ documents)"
                     + (f"; finest partition F1 {f1:.3f}" if f1 is not None else ""))
    elif sub:
        lines.append(f"           no topic holds sub-topics (cores of {sub.get('min_size')}+ documents)"
                     if sub.get("looked_for") else "           sub-topics not looked for (--no-subtopics)")
    best = metrics.get("landscape_f1_best_level")
    if best and len(counts) > 1:
        lines.append("           landscape F1 at each landscape's best level: " + f"{best['mean']:.3f} ("
                     + ", ".join(f"{name} L{b['level']} {b['f1']:.2f}" for name, b in best["landscapes"].items()) + ")")
    if info.get("notice"):
        lines.append(f"           note: {info['notice']}")
    if levels:
        for node in levels[0][:top_shown]:
            lines.append(f"  L0 {node['node']:>3}  {node['size']:>8,} docs  {len(node.get('children', []))} children  {node['label']}")
        if len(levels[0]) > top_shown:
            lines.append(f"  ... {len(levels[0]) - top_shown} more at L0")
    return "\n".join(lines)


#: Lineage events in the order they are told (patscape.landscape.lineage's order).
EVENT_ORDER = ("continued", "grown", "shrank", "split", "merged", "faded", "born")


def event_counts(events: dict[str, int] | None) -> str:
    """``"22 continued, 4 grown, ..."`` of a run's lineage events by kind (empty: none)."""
    return ", ".join(f"{events[k]} {k}" for k in EVENT_ORDER if (events or {}).get(k))


def lineage_summary(info: dict[str, Any], topics: int) -> str:
    """One line: the run aligned to, how many topics kept their ids, the events by kind."""
    return (f"lineage    aligned to run {info.get('aligned_to')}: {info.get('topics_kept', 0)} of {topics} topics kept "
            f"their ids; topics {event_counts(info.get('events')) or 'unchanged'} (`patscape lineage` lists them)")
