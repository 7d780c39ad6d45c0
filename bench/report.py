"""Render the results document as a readable Markdown table (printed and saved)."""

from __future__ import annotations

from typing import Any


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join("" if v is None else str(v) for v in r) + " |")
    return out


def _f(x: Any, nd: int = 1) -> str:
    if isinstance(x, int | float):
        return f"{x:,.{nd}f}"
    return "n/a" if x is None else str(x)


def render(doc: dict[str, Any]) -> str:
    meta = doc.get("meta", {})
    lines = [
        "# Benchmark results",
        "",
        f"{meta.get('date', '')} on {meta.get('host', '')} ({meta.get('cpus', '?')} CPUs), "
        f"Python {meta.get('python', '')}, {meta.get('anvil', 'anvil ?')}, commit {meta.get('commit', '?')}"
        f"{' (dirty tree)' if meta.get('dirty') else ''}; runs per measurement: {meta.get('runs', '?')}; "
        f"load average at start {meta.get('load_start', '?')}, at end {meta.get('load_end', '?')}.",
        "",
    ]
    ref = doc.get("reference", {})
    if ref:
        any_ref = next(iter(ref.values()))
        lines += [f"## 1. Reference workload ({any_ref.get('cycles', '?')} daily cycles, 3 pools, "
                  "rebalancer at 1% tolerance, daily price shocks on every pool)", ""]
        rows = []
        for name, r in ref.items():
            if "error_section" in r:
                rows.append([name, "failed: " + r["error_section"][:80]] + [""] * 9)
                continue
            ops = r.get("operations_per_cycle", {})
            c = r.get("counts", {})
            rows.append([
                name, _f(r.get("seconds_median"), 2), _f(r.get("ms_per_cycle"), 1), _f(r.get("cycles_per_second"), 2),
                r.get("trades"),
                f"{_f(r.get('chainclient_reads_per_cycle'), 1)} / {_f(r.get('chainclient_sent_per_cycle'), 1)}",
                f"{_f(ops.get('eth_call'), 1)} / {_f(ops.get('transactions'), 1)} / {_f(ops.get('mines'), 1)}",
                _f(c.get("rpc_round_trips_per_cycle"), 1) if c.get("rpc_round_trips_per_cycle") else
                f"{_f(c.get('backend_ops_per_cycle'), 1)} (backend calls)",
                _f(c.get("backend_ms_per_cycle_total"), 1),
                "yes" if r.get("deterministic_across_runs") else "NO",
                " / ".join(_f(x, 2) for x in r.get("seconds_all", [])),
            ])
        lines += _table(["backend", "median s", "ms/cycle", "cycles/s", "trades",
                         "ChainClient reads / sent per cycle", "eth_call / tx / mine per cycle",
                         "node round trips per cycle", "ms/cycle inside the backend", "same state every run",
                         "all runs (s)"], rows)
        digests = {n: r.get("state_digest") for n, r in ref.items() if r.get("state_digest")}
        if len(digests) >= 2:
            same = len(set(digests.values())) == 1
            lines += ["", f"Final state identical on every backend (block hashes aside): {'yes' if same else 'NO'} "
                      f"({', '.join(f'{k} {v}' for k, v in digests.items())})."]
        lines += ["", "Where a cycle's time goes (ms per cycle; `world` = revert at run start, `event` = timeline "
                  "events, `tick` = runner.tick, `engine` = the rest of ScenarioRun: freeze_time, journal, "
                  "expectations):", ""]
        rows = []
        for name, r in ref.items():
            c = r.get("counts")
            if not c:
                continue
            ph = c["phase_ms_per_cycle"]
            be = c.get("backend_ms_per_cycle", {})
            rpc = c.get("rpc_ms_per_cycle_by_phase", {})
            rows.append([name] + [f"{_f(ph.get(p), 2)} ({_f(be.get(p, 0), 2)} / {_f(rpc.get(p), 2) if rpc else '-'})"
                                  for p in ("world", "event", "tick", "engine")]
                        + [_f(c.get("state_save_ms_per_cycle"), 2), _f(c.get("state_saves_per_cycle"), 2),
                           _f(c.get("state_save_mean_kb_written", c.get("state_save_mean_kb")), 1)])
        lines += _table(["backend", "world (in backend / in HTTP)", "event", "tick", "engine",
                         "state saves ms/cycle", "saves/cycle", "KB written per save"], rows)
        for name, r in ref.items():
            if r.get("final_state_kb_by_key"):
                lines += ["", f"{name}: final state by top-level key (KB of compact JSON): "
                          + ", ".join(f"{k} {v}" for k, v in list(r["final_state_kb_by_key"].items())[:6]) + "."]
                break
        freeze = doc.get("freeze_time_ms")
        if freeze is not None:
            lines += ["", f"One `freeze_time` enter+exit in this process: {_f(freeze, 2)} ms (freezegun rescans "
                      f"every loaded module on entry: paid once per entry, so once per run when the engine "
                      f"moves one frozen clock, once per instant if it re-enters)."]
        an = ref.get("anvil", {}).get("counts")
        if an and an.get("rpc_round_trips"):
            lines += ["", "anvil: HTTP round trips per cycle by JSON-RPC method (and by phase):", ""]
            rows = []
            each = an.get("rpc_ms_per_round_trip_by_method", {})
            cyc = ref["anvil"]["cycles"]
            for m, v in an["rpc_round_trips"].items():
                bp = v.get("by_phase", {})
                rows.append([m, _f(v["per_cycle"], 2), _f(bp.get("event", 0) / cyc, 2), _f(bp.get("tick", 0) / cyc, 2),
                             _f((bp.get("world", 0) + bp.get("engine", 0)) / cyc, 2),
                             _f(each.get(m), 3), _f(each.get(m, 0) * v["per_cycle"], 2)])
            rows.append(["**total**", _f(an["rpc_round_trips_per_cycle"], 2),
                         _f(an["rpc_round_trips_per_cycle_by_phase"].get("event"), 2),
                         _f(an["rpc_round_trips_per_cycle_by_phase"].get("tick"), 2),
                         _f(an["rpc_round_trips_per_cycle_by_phase"].get("world", 0)
                            + an["rpc_round_trips_per_cycle_by_phase"].get("engine", 0), 2),
                         "", _f(an.get("rpc_ms_per_cycle"), 2)])
            lines += _table(["method", "per cycle", "in events", "in tick", "other", "ms per round trip",
                             "ms per cycle"], rows)
            py = ref["anvil"]["ms_per_cycle"] - an.get("rpc_ms_per_cycle", 0)
            lines += ["", f"Of {_f(ref['anvil']['ms_per_cycle'], 1)} ms per cycle, {_f(an.get('rpc_ms_per_cycle'), 1)} ms "
                      f"are HTTP round trips to anvil (waiting included) and {_f(py, 1)} ms are Python."]
            lines += ["", "JSON-RPC batches, members: posts: " + "; ".join(
                f"{label} {sizes}" for label, sizes in an.get("batch_sizes", {}).items())]
        et = ref.get("eth-tester", {}).get("counts")
        if et and et.get("backend_ops"):
            lines += ["", "eth-tester: backend calls per cycle by method (and ms/cycle inside the backend "
                      "by phase: " + ", ".join(f"{k} {_f(v, 1)}" for k, v in et.get("backend_ms_per_cycle", {}).items())
                      + "):", ""]
            cyc = ref["eth-tester"]["cycles"]
            rows = [[m, _f(v["per_cycle"], 2), _f(v.get("by_phase", {}).get("event", 0) / cyc, 2),
                     _f(v.get("by_phase", {}).get("tick", 0) / cyc, 2)] for m, v in et["backend_ops"].items()]
            lines += _table(["method", "per cycle", "in events", "in tick"], rows)

        fl = ref.get("anvil", {}).get("floor")
        if fl:
            cyc_ms = ref["anvil"]["ms_per_cycle"]
            lines += ["", "## 2. The floor: the same node work as raw JSON-RPC on the same anvil", ""]
            rows = [
                ["reference run (runner + harness)", _f(ref["anvil"]["counts"]["rpc_round_trips_per_cycle"], 1),
                 _f(cyc_ms, 2), "1.0"],
                ["requests floor (the run's exact round trips, pre-encoded)",
                 _f(fl["requests_floor_requests_per_cycle"], 1), _f(fl["requests_floor_ms_per_cycle"], 2),
                 _f(cyc_ms / fl["requests_floor_ms_per_cycle"], 2)],
                ["ops floor (eth_calls + sendRawTransactions + evm_mines, one request each)",
                 _f(fl["ops_floor_requests_per_cycle"], 1), _f(fl["ops_floor_ms_per_cycle"], 2),
                 _f(cyc_ms / fl["ops_floor_ms_per_cycle"], 2)],
            ]
            lines += _table(["", "requests/cycle", "ms/cycle", "cycle time / this"], rows)
            lines += ["", f"**Overhead ratio = cycle time / floor time = {cyc_ms / fl['ops_floor_ms_per_cycle']:.2f}** "
                      f"(against the ops floor; {cyc_ms / fl['requests_floor_ms_per_cycle']:.2f} against the "
                      f"requests floor). Operations per cycle: {ref['anvil']['operations_per_cycle']}. "
                      f"Error replies during the floor: {fl['error_replies']}.",
                      "", "Single-operation costs on this node now (median ms): "
                      + ", ".join(f"{k} {v}" for k, v in fl["unit_costs_ms"].items()) + "."]
    setup = doc.get("reference", {})
    if setup:
        lines += ["", "## 3. World set-up (ChainPool.world)", ""]
        rows = [[n, _f(r.get("node_start_s", 0) * 1000, 1) if "node_start_s" in r else "n/a",
                 _f(r.get("world_first_s", 0) * 1000, 1), _f(r.get("world_again_s", 0) * 1000, 2)]
                for n, r in setup.items() if "world_first_s" in r]
        lines += _table(["backend", "start chain/node (ms)", "deploy world, first call (ms)",
                         "world again by snapshot revert (ms, median of 5)"], rows)
    suite = doc.get("suite")
    anvil = doc.get("anvil_startup")
    if suite or anvil:
        lines += ["", "## 4. Test suite and anvil start-up", ""]
        rows = [[s.get("command"), _f(s.get("seconds"), 1), s.get("exit_code"), s.get("summary") or s.get("error")]
                for s in (suite or [])]
        if rows:
            lines += _table(["command", "wall s", "exit", "summary"], rows)
        if anvil and "start_to_first_answer_ms" in anvil:
            lines += ["", f"anvil start-up (AnvilNode() to first JSON-RPC answer, median of {anvil['repeats']}): "
                      f"**{anvil['start_to_first_answer_ms']} ms** (listening after {anvil['start_to_listening_ms']} ms; "
                      f"stop {anvil['stop_ms']} ms)."]
    mining = doc.get("anvil_mining")
    fl_rows = (doc.get("reference", {}).get("anvil", {}).get("floor") or {}).get("evm_mine_by_height")
    if mining or fl_rows:
        lines += ["", "evm_mine (one transfer per block) against blocks mined, anvil 1.7.1, median ms:", ""]
        cols = {}
        if mining:
            cols.update({f"fresh node, --hardfork {k}": v for k, v in mining.items()})
        if fl_rows:
            cols["reference world node (prague), from the deployed world"] = fl_rows
        heights = sorted({r["blocks_mined"] for rows in cols.values() for r in rows})
        table_rows = []
        for h in heights:
            table_rows.append([h] + [next((_f(r["evm_mine_ms"], 2) for r in rows if r["blocks_mined"] == h), "")
                                     for rows in cols.values()])
        lines += _table(["blocks mined", *cols.keys()], table_rows)
    mem = doc.get("memory")
    if mem:
        n = mem["samples"][-1]["cycle"] if mem.get("samples") else "?"
        lines += ["", f"## 5. Memory over a {n:,}-cycle daily run on {mem.get('backend', 'eth-tester')} (one pool, rebalancer; "
                  "child process)" if isinstance(n, int) else "## 5. Memory (child process)", ""]
        if "error" in mem and not mem.get("samples"):
            lines.append(f"failed: {mem['error'][:500]}")
        else:
            rows = []
            for s in mem.get("samples", []):
                ch = s.get("chain", {})
                rows.append([s["cycle"], _f(s["elapsed_s"], 1), _f(s["rss_mb"], 1), _f(s["peak_rss_mb"], 1),
                             f"{s['gc_objects']:,}", _f(s.get("state_in_memory_mb"), 1), _f(s["state_json_kb"], 1),
                             _f(s.get("state_on_disk_kb"), 1),
                             _f(ch.get("pyevm_db_mb"), 1), ch.get("receipts"),
                             _f(mem.get("in_run_save_ms_per_cycle", {}).get(str(s["cycle"])), 2),
                             _f(s.get("in_run_save_ms"), 2), _f(s.get("encode_whole_state_ms"), 2),
                             _f(s.get("first_save_no_fsync_ms"), 2), _f(s.get("repeat_save_no_fsync_ms"), 2),
                             _f(s.get("repeat_save_fsync_ms"), 2)])
            lines += _table(["cycle", "elapsed s", "RSS MB", "peak RSS MB", "Python objects", "state in memory MB",
                             "state JSON KB",
                             "on disk KB", "py-evm DB MB", "receipts held", "saves in that cycle (ms)",
                             "one in-run save (ms)", "encode whole state (ms)", "save into a new store (ms)",
                             "repeat save (ms)", "repeat save, fsync (ms)"], rows)
            g = mem.get("growth")
            lines += ["", f"Run: {_f(mem.get('run_seconds'), 1)} s for the run, peak RSS {mem.get('peak_rss_mb')} MB "
                      f"({mem.get('vmhwm_with_probes_mb', '?')} MB counting the bench's own probes at the samples), "
                      f"RSS at the end {mem.get('rss_end_mb')} MB (after the probes), "
                      f"final state on disk {mem.get('final_state_on_disk_kb')} KB, RSS before the run "
                      f"{mem.get('rss_before_run_mb')} MB, the run's journal in memory {mem.get('journal_in_memory_mb')} MB, "
                      f"error={mem.get('error')}."]
            if g:
                lines += [f"Growth from cycle {mem['samples'][0]['cycle']} to {mem['samples'][-1]['cycle']}: "
                          f"RSS +{g['rss_mb']} MB ({g['rss_kb_per_cycle']} KB/cycle) against the state in memory "
                          f"+{g.get('state_in_memory_mb')} MB ({g.get('state_in_memory_kb_per_cycle')} KB/cycle; its JSON "
                          f"+{g['state_json_kb_per_cycle']} KB/cycle) and py-evm DB +{g['pyevm_db_mb']} MB; "
                          f"the in-run save costs {g['in_run_save_ratio']}x at the last sample what it cost at the "
                          f"first (a save of the whole history into a new store: {g['first_save_ratio']}x)."]
            if mem.get("final_state_kb_by_key"):
                lines += ["Final state by top-level key (KB of compact JSON): "
                          + ", ".join(f"{k} {v}" for k, v in list(mem["final_state_kb_by_key"].items())[:6]) + "."]
            w = mem.get("ms_per_cycle_windows", {})
            if w:
                lines += ["Cycle time by window (ms/cycle): " + ", ".join(f"{k}: {_f(v, 1)}" for k, v in w.items()) + "."]
    imp = doc.get("imports")
    if imp:
        lines += ["", "## 6. Import and CLI start-up (subprocess wall time, median of 5)", ""]
        rows = [[k, _f(v["ms"], 1)] for k, v in imp.items() if isinstance(v, dict) and "ms" in v]
        lines += _table(["command", "ms"], rows)
        pk = imp.get("import_self_ms_by_package_harness.engine")
        if pk:
            lines += ["", "`import harness.engine`, self import time by package: "
                      + ", ".join(f"{p['package']} {p['self_ms']} ms" for p in pk[:8]) + "."]
    from bench.revm import render as render_revm

    lines += render_revm(doc)
    from bench.wire import render as render_wire

    lines += render_wire(doc.get("wire"))
    from bench.kill import render as render_kill

    lines += render_kill(doc.get("kill"))
    errs = doc.get("errors")
    if errs:
        lines += ["", "## Sections that failed", ""] + [f"- {k}: {v}" for k, v in errs.items()]
    return "\n".join(lines) + "\n"
