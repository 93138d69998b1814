"""`soracom-lake sandbox`: serve the local Soracom API sandbox until SIGINT/SIGTERM.

The first line on stdout is machine-parsable:
    SANDBOX READY url=http://127.0.0.1:8765 url_g=... operator_id=... auth_key_id=... auth_key=...
    email=... password=... sam_user_name=... sam_user_password=... now=... clock=fixed|live
"""

from __future__ import annotations

import argparse
import sys

from sandbox.server.settings import DEFAULT_RATE_LIMIT_PER_MINUTE, SandboxSettings

_DEFAULTS = SandboxSettings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    world = parser.add_argument_group("world (the synthetic operator)")
    world.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    world.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free port)")
    world.add_argument("--sims", type=int, default=200, help="number of SIMs (default: 200)")
    world.add_argument("--seed", type=int, default=42, help="random seed of the world (default: 42)")
    world.add_argument(
        "--now",
        default=None,
        help="fixed 'now', e.g. 2026-11-30T00:00:00Z (default: the current minute, then fixed); "
        "'live': now follows the wall clock minute by minute, so new hours, days and months arrive",
    )
    world.add_argument(
        "--coverage", choices=("jp", "g", "both"), default="jp", help="coverages served (default: jp)"
    )
    world.add_argument("--operator-id", default="OP0000000000", help="operator id (default: OP0000000000)")
    world.add_argument(
        "--soracom-query",
        action="store_true",
        help="the operator has Soracom Query (default: off, its Analysis calls answer 403)",
    )

    creds = parser.add_argument_group("credentials")
    creds.add_argument("--auth-key-id", default=_DEFAULTS.auth_key_id)
    creds.add_argument("--auth-key", default=_DEFAULTS.auth_key)
    creds.add_argument("--email", default=_DEFAULTS.email, help="root user email")
    creds.add_argument("--password", default=_DEFAULTS.password, help="root user password")
    creds.add_argument("--sam-user-name", default=_DEFAULTS.sam_user_name)
    creds.add_argument("--sam-user-password", default=_DEFAULTS.sam_user_password)

    faults = parser.add_argument_group("faults (never change the data)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="added latency per call")
    faults.add_argument("--jitter-ms", type=float, default=0.0, help="plus uniform random 0..jitter")
    faults.add_argument("--error-rate", type=float, default=0.0, help="share of calls answered 500/502/503")
    faults.add_argument(
        "--drop-rate", type=float, default=0.0, help="share of calls whose connection drops mid-body"
    )
    faults.add_argument(
        "--rate-limit-per-minute",
        type=int,
        default=DEFAULT_RATE_LIMIT_PER_MINUTE,
        help=f"calls per operator, per API, per rate window (default: {DEFAULT_RATE_LIMIT_PER_MINUTE})",
    )
    faults.add_argument(
        "--rate-limit-window-s",
        type=float,
        default=_DEFAULTS.rate_limit_window_s,
        help="length of a rate-limit window in seconds (default: Soracom's 60)",
    )
    faults.add_argument("--token-ttl", type=float, default=None, help="cap on token lifetime in seconds")
    faults.add_argument(
        "--export-delay-s", type=float, default=_DEFAULTS.export_delay_s, help="async export delay"
    )
    faults.add_argument("--fault-seed", type=int, default=_DEFAULTS.fault_seed, help="seed of the fault RNG")

    bad = parser.add_argument_group(
        "bad input (answers that break the contract; see sandbox/server/badinput.py)"
    )
    bad.add_argument(
        "--bad-input",
        default="",
        metavar="MODE",
        help="not_json, html_200, truncated, missing_fields, extra_fields, number_as_string, null_values, "
        "leading_zero_ids, harvest_huge, harvest_binary, harvest_not_json, csv_no_bom, csv_header_only, "
        "csv_tag_collision, csv_extra_columns, csv_non_utf8 (default: off)",
    )
    bad.add_argument(
        "--bad-input-operations", default="", help="comma-separated operationIds it hits (default: all)"
    )
    bad.add_argument("--bad-input-fields", default="", help="comma-separated fields for the field modes")


def _settings(args: argparse.Namespace) -> SandboxSettings:
    settings = SandboxSettings()
    settings.update(
        {
            "auth_key_id": args.auth_key_id,
            "auth_key": args.auth_key,
            "email": args.email,
            "password": args.password,
            "sam_user_name": args.sam_user_name,
            "sam_user_password": args.sam_user_password,
            "latency_ms": args.latency_ms,
            "jitter_ms": args.jitter_ms,
            "error_rate": args.error_rate,
            "drop_rate": args.drop_rate,
            "rate_limit_per_minute": args.rate_limit_per_minute,
            "rate_limit_window_s": args.rate_limit_window_s,
            "token_ttl": args.token_ttl,
            "export_delay_s": args.export_delay_s,
            "fault_seed": args.fault_seed,
            "bad_input": args.bad_input,
            "bad_input_operations": args.bad_input_operations,
            "bad_input_fields": args.bad_input_fields,
            "query_enabled": args.soracom_query,
        }
    )
    return settings


def run(args: argparse.Namespace) -> int:
    from sandbox.process import parse_coverages
    from sandbox.server import create_app
    from sandbox.server.serve import bind_socket, make_server
    from sandbox.testing import parse_clock, parse_now
    from sandbox.world import World

    try:
        settings = _settings(args)
        clock = parse_clock(args.now)
        now = clock().replace(second=0, microsecond=0) if clock else parse_now(args.now)
        coverages = parse_coverages(args.coverage)
        if args.sims < 1:
            raise ValueError(f"--sims must be at least 1, got {args.sims}")
        world = World(
            seed=args.seed, sims=args.sims, now=now, coverages=coverages, operator_id=args.operator_id
        )
        sock = bind_socket(args.host, args.port)
    except (ValueError, OSError) as error:
        print(f"soracom-lake sandbox: {error}", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    base = f"http://{shown_host}:{port}"
    fields = {"url": base}
    if "g" in coverages:
        fields["url_g"] = base + "/g"
    fields.update(
        operator_id=world.operator_id,
        auth_key_id=settings.auth_key_id,
        auth_key=settings.auth_key,
        email=settings.email,
        password=settings.password,
        sam_user_name=settings.sam_user_name,
        sam_user_password=settings.sam_user_password,
        now=world.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        clock="live" if clock else "fixed",
        coverages=",".join(coverages),
        sims=str(args.sims),
    )
    print("SANDBOX READY " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)
    print(
        f"Soracom API sandbox: {len(coverages)} coverage(s), {args.sims} SIMs, now={fields['now']}",
        flush=True,
    )
    for coverage in coverages:
        print(f"  {coverage}: {base}{'/g' if coverage == 'g' else ''}/v1", flush=True)
    print("  admin: /_sandbox/settings, /_sandbox/stats   (Ctrl+C to stop)", flush=True)
    server = make_server(create_app(world, settings, clock))
    server.run(sockets=[sock])
    return 0
