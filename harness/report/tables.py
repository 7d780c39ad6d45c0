"""The report's tables as cells, shared by the Markdown, HTML and CSV renderers.

Every amount is written in its asset's own decimals (USDC always with 6 places, WETH with
18), exactly: a value with more digits than its asset has keeps them all. Columns that are
no asset's amount (prices, fractions) are written with as many places as the longest value
of the column needs, at most 18 (rounded half-even), so every cell of a column has the
same number of decimals. Code names
of the state are shown in plain words (`words`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext

from harness.audit.model import STATUS_WORDS, ChainAudit, Status
from harness.report import words
from harness.report.model import CheckTable, Report, in_units, iso, plain
from harness.report.words import word

SHORT_HASH = 10  # characters of a hash kept on each side in the HTML and Markdown


@dataclass(frozen=True)
class Link:
    """A cell that points at a row elsewhere in the report (an anchor id)."""

    text: str
    anchor: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Hash:
    """A transaction hash or event key: shortened on screen, whole in CSV and title."""

    full: str

    def __str__(self) -> str:
        return self.full

    @property
    def short(self) -> str:
        head, sep, tail = self.full.partition(":")
        if len(head) > 2 * SHORT_HASH + 1:
            head = f"{head[:SHORT_HASH]}…{head[-4:]}"
        return head + sep + tail


Cell = str | Link | Hash


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    numeric: set[int] = field(default_factory=set)
    ids: list[str] | None = None  # an anchor per row
    classes: list[str] | None = None  # a CSS class per row (problem, warning, ...)
    name: str = ""  # the CSV file it is also written to (without .csv)


def text(cell: Cell) -> str:
    return str(cell)


DERIVED_PLACES = 18  # prices and fractions (quotients the runner computed) are written with at most this many


def same_places(table: Table, columns: set[int], cap: int | None = DERIVED_PLACES) -> Table:
    """Write every value of `columns` with the same number of decimals: as many as the
    longest of its column needs, at most DERIVED_PLACES (these columns hold prices and
    fractions, quotients with up to 28 digits; report.json keeps them whole)."""
    for col in columns:
        values: list[tuple[int, Decimal]] = []
        for n, row in enumerate(table.rows):
            cell = row[col]
            if not isinstance(cell, str) or not cell:
                continue
            try:
                values.append((n, Decimal(cell)))
            except InvalidOperation:
                continue
        if not values:
            continue
        # A zero's exponent says nothing about the column (0E-46 is a computed zero).
        places = max((max(0, -int(d.as_tuple().exponent)) for _, d in values if d.is_finite() and d != 0), default=0)
        if cap is not None:
            places = min(places, cap)
        unit = Decimal(1).scaleb(-places)
        with localcontext(Context(prec=200)):
            for n, d in values:
                table.rows[n][col] = f"{d.quantize(unit, rounding=ROUND_HALF_EVEN):f}"
    return table


class Fmt:
    """Amounts in their asset's decimals (when the report knows them)."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def amount(self, asset: str, d: Decimal | None) -> str:
        if d is None:
            return ""
        places = self.report.decimals(asset)
        return in_units(d, places) if places is not None else plain(d)

    def reserve(self, d: Decimal | None) -> str:
        return "" if d is None else in_units(d, self.report.reserve_decimals)


def _id(v: int | None) -> str:
    return "" if v is None else f"#{v}"


def _trade_link(v: int | None) -> Cell:
    return "" if v is None else Link(f"#{v}", f"trade-{v}")


def facts(report: Report) -> list[tuple[str, str]]:
    out = [("Source", "scenario run" if report.source == "run" else "state file only (no journal, no expectations)")]
    if report.fingerprint:
        out.append(("Fingerprint", report.fingerprint))
    out.append(("Reserve asset", f"{report.reserve_asset} ({report.reserve_decimals} decimals)"))
    out.append(("Cycles", str(report.cycles)))
    out.append(("State created", iso(report.created_at)))
    out.append(("State last updated", iso(report.last_updated_at) or "never"))
    if report.audit is not None:
        a = report.audit
        out.append(("Chain audited", f"blocks {a.first_block}-{a.last_block} of vault {a.vault}"))
    else:
        out.append(("Chain audited", f"no: {report.audit_unavailable or 'unavailable'}"))
    if report.source == "run":
        out.append(("Crashes and restarts", str(report.crashes)))
        out.append(("Node errors", f"{report.node_errors} (requests retried: {report.retries})"))
        out.append(("Run error", (report.error or "none").splitlines()[0]))
    return out


