"""``deepad registry ...``: push bundles as named versions, list, promote, roll back, and
print model cards, from the command line (see :mod:`deepad.registry`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REGISTRY_HELP = (
    "registry folder (SQLite) or database URL (sqlite:///..., postgresql://...); default: "
    "$DEEPAD_REGISTRY, else ~/.deepad/registry"
)


def _open(args: argparse.Namespace) -> Any:
    from deepad.registry import open_registry

    return open_registry(args.registry)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain aligned columns; None prints as '-'."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _when(moment: Any) -> str:
    text = moment if isinstance(moment, str) else moment.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def cmd_push(args: argparse.Namespace) -> None:
    """``deepad registry push BUNDLE --name NAME``."""
    with _open(args) as reg:
        v = reg.push(args.bundle, args.name, by=args.by, note=args.note, parent=args.parent)
    parent = f"parent v{v.parent}" if v.parent is not None else "first version"
    print(f"pushed {v.name} v{v.version} ({v.detector}, {v.modality}; {parent}) to {v.path}")
    print(f"weights sha256 {v.weights_sha256}; training data {v.training['fingerprint']}")
    print(f"stage: {v.stage} (make it production: deepad registry promote {v.name} {v.version})")


def cmd_list(args: argparse.Namespace) -> None:
    """``deepad registry list [NAME]``: the models, or one model's versions."""
    with _open(args) as reg:
        if args.name is None:
            found = reg.models()
            if not found:
                print(f"no models in the registry {reg.url}")
                return
            rows = [
                (
                    m["name"],
                    m["latest_version"],
                    m["production_version"],
                    m["versions"],
                    m["detector"],
                    m["modality"],
                    _when(m["updated_at"]),
                )
                for m in found
            ]
            headers = ("name", "latest", "production", "versions", "detector", "modality")
            print(_table((*headers, "updated"), rows))
            return
        listed = reg.versions(args.name)
    rows = [
        (
            f"v{v.version}",
            v.stage,
            _when(v.created_at),
            v.created_by,
            None if v.parent is None else f"v{v.parent}",
            v.detector,
            v.note,
        )
        for v in listed
    ]
    print(_table(("version", "stage", "created", "by", "parent", "detector", "note"), rows))


def cmd_promote(args: argparse.Namespace) -> None:
    """``deepad registry promote NAME VERSION``."""
    with _open(args) as reg:
        before = next((m for m in reg.models() if m["name"] == args.name), {})
        v = reg.promote(args.name, args.version, by=args.by)
    previous = before.get("production_version")
    if previous == v.version:
        print(f"{v.name} v{v.version} is already production; nothing changed")
    elif previous is None:
        print(f"{v.name} v{v.version} is now production")
    else:
        print(f"{v.name} v{v.version} is now production (v{previous} archived)")


def cmd_rollback(args: argparse.Namespace) -> None:
    """``deepad registry rollback NAME``."""
    with _open(args) as reg:
        v = reg.rollback(args.name, by=args.by)
        last = reg.history(args.name)[-1]
    print(f"{v.name}: production rolled back from v{last['previous']} to v{v.version}")


def _ref(text: str) -> tuple[str, Any]:
    from deepad.registry import split_ref

    return split_ref(text)


def cmd_card(args: argparse.Namespace) -> None:
    """``deepad registry card NAME[:VERSION] [--out FILE]``."""
    name, ref = _ref(args.model)
    with _open(args) as reg:
        card = reg.card(name, ref)
    if args.out is None:
        print(card, end="")
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(card)
    print(f"model card written to {out}")


def cmd_show(args: argparse.Namespace) -> None:
    """``deepad registry show NAME[:VERSION]``: the version as JSON, lineage included."""
    name, ref = _ref(args.model)
    with _open(args) as reg:
        v = reg.version(name, ref)
        manifest = reg.manifest(name, v.version)
        by_number = {x.version: x for x in reg.versions(name)}
    ancestors, parent = [], v.parent
    while parent is not None and parent in by_number and len(ancestors) < len(by_number):
        ancestors.append(parent)
        parent = by_number[parent].parent
    shown = v.to_dict()
    shown["lineage"] = {
        "parent": v.parent,
        "ancestors": ancestors,
        "created_by": v.created_by,
        "created_at": shown["created_at"],
        "note": v.note,
        "training_fingerprint": v.training.get("fingerprint"),
        "bundle_created_at": manifest.get("created_at"),
        "deepad_version": manifest.get("deepad_version"),
        "bundle": manifest.get("lineage") or {},
    }
    print(json.dumps(shown, indent=2))


def cmd_history(args: argparse.Namespace) -> None:
    """``deepad registry history NAME``: promotions and rollbacks, oldest first."""
    with _open(args) as reg:
        events = reg.history(args.name)
    if not events:
        print(f"{args.name} has never been promoted")
        return
    rows = [
        (
            _when(e["at"]),
            e["action"],
            f"v{e['version']}",
            None if e["previous"] is None else f"v{e['previous']}",
            e["by"],
        )
        for e in events
    ]
    print(_table(("at", "action", "version", "previous", "by"), rows))


def add_registry_command(commands: Any) -> None:
    """Register ``deepad registry SUBCOMMAND`` on the CLI's subparsers."""
    registry = commands.add_parser(
        "registry",
        help="named, versioned models: push, list, promote, rollback, card, show, history",
        description="The model registry: bundles stored as numbered versions of a name, with "
        "a production stage, promotion history and generated model cards.",
    )
    subcommands = registry.add_subparsers(dest="registry_command", required=True, metavar="SUB")

    def sub(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        parser = subcommands.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--registry", metavar="URL_OR_DIR", help=REGISTRY_HELP)
        parser.set_defaults(func=func)
        return parser

    push = sub("push", "validate a bundle and store it as the next version of NAME", cmd_push)
    push.add_argument("bundle", help="bundle directory written by `deepad fit`")
    push.add_argument("--name", required=True, help="model name (letters, digits, _ . -)")
    push.add_argument("--note", help="free text kept with the version")
    push.add_argument("--by", help="who pushes it (default: your login name)")
    push.add_argument(
        "--parent", type=int, metavar="N", help="the version it derives from (default: latest)"
    )

    listing = sub("list", "the models, or the versions of one model", cmd_list)
    listing.add_argument("name", nargs="?", help="a model name: list its versions")

    promote = sub("promote", "make VERSION the production version of NAME", cmd_promote)
    promote.add_argument("name")
    promote.add_argument("version", type=int)
    promote.add_argument("--by", help="who promotes it (default: your login name)")

    rollback = sub("rollback", "put back the previous production version of NAME", cmd_rollback)
    rollback.add_argument("name")
    rollback.add_argument("--by", help="who rolls back (default: your login name)")

    card = sub("card", "print the Markdown model card of a version", cmd_card)
    card.add_argument(
        "model", metavar="NAME[:VERSION]", help="default version: production, else latest"
    )
    card.add_argument("--out", metavar="FILE", help="write the card to FILE instead")

    show = sub("show", "a version as JSON, lineage included", cmd_show)
    show.add_argument(
        "model", metavar="NAME[:VERSION]", help="default version: production, else latest"
    )

    history = sub("history", "promotions and rollbacks of NAME", cmd_history)
    history.add_argument("name")
