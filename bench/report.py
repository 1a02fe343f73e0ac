"""The benchmark's table and its verdict on Roster's performance targets."""

from __future__ import annotations


def _f(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (isinstance(value, float) and value >= 1000):
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _check(name: str, ok: bool, detail: str) -> dict:
    return {"target": name, "pass": bool(ok), "detail": detail}


def targets(r: dict) -> list[dict]:
    """Return each performance target with whether this run meets it, and the numbers."""
    small, large = r["sizes"][0], r["sizes"][-1]
    ceiling = r["ceiling"]["sequential"]["throughput_rps"]
    n1, n2 = f"{small['users']:,}", f"{large['users']:,}"
    out = []
    for key, label in (("post", "write (POST) p50"), ("lookup", "userName eq p50")):
        a, b = small[key]["p50_ms"], large[key]["p50_ms"]
        out.append(
            _check(
                f"{label} at {n2} <= 1.5 x at {n1}",
                b <= 1.5 * a,
                f"{b:.2f} ms vs {a:.2f} ms (x{b / a:.2f})",
            )
        )
    worst = min(r["sizes"], key=lambda s: s["post"]["throughput_rps"])
    ratio = worst["post"]["throughput_rps"] / ceiling
    out.append(
        _check(
            "sequential POST >= 50% of bare Flask (every size)",
            ratio >= 0.5,
            f"lowest {worst['post']['throughput_rps']:,.0f} req/s at "
            f"{worst['users']:,} = {ratio:.0%} of {ceiling:,.0f}",
        )
    )
    if "peer" in r:
        peer = r["peer"]["post"]["throughput_rps"]
        mine = small["post"]["throughput_rps"]
        out.append(
            _check(
                f"sequential POST at {n1} >= 1.5 x scim2-server (in memory, no fsync)",
                mine >= 1.5 * peer,
                f"{mine:,.0f} req/s vs {peer:,.0f} req/s (x{mine / peer:.2f}); p50 "
                f"{small['post']['p50_ms']:.2f} ms vs {r['peer']['post']['p50_ms']:.2f} ms",
            )
        )
    page = large["page"]
    out.append(
        _check(
            f"page of 100 at {n2} < 50 ms (p50)",
            page["p50_ms"] < 50,
            f"p50 {page['p50_ms']:.2f} ms, p99 {page['p99_ms']:.2f} ms",
        )
    )
    for g in (r[name] for name in ("group", "group_lean") if name in r):
        worst_ms = max(g["add"]["p50_ms"], g["remove"]["p50_ms"])
        how = g.get("query") or "the whole group in each response"
        out.append(
            _check(
                f"member add/remove on a {g['members_before']:,}-member group < 20 ms (p50), {how}",
                worst_ms < 20,
                f"add p50 {g['add']['p50_ms']:.2f} ms, remove p50 {g['remove']['p50_ms']:.2f} ms",
            )
        )
    startups = [large["startup_s"], r.get("snapshot_startup", {}).get("startup_s", 0)]
    out.append(
        _check(
            f"start-up at {n2} < 5 s",
            max(startups) < 5,
            f"journal replay {startups[0]:.2f} s, snapshot {startups[1]:.2f} s",
        )
    )
    rss = max(large.get("peak_rss_mb", 0), r.get("snapshot_startup", {}).get("peak_rss_mb", 0))
    out.append(_check(f"peak RSS at {n2} < 600 MB", rss < 600, f"{rss:.0f} MB"))
    if "mixed" in r:
        m = r["mixed"]
        errors = m["errors"] + sum(
            s[k]["errors"] for s in r["sizes"] for k in ("post", "lookup", "page")
        )
        for g in (r[name] for name in ("group", "group_lean") if name in r):
            errors += g["add"]["errors"] + g["remove"]["errors"]
        out.append(
            _check(
                "zero errors, zero lost writes (mixed load and every phase)",
                errors == 0 and m["lost_writes"] == 0,
                f"{errors} errors, {m['lost_writes']} lost writes",
            )
        )
    return out


def table(r: dict) -> str:
    """Render the results as the plain-text table the benchmark prints."""
    sizes = r["sizes"]
    seq, par = r["ceiling"]["sequential"], r["ceiling"]["parallel"]
    ceiling = seq["throughput_rps"]
    lines = [
        f"Roster benchmark - Python {r['python']}, {r['cpus']} CPUs, {r['when']}, load average "
        f"{r.get('load_average_at_start', 0):.1f} at the start, "
        f"{r.get('load_average_at_end', 0):.1f} at the end",
        f"ceiling (bare Flask 'hello' under waitress, same client, User-sized POST body): "
        f"{ceiling:,.0f} req/s sequential (p50 {seq['p50_ms']:.2f} ms), "
        f"{par['throughput_rps']:,.0f} req/s with {r['mixed']['threads'] if 'mixed' in r else 4}"
        " threads",
    ]
    if "peer" in r:
        p = r["peer"]["post"]
        lines.append(
            f"peer (scim2-server under waitress, everything in memory): POST /Users "
            f"{p['throughput_rps']:,.0f} req/s sequential (p50 {p['p50_ms']:.2f} ms, "
            f"{p['throughput_rps'] / ceiling:.2f} x ceiling)"
        )
    if "fsync" in r:
        lines.append(
            f"disk: append + fsync p50 {r['fsync']['p50_ms']:.2f} ms, "
            f"p99 {r['fsync']['p99_ms']:.2f} ms (every acknowledged write waits for one)"
        )
    lines.append("")
    head = f"{'':<34}" + "".join(f"{s['users']:>12,}" for s in sizes)
    lines += [head + "   users", "-" * len(head)]

    def row(label: str, values) -> None:
        lines.append(f"{label:<34}" + "".join(f"{v:>12}" for v in values))

    for key, title in (
        ("post", "POST /Users (sequential)"),
        ("lookup", 'GET ?filter=userName eq "..."'),
    ):
        row(title + "  req/s", [_f(s[key]["throughput_rps"]) for s in sizes])
        row("   x ceiling", [_f(s[key]["throughput_rps"] / ceiling) for s in sizes])
        row("   p50 ms", [_f(s[key]["p50_ms"]) for s in sizes])
        row("   p99 ms", [_f(s[key]["p99_ms"]) for s in sizes])
    row("GET ?startIndex=..&count=100 p50 ms", [_f(s["page"]["p50_ms"]) for s in sizes])
    row("   p99 ms", [_f(s["page"]["p99_ms"]) for s in sizes])
    row("start-up s (journal replay)", [_f(s["startup_s"]) for s in sizes])
    row("peak RSS MB (VmHWM)", [_f(s.get("peak_rss_mb"), 0) for s in sizes])
    if "snapshot_startup" in r:
        s = r["snapshot_startup"]
        lines.append(
            f"\nstart-up from a compacted snapshot at {s['users']:,} users: "
            f"{s['startup_s']:.2f} s, peak RSS {s['peak_rss_mb']:.0f} MB"
        )
    for g in (r[name] for name in ("group", "group_lean") if name in r):
        how = f"PATCH ?{g['query'].lstrip('?')}" if g.get("query") else "PATCH as IdPs send it"
        lines.append(
            f"\n{how}: one member on a {g['members_before']:,}-member group "
            f"(at {g['users']:,} users; response {g['response_bytes']:,} bytes):"
        )
        for key in ("add", "remove"):
            s = g[key]
            lines.append(
                f"   {key:<7} p50 {s['p50_ms']:7.2f} ms   p99 {s['p99_ms']:7.2f} ms   "
                f"errors {s['errors']}"
            )
        lines.append(f"   members after: {g['members_after']:,}")
    if "mixed" in r:
        m = r["mixed"]
        lines.append(
            f"\nmixed load at {m['users']:,} users: {m['requests']:,} requests from "
            f"{m['threads']} threads (GET by id, userName eq, POST, PUT, PATCH):"
        )
        lines.append(
            f"   {m['throughput_rps']:,.0f} req/s = {m['throughput_rps'] / ceiling:.2f} x "
            f"ceiling ({m['throughput_rps'] / par['throughput_rps']:.2f} x the "
            f"{m['threads']}-thread ceiling), p50 {m['p50_ms']:.2f} ms, "
            f"p99 {m['p99_ms']:.2f} ms, errors {m['errors']}, "
            f"lost writes {m['lost_writes']}"
        )
    lines.append("\ntargets:")
    for t in r["targets"]:
        lines.append(f"   {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['detail']}")
    return "\n".join(lines)