# -- problems first ---------------------------------------------------------------
def summary(report: Report) -> Table:
    rows: list[list[Cell]] = []
    classes = []
    for item in report.summary:
        count = "none" if item.count == 0 else str(item.count)
        rows.append([item.label, count, item.detail, "; ".join(t for t, _ in item.links)])
        classes.append("problem" if item.problem else "warning" if item.count else "ok")
    return Table(["What", "Count", "Detail", "Rows"], rows, {1}, classes=classes, name="summary")


def timeline(report: Report) -> Table:
    return Table(
        ["#", "Time", "After start", "Kind", "What happened", "Block"],
        [[str(r.row_id), iso(r.time) if r.time else "not recorded", r.at, r.kind, r.what, r.blocks]
         for r in report.timeline],
        {0}, ids=[f"timeline-{r.row_id}" for r in report.timeline],
        classes=[r.severity if r.severity != "info" else "" for r in report.timeline], name="timeline",
    )


# -- the closing reconciliation -----------------------------------------------------
def reconciliation(report: Report) -> Table:
    rec = report.reconciliation
    f = Fmt(report)
    rows: list[list[Cell]] = [[line.label, "+" if line.sign > 0 else "-", f.reserve(line.amount)] for line in rec.lines]
    rows.append(["Sum of the lines", "=", f.reserve(rec.sum_of_lines)])
    rows.append(["Final NAV", "", f.reserve(rec.final_nav)])
    rows.append(["Residual (final NAV - sum of the lines)", "", f.reserve(rec.residual)])
    return Table(["Line", "", f"Amount ({rec.reserve_asset})"], rows, {2}, name="reconciliation")


def nav_composition(report: Report) -> Table:
    rec = report.reconciliation
    f = Fmt(report)
    return Table(
        ["Reserve cash", "Capital in flight (open positions)", "Positions value", "Final NAV"],
        [[f.reserve(rec.nav_cash), f.reserve(rec.nav_in_flight), f.reserve(rec.nav_positions), f.reserve(rec.final_nav)]],
        {0, 1, 2, 3}, name="final-nav",
    )


def residual_terms(report: Report) -> Table:
    f = Fmt(report)
    return Table(["Term", "Amount", "What it means"],
                 [[t.label, f.reserve(t.amount), t.definition] for t in report.reconciliation.residual_terms], {1},
                 name="residual-terms")


def positions(report: Report) -> Table:
    f = Fmt(report)
    headers = ["Position", "State", "Quantity", "Valuation price", "Value", "Bought", "Sold",
               "Cost basis (to the unit)", "Buy fees", "Sell fees", "Fees still in cost", "Realised (before fees)",
               "Realised as the runner booked it (after fees)", "Share still held",
               "Rebase, interest and correction tokens", "Their value", "Unrealised (before fees)"]
    rows: list[list[Cell]] = []
    for p in report.reconciliation.positions:
        bu_q = "; ".join(f"{word(words.CAUSE, c)} {f.amount(p.asset, q)}" for c, q in p.balance_update_quantity.items())
        bu_v = "; ".join(f"{word(words.CAUSE, c)} {f.reserve(v)}" for c, v in p.balance_update_value.items())
        rows.append([f"#{p.position_id} {p.pair}", word(words.POSITION_STATE, p.state), f.amount(p.asset, p.quantity),
                     plain(p.valuation_price) if p.valuation_price is not None else "",
                     f.reserve(p.value), f.reserve(p.bought), f.reserve(p.sold), f.reserve(p.cost_basis),
                     f.reserve(p.buy_fees), f.reserve(p.sell_fees), f.reserve(p.fees_unrealised),
                     f.reserve(p.realised_pnl), f.reserve(p.runner_realised_pnl), plain(p.held_fraction),
                     bu_q, bu_v, f.reserve(p.unrealised_pnl)])
    return same_places(Table(headers, rows, {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16}, name="positions"), {3, 13})


