"""`bdp datasets`: every dataset bdp knows, built in or declared in `bdp.toml`, and its schema."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bdp.cli.app import state
from bdp.cli.options import JsonOption
from bdp.cli.output import console, print_json, table

__all__ = ["register"]

datasets_app = typer.Typer(
    help="The datasets: built-in ones and those declared in bdp.toml by a JSON Schema."
)


@datasets_app.callback(invoke_without_command=True)
def list_datasets(ctx: typer.Context, json: JsonOption = False) -> None:
    """List every dataset: origin, event time field, key and fields."""
    if ctx.invoked_subcommand is not None:
        return
    from bdp.datasets import load_datasets

    rows = [_summary(dataset) for dataset in load_datasets(state(ctx).settings).values()]
    if json:
        print_json(rows)
        return
    console.print(
        table(
            "Datasets",
            ["name", "origin", "event time", "key", "fields"],
            [
                (r["name"], r["origin"], r["event_time"], r["key"], _paths(r["fields"]))
                for r in rows
            ],
        )
    )


@datasets_app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    json: JsonOption = False,
) -> None:
    """Print the dataset's JSON Schema (for a built-in one, generated from its code)."""
    from bdp.datasets import get_dataset

    dataset = get_dataset(name, state(ctx).settings)
    print_json(_schema(dataset))


def _summary(dataset: Any) -> dict[str, Any]:
    if dataset.declared:
        fields = [
            {"path": leaf.path, "type": leaf.sql_type, "required": leaf.required}
            for leaf in dataset.leaves
        ]
    else:
        fields = [{"path": key} for key in dataset.keys]
    return {
        "name": dataset.name,
        "origin": str(dataset.schema_file) if dataset.schema_file else "built-in",
        "event_time": dataset.event_time_field,
        "key": dataset.key_field,
        "id_field": dataset.id_field,
        "description": dataset.description,
        "fields": fields,
    }


def _schema(dataset: Any) -> dict[str, Any]:
    if dataset.schema_document is not None:
        document: dict[str, Any] = dataset.schema_document
        return document
    import msgspec

    generated: dict[str, Any] = msgspec.json.schema(dataset.raw_type)
    return generated


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")


def _paths(fields: list[dict[str, Any]]) -> str:
    return ", ".join(field["path"] for field in fields)
