"""`python -m bench`: Régie's fan-out and API read speed against bare baselines, in one run.

For each N it starts the servers itself, opens N viewer WebSockets from a few load processes,
presses through the control API, and records for every viewer the time from the press to the
message's arrival; then does the same with a bare `websockets.broadcast()` server and a message
of the same size. See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis

from bench import httpload, plots, questions
from bench.clients import Target, raise_fd_limit
from bench.load import Load
from bench.servers import SECRET_KEY, SLUG, Moderator, Server, Workspace, workspace

RESULTS = Path(__file__).parent / "results"
REDIS_URL = "redis://127.0.0.1:6379/0"
STORM_TIMEOUT = 150.0
"""How long the bench waits for every viewer to be back after a restart (the target is 15 s)."""


@dataclass(frozen=True)
class Fanout:
    target: str
    requested: int
    connected: int
    setup_per_second: float
    latencies: list[float]
    """Press (just before the HTTP request, or the baseline's trigger) → arrival, every viewer."""
    fanout: list[float]
    """Publish (the live state's `server_time`, set after the commit) → arrival, every viewer."""
    lost: int
    rss_per_viewer: float
    message_size: int

    def percentile(self, fraction: float, *, fanout: bool = False) -> float:
        ordered = sorted(self.fanout if fanout else self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds == seconds else "—"


# --- Fan-out runs -------------------------------------------------------------------------------


def connect(load: Load, server: Server, target: Target, count: int) -> tuple[int, float, int, int]:
    """Connect `count` viewers; returns (connected, setup rate, RSS growth per viewer, message size)."""
    time.sleep(0.5)
    before = server.rss()
    connected, seconds, size, failures = load.connect(target, count)
    if failures:
        print(f"    {count - connected} connections failed, e.g. {failures[0]}", file=sys.stderr)
    time.sleep(1.0)  # idle: what a viewer costs between changes
    growth = (server.rss() - before) / max(connected, 1)
    return connected, connected / seconds if seconds else 0.0, int(growth), size


def run_regie(space: Workspace, load: Load, count: int, presses: int, *, html: bool) -> Fanout:
    api = space.start_api()
    web = space.start_web(api) if html else None
    try:
        moderator = Moderator(api)
        if web is not None:
            target = Target("127.0.0.1", web.port, f"/events/{SLUG}/ws", "html", origin=web.url)
            server = web
        else:
            target = Target("127.0.0.1", api.port, f"/api/v1/events/{SLUG}/live/ws", "json")
            server = api
        connected, rate, per_viewer, size = connect(load, server, target, count)
        latencies: list[float] = []
        fanout: list[float] = []
        lost = 0
        for _ in range(presses):
            version, at = moderator.press()
            times, missing, published = load.wait(version, timeout=30)
            latencies.extend(arrival - at for arrival in times)
            if published is not None:
                fanout.extend(arrival - published for arrival in times)
            lost += missing
            time.sleep(0.5)
        moderator.close()
        load.close()
        name = "Régie frontend, HTML WS (`regie web`)" if html else "Régie backend, JSON WS (`regie api`)"
        return Fanout(name, count, connected, rate, latencies, fanout, lost, per_viewer, size)
    finally:
        if web is not None:
            space.stop(web)
        space.stop(api)


def _presses(
    load: Load, moderator: Moderator, count: int, gap: float
) -> tuple[list[float], list[float], int]:
    """Press → viewer latencies, the fan-out part of them (from the state's `server_time`), lost."""
    latencies: list[float] = []
    fanout: list[float] = []
    lost = 0
    for _ in range(count):
        version, at = moderator.press()
        times, missing, published = load.wait(version, timeout=30)
        latencies.extend(arrival - at for arrival in times)
        if published is not None:
            fanout.extend(arrival - published for arrival in times)
        lost += missing
        time.sleep(max(0.0, gap - (time.time() - at)))
    return latencies, fanout, lost


def run_questions(
    space: Workspace, load: Load, count: int, presses: int, seconds: float, *, html: bool
) -> tuple[Fanout, Fanout, questions.LoadReport]:
    """Presses on a quiet show, then the same number spread over `seconds` of question load."""
    api = space.start_api()
    web = space.start_web(api) if html else None
    try:
        moderator = Moderator(api)
        if web is not None:
            target = Target("127.0.0.1", web.port, f"/events/{SLUG}/ws", "html", origin=web.url)
        else:
            target = Target("127.0.0.1", api.port, f"/api/v1/events/{SLUG}/live/ws", "json")
        connected, rate, per_viewer, size = connect(load, web or api, target, count)
        kind = "HTML WS" if html else "JSON WS"
        quiet_latencies, quiet_fanout, quiet_lost = _presses(load, moderator, presses, 0.5)
        token = str(moderator.client.headers["Authorization"]).split()[1]
        under = max(presses, int(seconds / 4))
        asking = questions.QuestionLoad(api.url, SLUG, token, SECRET_KEY, seconds)
        loaded_latencies, loaded_fanout, loaded_lost = _presses(load, moderator, under, seconds / (under + 1))
        report = asking.report()
        moderator.close()
        load.close()
        quiet = Fanout(f"{kind}, no questions", count, connected, rate, quiet_latencies, quiet_fanout,
                       quiet_lost, per_viewer, size)  # fmt: skip
        loaded = Fanout(f"{kind}, under questions", count, connected, rate, loaded_latencies, loaded_fanout,
                        loaded_lost, per_viewer, size)  # fmt: skip
        return quiet, loaded, report
    finally:
        if web is not None:
            space.stop(web)
        space.stop(api)


def questions_table(rows: list[tuple[Fanout, Fanout, questions.LoadReport]]) -> list[str]:
    lines = [
        "| viewers | socket | p99 quiet | p99 under questions | **ratio** (target ≤ 1.10) "
        "| of which fan-out, quiet → under questions "
        "| questions asked / approved | votes | refused | errors | lost |",
        "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for quiet, loaded, report in rows:
        ratio = loaded.percentile(0.99) / quiet.percentile(0.99)
        # The rest of each latency is the press itself: HTTP, auth, the commit, the publish.
        spread = (
            f"{ms(quiet.percentile(0.99, fanout=True))} → {ms(loaded.percentile(0.99, fanout=True))}"
            if quiet.fanout and loaded.fanout
            else "—"
        )
        lines.append(
            f"| {quiet.connected:,} | {quiet.target.split(',')[0]} | {ms(quiet.percentile(0.99))} "
            f"| {ms(loaded.percentile(0.99))} | **{ratio:.2f}** | {spread} "
            f"| {report.asked} / {report.approved} "
            f"| {report.votes:,} in {report.seconds:.0f} s | {report.refused} | {report.errors} "
            f"| {quiet.lost + loaded.lost} |"
        )
    return lines


def run_baseline(space: Workspace, load: Load, count: int, presses: int, size: int) -> Fanout:
    server = space.start_baseline()
    try:
        target = Target("127.0.0.1", server.port, "/", "json")
        connected, rate, per_viewer, _ = connect(load, server, target, count)
        latencies: list[float] = []
        lost = 0
        for version in range(1, presses + 1):
            assert server.process.stdin is not None
            at = time.time()
            server.process.stdin.write(f"{version} {size}\n".encode())
            server.process.stdin.flush()
            times, missing, _ = load.wait(version, timeout=30)
            latencies.extend(arrival - at for arrival in times)
            lost += missing
            time.sleep(0.5)
        load.close()
        name = "bare `websockets.broadcast()`"
        return Fanout(name, count, connected, rate, latencies, latencies, lost, per_viewer, size)
    finally:
        space.stop(server)


def run_redis(space: Workspace, load: Load, per_backend: int, presses: int) -> tuple[float, float] | None:
    """Median press → arrival on the pressed backend's viewers and on the other backend's."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError):
        return None
    a = space.start_api("api-a", REGIE_BROADCAST_URL=REDIS_URL)
    b = space.start_api("api-b", REGIE_BROADCAST_URL=REDIS_URL)
    try:
        time.sleep(1.0)  # both subscribers connected
        path = f"/api/v1/events/{SLUG}/live/ws"
        local_load, remote_load = load.split()
        local_load.connect(Target("127.0.0.1", a.port, path, "json"), per_backend)
        remote_load.connect(Target("127.0.0.1", b.port, path, "json"), per_backend)
        moderator = Moderator(a)
        local: list[float] = []
        remote: list[float] = []
        for _ in range(presses):
            version, at = moderator.press()
            local.extend(arrival - at for arrival in local_load.wait(version, timeout=30)[0])
            remote.extend(arrival - at for arrival in remote_load.wait(version, timeout=30)[0])
            time.sleep(0.3)
        moderator.close()
        load.close()
        return statistics.median(local), statistics.median(remote)
    finally:
        space.stop(a)
        space.stop(b)


@dataclass(frozen=True)
class Storm:
    """A server restarted under its viewers: when each one was back on the current state."""

    target: str
    viewers: int
    back: list[float]
    """Seconds from the restart (the old process told to stop) to each viewer's current state."""
    serving_after: float
    """Seconds from the restart until the new process answered HTTP."""
    missing: int
    server_errors: int
    attempts: int
    rss_before: int
    rss_after: int

    @property
    def last(self) -> float:
        return max(self.back, default=float("nan"))


def run_storm(space: Workspace, load: Load, count: int, *, html: bool) -> Storm:
    """Restart `regie web` (or `regie api`) under `count` viewers that reconnect as browsers do."""
    api = space.start_api()
    web = space.start_web(api) if html else None
    try:
        if web is not None:
            server = web
            target = Target("127.0.0.1", web.port, f"/events/{SLUG}/ws", "html", origin=web.url)
        else:
            server = api
            target = Target("127.0.0.1", api.port, f"/api/v1/events/{SLUG}/live/ws", "json")
        moderator = Moderator(api)
        version, _ = moderator.press()
        moderator.close()
        connected, _, _ = connect(load, server, target, count)[:3]
        load.wait(version, timeout=30)
        time.sleep(1.0)
        rss_before = server.rss()
        load.storm_arm(version)
        restarted = time.time()
        space.stop(server)
        if web is not None:
            web = server = space.start_web(api, port=server.port)
        else:
            api = server = space.start_api(port=server.port)
        serving_after = time.time() - restarted
        times, missing, errors, attempts = load.storm_wait(timeout=STORM_TIMEOUT)
        time.sleep(1.0)
        rss_after = server.rss()
        load.close()
        name = "`regie web` under HTML viewers" if html else "`regie api` under JSON viewers"
        back = sorted(at - restarted for at in times)
        return Storm(name, connected, back, serving_after, missing, errors, attempts, rss_before, rss_after)
    finally:
        if web is not None:
            space.stop(web)
        space.stop(api)


def run_two_web(space: Workspace, load: Load, per_process: int, presses: int) -> tuple[Fanout, Fanout] | None:
    """Two `regie web`, each on its own `regie api`, the two backends on Redis; presses on the
    first backend. Press → arrival for each frontend's viewers."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError):
        return None
    a = space.start_api("api-a", REGIE_BROADCAST_URL=REDIS_URL)
    b = space.start_api("api-b", REGIE_BROADCAST_URL=REDIS_URL)
    web_a = space.start_web(a, "web-a", REGIE_BROADCAST_URL=REDIS_URL)
    web_b = space.start_web(b, "web-b", REGIE_BROADCAST_URL=REDIS_URL)
    try:
        time.sleep(1.0)  # both subscribers connected
        path = f"/events/{SLUG}/ws"
        near_load, far_load = load.split()
        results = []
        setups = []
        for part, web in ((near_load, web_a), (far_load, web_b)):
            before = web.rss()
            connected, seconds, _, _ = part.connect(
                Target("127.0.0.1", web.port, path, "html", web.url), per_process
            )
            time.sleep(1.0)
            setups.append(
                (
                    connected,
                    connected / seconds if seconds else 0.0,
                    (web.rss() - before) // max(connected, 1),
                )
            )
        moderator = Moderator(a)
        near: list[float] = []
        far: list[float] = []
        lost = [0, 0]
        for _ in range(presses):
            version, at = moderator.press()
            times, missing, _ = near_load.wait(version, timeout=30)
            near.extend(arrival - at for arrival in times)
            lost[0] += missing
            times, missing, _ = far_load.wait(version, timeout=30)
            far.extend(arrival - at for arrival in times)
            lost[1] += missing
            time.sleep(0.5)
        moderator.close()
        load.close()
        for name, latencies, (connected, rate, per_viewer), missing in (
            ("`regie web` A (its backend pressed)", near, setups[0], lost[0]),
            ("`regie web` B (through Redis)", far, setups[1], lost[1]),
        ):
            results.append(Fanout(name, per_process, connected, rate, latencies, [], missing, per_viewer, 0))
        return results[0], results[1]
    finally:
        for server in (web_a, web_b, a, b):
            space.stop(server)


def run_reads(space: Workspace, seconds: float) -> list[tuple[str, float, int]]:
    api = space.start_api()
    try:
        live_size = len(httpload_get(api, f"/api/v1/events/{SLUG}/live"))
        paths = [f"/api/v1/events/{SLUG}/live", f"/api/v1/events/{SLUG}"]
        results = []
        for path in paths:
            httpload.measure(api.port, path, seconds=min(1.0, seconds))  # warm-up
            measured = httpload.measure(api.port, path, seconds=seconds)
            results.append((f"Régie `GET {path}`", measured.per_second, measured.errors))
    finally:
        space.stop(api)
    bare = space.start_bare_http(live_size)
    try:
        httpload.measure(bare.port, "/bare", seconds=min(1.0, seconds))
        measured = httpload.measure(bare.port, "/bare", seconds=seconds)
        results.append(
            (f"bare Starlette endpoint ({live_size:,} B body)", measured.per_second, measured.errors)
        )
    finally:
        space.stop(bare)
    return results


def httpload_get(server: Server, path: str) -> bytes:
    import httpx

    return httpx.get(f"{server.url}{path}", timeout=10).content


# --- Report -------------------------------------------------------------------------------------


def fanout_table(rows: list[tuple[Fanout, Fanout | None]]) -> list[str]:
    lines = [
        "| server | N | held | setup (conn/s) | p50 | p99 | max | p99 ÷ baseline "
        "| fan-out p99 | fan-out p99 ÷ baseline | RSS / idle viewer | delivered |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result, baseline in rows:
        p99, fanout_p99 = result.percentile(0.99), result.percentile(0.99, fanout=True)
        ratio = fanout_ratio = "—"
        if baseline is not None and baseline.latencies:
            ratio = f"{p99 / baseline.percentile(0.99):.2f}×"
            if result.fanout:
                fanout_ratio = f"{fanout_p99 / baseline.percentile(0.99):.2f}×"
        cells = [
            result.target,
            f"{result.requested:,}",
            f"{result.connected:,}",
            f"{result.setup_per_second:,.0f}",
            ms(result.percentile(0.5)),
            ms(p99),
            ms(max(result.latencies, default=float("nan"))),
            ratio,
            ms(fanout_p99),
            fanout_ratio,
            f"{result.rss_per_viewer / 1024:,.1f} KiB",
            f"{len(result.latencies):,} / {len(result.latencies) + result.lost:,}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def storm_table(storms: list[Storm]) -> list[str]:
    lines = [
        "| restarted | viewers | serving again after | last viewer back after | p50 back | "
        "5xx answers | attempts | not back | RSS before → after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for storm in storms:
        median = storm.back[len(storm.back) // 2] if storm.back else float("nan")
        lines.append(
            f"| {storm.target} | {storm.viewers:,} | {storm.serving_after:.1f} s | {storm.last:.1f} s | "
            f"{median:.1f} s | {storm.server_errors} | {storm.attempts:,} | {storm.missing} | "
            f"{storm.rss_before / 2**20:,.0f} → {storm.rss_after / 2**20:,.0f} MiB |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--viewers", default="1000,5000,10000", help="comma-separated N (default 1000,5000,10000)"
    )
    parser.add_argument("--presses", type=int, default=5, help="moderator presses per run (default 5)")
    parser.add_argument("--quick", action="store_true", help="N=1000 only, 1 s API reads: a smoke run")
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument("--no-frontend", action="store_true", help="skip the HTML WebSocket runs")
    parser.add_argument("--read-seconds", type=float, default=5.0, help="duration of each API read run")
    parser.add_argument(
        "--fanout-only", action="store_true", help="skip the Redis, reconnect storm and API read runs"
    )
    parser.add_argument(
        "--storm-viewers",
        type=int,
        default=0,
        help="viewers in the reconnect storm (default: largest N)",
    )
    parser.add_argument(
        "--two-web-viewers",
        type=int,
        default=0,
        help="viewers per frontend for the two-process Redis run (default: the largest N)",
    )
    parser.add_argument(
        "--questions-only", action="store_true", help="only the audience questions run (issue 12)"
    )
    parser.add_argument(
        "--questions-viewers",
        type=int,
        default=0,
        help="viewers during the audience questions run (default: the largest N)",
    )
    parser.add_argument(
        "--questions-seconds",
        type=float,
        default=60.0,
        help="seconds of question load: 5 questions and 50 votes a second (default 60; --quick 20)",
    )
    arguments = parser.parse_args(argv)
    counts = [1000] if arguments.quick else [int(n) for n in arguments.viewers.split(",") if n.strip()]
    read_seconds = 1.0 if arguments.quick else arguments.read_seconds
    presses = max(arguments.presses, 5)
    hard = raise_fd_limit()
    html = not arguments.no_frontend and _frontend_available()
    gc.disable()  # the orchestrator only waits; keep its own pauses out of the picture

    started = datetime.now(UTC)
    fanouts: list[tuple[Fanout, Fanout | None]] = []
    question_rows: list[tuple[Fanout, Fanout, questions.LoadReport]] = []
    with workspace() as space, Load(arguments.clients) as load:
        for count in [] if arguments.questions_only else counts:
            if count + 100 > hard * arguments.clients:
                print(
                    f"N={count}: beyond {hard} open files per process × {arguments.clients} clients; skipped"
                )
                continue
            print(f"N={count:,}: Régie backend …", flush=True)
            ours = run_regie(space, load, count, presses, html=False)
            print(f"N={count:,}: baseline …", flush=True)
            baseline = run_baseline(space, load, count, presses, ours.message_size)
            fanouts += [(baseline, None), (ours, baseline)]
            if html:
                print(f"N={count:,}: Régie frontend …", flush=True)
                fanouts.append((run_regie(space, load, count, presses, html=True), baseline))
            print("\n".join(fanout_table(fanouts[-3:])), flush=True)
        if arguments.questions_only or not arguments.fanout_only:
            question_n = arguments.questions_viewers or max(counts)
            question_seconds = 20.0 if arguments.quick else arguments.questions_seconds
            for question_html in (False, True) if html else (False,):
                print(
                    f"Questions: {question_n:,} viewers, {question_seconds:.0f} s of questions and votes, "
                    f"{'web' if question_html else 'api'} …",
                    flush=True,
                )
                question_rows.append(
                    run_questions(space, load, question_n, presses, question_seconds, html=question_html)
                )
                print("\n".join(questions_table(question_rows[-1:])), flush=True)
        redis_medians: tuple[float, float] | None = None
        reads: list[tuple[str, float, int]] = []
        storms: list[Storm] = []
        two_web: tuple[Fanout, Fanout] | None = None
        if not arguments.fanout_only and not arguments.questions_only:
            storm_n = arguments.storm_viewers or max(counts)
            for storm_html in (False, True) if html else (False,):
                print(f"Reconnect storm, {storm_n:,} viewers, {'web' if storm_html else 'api'} …", flush=True)
                storms.append(run_storm(space, load, storm_n, html=storm_html))
                print("\n".join(storm_table(storms[-1:])), flush=True)
            if html:
                two_n = arguments.two_web_viewers or max(counts)
                print(f"Two frontends on Redis, {two_n:,} viewers each …", flush=True)
                two_web = run_two_web(space, load, two_n, presses)
            print("Redis fan-out across two backends …", flush=True)
            redis_medians = run_redis(space, load, 500, presses)
            print("API reads …", flush=True)
            reads = run_reads(space, read_seconds)

    lines = [
        f"# Régie benchmark — {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"`{' '.join(['python -m bench', *(argv if argv is not None else sys.argv[1:])])}` on "
        f"{_machine()}; {presses} presses per run; load from {arguments.clients} client processes "
        "on the same machine.",
        "",
        *(["## Fan-out: press → every viewer", "", *fanout_table(fanouts), ""] if fanouts else []),
    ]
    if question_rows:
        lines += [
            "## Audience questions during the show: press → every viewer, quiet and under questions",
            "",
            *questions_table(question_rows),
            "",
        ]
    figures = plots.draw(RESULTS, fanouts, storms) if fanouts else []
    if figures:
        lines += ["", *(f"![{name}]({name})" for name in figures), ""]
    if storms:
        lines += [
            "## Reconnect storm: the server restarted under its viewers",
            "",
            *storm_table(storms),
            "",
        ]
    if two_web is not None:
        near, far = two_web
        lines += [
            "## Two frontends on Redis (two backends, presses on the first)",
            "",
            *fanout_table([(near, None), (far, None)]),
            "",
            f"Added by Redis (and the second backend): median "
            f"{(far.percentile(0.5) - near.percentile(0.5)) * 1000:.1f} ms, p99 "
            f"{(far.percentile(0.99) - near.percentile(0.99)) * 1000:.1f} ms.",
            "",
        ]
    elif html and not arguments.fanout_only and not arguments.questions_only:
        lines += ["Two frontends on Redis: not measured (Redis not reachable at " + REDIS_URL + ")", ""]
    if not arguments.fanout_only and not arguments.questions_only:
        lines += ["## Redis fan-out across two backend processes (500 viewers each)", ""]
        if redis_medians is None:
            lines.append("Not measured: Redis is not reachable at " + REDIS_URL)
        else:
            local, remote = redis_medians
            lines += [
                "| viewers of | median press → arrival |",
                "|---|---:|",
                f"| the backend pressed | {ms(local)} |",
                f"| the other backend (through Redis) | {ms(remote)} |",
                f"| **added by Redis** | **{(remote - local) * 1000:.1f} ms** |",
            ]
        bare_rate = reads[-1][1]
        lines += [
            "",
            f"## JSON API reads ({read_seconds:.0f} s each, 2 × 16 keep-alive connections)",
            "",
            "| endpoint | requests/s | ÷ bare | errors |",
            "|---|---:|---:|---:|",
            *(
                f"| {name} | {rate:,.0f} | {rate / bare_rate:.2f} | {errors} |"
                for name, rate, errors in reads
            ),
        ]
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    RESULTS.mkdir(exist_ok=True)
    # A partial run keeps its own file: it must not replace the figures of the whole run.
    name = "questions.md" if arguments.questions_only else "latest.md"
    (RESULTS / name).write_text(report, encoding="utf-8")
    print(f"written to {RESULTS / name}")
    return 0


def _frontend_available() -> bool:
    try:
        import frontend.main  # noqa: F401
    except ImportError:
        print("the frontend is not installed: HTML WebSocket runs skipped", file=sys.stderr)
        return False
    return True


def _machine() -> str:
    import os
    import platform

    return f"{os.cpu_count()} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    sys.exit(main())