def cross_checks(report: Report) -> Table:
    return same_places(Table(
        ["Figure", "Runner", "Recomputed", "Difference", "Meaning"],
        [[c.subject, plain(c.runner), plain(c.recomputed), plain(c.difference), c.note]
         for c in report.reconciliation.cross_checks],
        {1, 2, 3}, name="cross-checks",
    ), {1, 2, 3}, cap=None)  # a drift of 1E-22 must show: exact, only padded


# -- over time ------------------------------------------------------------------------
def statistics(report: Report) -> Table:
    """Per cycle: the ledger's NAV and, after each tick, the NAV from chain reads alone."""
    f = Fmt(report)
    chain = {n.time: n for n in report.nav}
    rows: list[list[Cell]] = []
    for s in report.chart:
        n = chain.get(s.timestamp) if s.kind == "tick" else None
        rows.append([str(s.cycle), iso(s.timestamp), word(words.CYCLE_KIND, s.kind), s.status, f.reserve(s.nav),
                     f.reserve(n.chain_nav) if n else "", f.reserve(n.difference) if n else "",
                     str(n.block) if n else "", f.reserve(s.cash), f.reserve(s.positions_value)])
    return Table(
        ["Cycle", "Time", "Kind", "Status", "NAV (ledger)", "NAV (chain truth)", "Chain - ledger", "Block",
         "Cash", "Positions value"],
        rows, {0, 4, 5, 6, 7, 8, 9}, ids=[f"cycle-{s.cycle}-{s.kind}" for s in report.chart], name="cycles",
    )


# -- the chain audit --------------------------------------------------------------------
def audit_counts(audit: ChainAudit) -> Table:
    rows: list[list[Cell]] = []
    for s in Status:
        n = audit.counts.get(s.value, 0)
        unexplained = sum(1 for r in audit.rows if r.status == s and r.flagged and not r.explained_by)
        rows.append([s.value, str(n), "" if s == Status.matched else str(unexplained), STATUS_WORDS[s]])
    return Table(["Class", "Rows", "Of them unexplained", "Meaning"], rows, {1, 2}, name="audit-classes")


def audit_books(report: Report, audit: ChainAudit) -> Table:
    f = Fmt(report)
    rows: list[list[Cell]] = []
    for b in audit.books:
        rows.append([b.asset, f.amount(b.asset, b.opening), f.amount(b.asset, b.inflows), f.amount(b.asset, b.outflows),
                     f.amount(b.asset, b.closing), f.amount(b.asset, b.read_closing), f.amount(b.asset, b.ledger_closing),
                     f.amount(b.asset, b.difference), b.status.value, b.explained_by or ""])
    return Table(
        ["Asset", f"Opening (block {audit.first_block - 1})", "In", "Out", "Closing (chain books)",
         f"balanceOf at block {audit.last_block}", "Ledger holds", "Chain - ledger", "Class", "Explained by"],
        rows, {1, 2, 3, 4, 5, 6, 7}, ids=[f"audit-book-{n}" for n in range(len(rows))],
        classes=["" if b.status == Status.matched else "problem" if not b.explained_by else "warning"
                 for b in audit.books], name="audit-books",
    )


def _ledger_link(ref: str) -> Cell:
    if ref.startswith("trade #") and ref[7:].isdigit():
        return Link(ref, f"trade-{ref[7:]}")
    if ref.startswith("balance update #") and ref[16:].isdigit():
        return Link(ref, f"movement-{ref[16:]}")
    return ref


