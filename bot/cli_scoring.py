"""The ``embudo scoring`` commands: train the learned win probability and show the model in use.

Thin adapters around ``crm_core.learning.win_training``; the rule-based score and class are the policy's and
are not touched here: training also compares the policy with the same outcomes and stores the changes the
evidence supports as suggestions (``crm_core.qualification.policy_suggestions``), which an admin accepts or
rejects.
"""

from datetime import UTC, datetime

import typer

from bot.cli_crm import Format, _dump, work
from crm_core.learning.win_training import model_status, train_win_model
from crm_core.qualification import policy_suggestions
from crm_core.schemas import WinModelOut

scoring_app = typer.Typer(
    help="The learned win probability, beside the policy's rule-based score.", no_args_is_help=True
)


def _time(model: WinModelOut) -> str:
    return (
        f"window {model.window_start:%Y-%m-%d} – {model.window_end:%Y-%m-%d} "
        f"({model.won + model.lost} closed: {model.won} won, {model.lost} lost); "
        f"held out: created from {model.held_out_from:%Y-%m-%d}"
    )


def metrics_lines(model: WinModelOut) -> list[str]:
    """The model's window and how it did on the held-out leads, as the commands print them."""
    metrics = model.metrics
    lines = [
        f"win model version {model.version}, trained {model.trained_at:%Y-%m-%d %H:%M} UTC"
        + (f" by {model.trained_by}" if model.trained_by else ""),
        f"  {_time(model)}",
        f"  trained on {metrics.train_leads} leads ({metrics.train_won} won), "
        f"{metrics.features} features; tested on the newest {metrics.held_out_leads} "
        f"({metrics.held_out_won} won, {metrics.base_rate:.0%})",
        f"  AUC {metrics.auc:.3f}   Brier score {metrics.brier:.3f}   "
        f"top-decile lift {metrics.top_decile_lift:.2f}x",
        "  calibration on the held-out leads (deciles by predicted probability):",
        "    decile  leads  predicted  observed",
    ]
    lines += [
        f"    {row.decile:>6}  {row.leads:>5}  {row.predicted:>9.1%}  {row.observed:>8.1%}"
        for row in metrics.calibration
    ]
    return lines


@scoring_app.command("train")
def scoring_train(output: Format = "text") -> None:
    """Learn the win probability from the closed (won and lost) leads and store it as a new version."""
    with work() as session:  # a refusal (CannotTrain) is its sentence and exit status 1
        model = train_win_model(session)
    with work() as session:  # the model is kept whatever the comparison finds
        suggested = policy_suggestions.propose(session, datetime.now(UTC))
    if output == "json":
        typer.echo(_dump(model))
        return
    for line in metrics_lines(model):
        typer.echo(line)
    typer.echo("open leads now show win_probability and win_factors")
    typer.echo(
        f"policy changes suggested by the same outcomes: {len(suggested)}"
        + (" (embudo policy suggestions; accept or reject them there or in the console)" if suggested else "")
    )


@scoring_app.command("show")
def scoring_show(output: Format = "text") -> None:
    """The model open leads are scored by, its window and metrics; or why there is none."""
    with work() as session:
        status = model_status(session)
    if output == "json":
        typer.echo(_dump(status))
        return
    if status.model is None:
        typer.echo(status.reason)
        return
    for line in metrics_lines(status.model):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.add_typer(scoring_app, name="scoring")