def audit_rows(report: Report, audit: ChainAudit) -> Table:
    f = Fmt(report)
    rows: list[list[Cell]] = []
    for r in audit.rows:
        where: Cell = Hash(f"{r.tx_hash}:{r.log_index}" if r.log_index is not None else r.tx_hash) if r.tx_hash else ""
        rows.append([str(r.row_id), "" if r.block is None else str(r.block), iso(r.timestamp) if r.timestamp else "",
                     r.asset, word(words.AUDIT_KIND, r.kind), where, r.chain_cause, f.amount(r.asset, r.chain_amount),
                     _ledger_link(r.ledger_ref), f.amount(r.asset, r.ledger_amount), f.amount(r.asset, r.difference),
                     r.status.value, r.explained_by or ("" if not r.flagged else "UNEXPLAINED"), r.note])
    return Table(
        ["#", "Block", "Block timestamp", "Asset", "What", "Transaction / log", "On chain", "Chain amount", "Ledger entry",
         "Ledger amount", "Chain - ledger", "Class", "Explained by", "Note"],
        rows, {0, 1, 7, 9, 10}, ids=[f"audit-{r.row_id}" for r in audit.rows],
        classes=["" if not r.flagged else "warning" if r.explained_by else "problem" for r in audit.rows],
        name="audit-rows",
    )


def audit_lines(report: Report, audit: ChainAudit) -> Table:
    f = Fmt(report)
    rows: list[list[Cell]] = []
    row_of = {i: r.row_id for r in audit.rows for i in r.chain_lines}
    lines = sorted((ln for b in audit.books for ln in b.lines), key=lambda ln: (ln.block, ln.line_id))
    for ln in lines:
        row = row_of.get(ln.line_id)
        rows.append([str(ln.line_id), str(ln.block), ln.asset, ln.cause.value, f.amount(ln.asset, ln.amount),
                     Hash(ln.tx_hash) if ln.tx_hash else "", "" if ln.log_index is None else str(ln.log_index),
                     ln.event, Hash(ln.counterparty) if ln.counterparty else "",
                     Link(f"#{row}", f"audit-{row}") if row else "", ln.note])
    return Table(["Line", "Block", "Asset", "Cause", "Amount", "Transaction", "Log", "Read from", "Counterparty",
                  "Row", "Note"], rows, {0, 1, 4, 6}, name="audit-lines")


# -- what the ledger booked -----------------------------------------------------------------
def movements(report: Report) -> Table:
    f = Fmt(report)
    return Table(
        ["Id", "Time", "Block", "Cause", "Asset", "Booked to", "Quantity", "Old balance",
         "New balance", "Reserve value", "Shares", "Owner", "Transaction / event", "Notes"],
        [[_id(m.balance_update_id), iso(m.timestamp), str(m.block_number), word(words.CAUSE, m.cause), m.asset, m.side,
          f.amount(m.asset, m.quantity), f.amount(m.asset, m.old_balance), f.amount(m.asset, m.new_balance),
          f.reserve(m.reserve_value), f.reserve(m.shares), m.owner or "", Hash(m.tx_hash or m.event_key), m.notes]
         for m in report.movements],
        {2, 6, 7, 8, 9, 10}, ids=[f"movement-{m.balance_update_id}" for m in report.movements],
        classes=["warning" if m.cause == "correction" else "" for m in report.movements], name="movements",
    )


def trades(report: Report) -> Table:
    f = Fmt(report)
    rows: list[list[Cell]] = []
    for t in report.trades:
        asset = t.pair.split("/")[0]
        link: Cell = ""
        if t.repaired_trade_id is not None:
            link = Link(f"repairs #{t.repaired_trade_id}", f"trade-{t.repaired_trade_id}")
        elif t.repaired_by_trade_id is not None:
            link = Link(f"repaired by #{t.repaired_by_trade_id}", f"trade-{t.repaired_by_trade_id}")
        rows.append([_id(t.trade_id), _id(t.position_id), t.pair, word(words.TRADE_TYPE, t.trade_type),
                     word(words.SIDE, t.side), word(words.TRADE_STATUS, t.status),
                     iso(t.opened_at), iso(t.settled_at), f.amount(asset, t.planned_quantity),
                     f.reserve(t.planned_reserve), plain(t.planned_price), f.amount(asset, t.executed_quantity),
                     f.reserve(t.executed_reserve), plain(t.executed_price) if t.executed_price is not None else "",
                     f.reserve(t.lp_fees_paid), plain(t.slippage) if t.slippage is not None else "",
                     plain(t.max_slippage), t.failure_reason or "", link,
                     Hash(t.tx_hashes[-1]) if t.tx_hashes else ""])
    table = Table(
        ["Trade", "Position", "Pair", "Type", "Side", "Status", "Opened", "Settled",
         "Planned quantity", "Planned reserve", "Planned price", "Executed quantity", "Executed reserve",
         "Executed price", "LP fees", "Slippage", "Max slippage", "Failure reason", "Repair", "Transaction"],
        rows, {8, 9, 10, 11, 12, 13, 14, 15, 16}, ids=[f"trade-{t.trade_id}" for t in report.trades],
        classes=["problem" if t.status == "failed" else "warning" if t.status == "repaired" else ""
                 for t in report.trades], name="trades",
    )
    return same_places(table, {10, 13, 15, 16})


def repairs(report: Report) -> Table:
    f = Fmt(report)
    return Table(
        ["Trade", "Pair", "Side", "Status", "Planned quantity", "Planned reserve", "Resolved at",
         "Reason", "Counter entry", "Reserve restored", "Counter note"],
        [[_trade_link(r.trade_id), r.pair, word(words.SIDE, r.side), word(words.TRADE_STATUS, r.status),
          f.amount(r.pair.split("/")[0], r.planned_quantity), f.reserve(r.planned_reserve),
          iso(r.resolved_at), r.reason, _trade_link(r.counter_trade_id), f.reserve(r.counter_reserve), r.counter_note]
         for r in report.repairs],
        {4, 5, 9}, ids=[f"repair-{r.trade_id}" for r in report.repairs], name="repairs",
    )


# -- accounting checks, identical all-ok runs folded -------------------------------------------
@dataclass
class CheckGroup:
    checks: list[CheckTable]

    @property
    def folded(self) -> bool:
        return len(self.checks) > 1


def _fold_key(c: CheckTable) -> tuple[tuple[str, Decimal], ...] | None:
    if c.outcome != "ok" or any(r.verdict != "ok" for r in c.rows):
        return None
    return tuple((r.asset, r.difference) for r in c.rows)


def check_groups(report: Report) -> list[CheckGroup]:
    """Consecutive checks that are all ok with the same differences fold into one group."""
    groups: list[CheckGroup] = []
    for c in report.checks:
        key = _fold_key(c)
        if groups and key is not None and _fold_key(groups[-1].checks[-1]) == key:
            groups[-1].checks.append(c)
        else:
            groups.append(CheckGroup([c]))
    return groups


def _span(values: list[str]) -> str:
    return values[0] if values[0] == values[-1] else f"{values[0]} to {values[-1]}"


def checks_overview(report: Report) -> Table:
    rows: list[list[Cell]] = []
    ids, classes = [], []
    for g in check_groups(report):
        cs = g.checks
        first, last = cs[0], cs[-1]
        kinds: dict[str, int] = {}
        for c in cs:
            kinds[word(words.CHECK_KIND, c.kind)] = kinds.get(word(words.CHECK_KIND, c.kind), 0) + 1
        differences = "; ".join(f"{r.asset} {plain(r.difference)} ({word(words.VERDICT, r.verdict)})"
                                for r in first.rows if r.difference != 0 or r.verdict != "ok") or "none"
        label: Cell = (f"#{first.check_id} to #{last.check_id}" if g.folded
                       else Link(f"#{first.check_id}", f"check-{first.check_id}"))
        rows.append([label, str(len(cs)), _span([iso(c.timestamp) for c in cs]),
                     ", ".join(f"{k} x{n}" if g.folded else k for k, n in kinds.items()),
                     _span([str(c.block_number) for c in cs]), word(words.POLICY, first.policy),
                     word(words.VERDICT, first.outcome), word(words.CHECK_ACTION, first.action),
                     ("all ok, " if g.folded else "") + ("every difference 0" if differences == "none" else differences)])
        ids.append(f"checks-{first.check_id}")
        classes.append("problem" if first.outcome == "mismatch" else "warning" if first.outcome == "dust" else "")
    return Table(["Check", "Count", "Time", "When", "Block", "Policy", "Outcome", "Action", "Differences"], rows,
                 {1}, ids=ids, classes=classes)


def check_heading(c: CheckTable) -> str:
    return (f"Check #{c.check_id} ({word(words.CHECK_KIND, c.kind)}), cycle {c.cycle}, {iso(c.timestamp)}, "
            f"block {c.block_number}: policy {word(words.POLICY, c.policy)}, outcome {word(words.VERDICT, c.outcome)}, "
            f"action {word(words.CHECK_ACTION, c.action)}")


def check_rows(report: Report, c: CheckTable) -> Table:
    f = Fmt(report)
    return same_places(Table(
        ["Asset", "Address", "On chain", "Ledger", "Difference", "Relative difference", "Tolerance (value)",
         "Verdict", "Action"],
        [[r.asset, Hash(r.address), f.amount(r.asset, r.on_chain), f.amount(r.asset, r.ledger),
          f.amount(r.asset, r.difference), plain(r.relative_difference), f.reserve(r.tolerance),
          word(words.VERDICT, r.verdict), r.action] for r in c.rows],
        {2, 3, 4, 5, 6}, classes=["problem" if r.verdict == "mismatch" else "warning" if r.verdict == "dust" else ""
                                  for r in c.rows],
    ), {5})


def checks_flat(report: Report) -> Table:
    """Every row of every check, unfolded (the CSV)."""
    f = Fmt(report)
    rows: list[list[Cell]] = []
    for c in report.checks:
        for r in c.rows:
            rows.append([str(c.check_id), word(words.CHECK_KIND, c.kind), str(c.cycle), iso(c.timestamp),
                         str(c.block_number), word(words.POLICY, c.policy), word(words.VERDICT, c.outcome),
                         word(words.CHECK_ACTION, c.action), r.asset, Hash(r.address), f.amount(r.asset, r.on_chain),
                         f.amount(r.asset, r.ledger), f.amount(r.asset, r.difference), plain(r.relative_difference),
                         f.reserve(r.tolerance), word(words.VERDICT, r.verdict), r.action])
    return same_places(Table(
        ["Check", "When", "Cycle", "Time", "Block", "Policy", "Outcome", "Check action", "Asset", "Address",
         "On chain", "Ledger", "Difference", "Relative difference", "Tolerance (value)", "Verdict", "Action"],
        rows, {0, 2, 4, 10, 11, 12, 13, 14}, name="checks"), {13})


# -- what the run checked ------------------------------------------------------------------
def expectations(report: Report) -> Table:
    return Table(
        ["Line", "Kind", "At", "Result", "Message"],
        [[str(e.line), e.kind.replace("_", " "), iso(e.at), "ok" if e.passed else "FAIL", e.message]
         for e in report.expectations],
        {0}, ids=[f"expectation-{e.line}" for e in report.expectations],
        classes=["" if e.passed else "problem" for e in report.expectations], name="expectations",
    )


def violations(report: Report) -> Table:
    return Table(
        ["#", "Invariant", "At", "Time", "Block", "Chain or rule says", "Ledger says", "What", "Expected by the scenario"],
        [[str(v.row_id), v.invariant.replace("-", " "), v.at, iso(v.time), str(v.block), v.expected, v.found, v.detail,
          "yes" if v.expected_by_scenario else "no"] for v in report.violations],
        {0, 4}, ids=[f"violation-{v.row_id}" for v in report.violations],
        classes=["warning" if v.expected_by_scenario else "problem" for v in report.violations], name="violations",
    )


def csv_tables(report: Report) -> list[Table]:
    """Every table of the report, in the order the CSV files are written."""
    out = [summary(report)]
    if report.source == "run":
        out.append(timeline(report))
    out += [statistics(report)]
    if report.audit is not None:
        out += [audit_counts(report.audit), audit_books(report, report.audit), audit_rows(report, report.audit),
                audit_lines(report, report.audit)]
    out += [reconciliation(report), nav_composition(report), residual_terms(report), positions(report),
            cross_checks(report), movements(report), trades(report), repairs(report), checks_flat(report)]
    if report.source == "run":
        out += [expectations(report), violations(report)]
    return out
