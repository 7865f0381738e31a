"""`skewless serve`: the HTTP feature server (`skewless.server`) on uvicorn."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from skewless.cli import CliContext, common_options, pass_context
from skewless.errors import SkewlessError


def _stack() -> tuple[str, str]:
    """uvicorn's (loop, http) choices: uvloop and httptools when installed (`skewless[server]`)."""
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    return loop, http


@click.command()
@click.option(
    "--host",
    envvar="SKEWLESS_SERVER_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (0.0.0.0: every one) [env SKEWLESS_SERVER_HOST].",
)
@click.option(
    "--port",
    envvar="SKEWLESS_SERVER_PORT",
    type=click.IntRange(0, 65535),
    default=6566,
    show_default=True,
    help="TCP port [env SKEWLESS_SERVER_PORT].",
)
@click.option(
    "--workers",
    envvar="SKEWLESS_SERVER_WORKERS",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Worker processes sharing the port; each is a process with its own store, Redis "
    "connections, manifest watcher and metrics [env SKEWLESS_SERVER_WORKERS].",
)
@click.option(
    "--ssl-keyfile",
    envvar="SKEWLESS_SERVER_SSL_KEYFILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TLS private key (PEM); with --ssl-certfile the server speaks HTTPS only.",
)
@click.option(
    "--ssl-certfile",
    envvar="SKEWLESS_SERVER_SSL_CERTFILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TLS certificate chain (PEM).",
)
@click.option(
    "--log-level",
    envvar="SKEWLESS_SERVER_LOG_LEVEL",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="Log level of the server and uvicorn.",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (method, path, status; never headers or bodies).",
)
@click.option(
    "--reload-interval",
    envvar="SKEWLESS_SERVER_RELOAD_INTERVAL",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Seconds between checks of manifest.json for new definitions (0: never reload).",
)
@click.option(
    "--max-body-bytes",
    envvar="SKEWLESS_SERVER_MAX_BODY_BYTES",
    type=click.IntRange(1),
    default=4 * 1024 * 1024,
    show_default=True,
    help="Largest request body; larger ones get 413.",
)
@click.option(
    "--duckdb-path",
    envvar="SKEWLESS_DUCKDB_PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The DuckDB file dbt built, read by /explain [env SKEWLESS_DUCKDB_PATH; default: the "
    "dbt profile's target].",
)
@click.option(
    "--profiles-dir",
    envvar="SKEWLESS_PROFILES_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where profiles.yml is, for /explain (default: as dbt looks).",
)
@click.option(
    "--dbt-target",
    envvar="DBT_TARGET",
    help="The profile target /explain reads offline values from [env DBT_TARGET].",
)
@common_options
@pass_context
def serve(
    obj: CliContext,
    host: str,
    port: int,
    workers: int,
    ssl_keyfile: Path | None,
    ssl_certfile: Path | None,
    log_level: str,
    access_log: bool,
    reload_interval: float,
    max_body_bytes: int,
    duckdb_path: Path | None,
    profiles_dir: Path | None,
    dbt_target: str | None,
) -> None:
    """Serve feature values over HTTP (POST /get-online-features), with /features, /explain,
    /livez, /readyz, /metrics and /openapi.json.

    Definitions reload when target/manifest.json changes (the old ones serve until the new
    ones are loaded; a manifest that fails to load is reported by /readyz). Set
    SKEWLESS_SERVER_TOKEN to require `Authorization: Bearer <token>` on every route but /livez
    and /readyz. Give --ssl-keyfile and --ssl-certfile to serve HTTPS. docs/server.md has the
    request and response shapes.

    \b
    Example:
      export SKEWLESS_PROJECT_DIR=examples/payments SKEWLESS_REDIS_URL=redis://localhost:6379/0
      skewless serve --port 6566 --workers 2
      skewless --project-dir examples/payments serve --host 0.0.0.0 --ssl-keyfile key.pem --ssl-certfile cert.pem
    """
    try:
        import uvicorn
    except ImportError:
        raise SkewlessError(
            "skewless serve needs the server extra: pip install 'skewless[server]'"
        ) from None
    from skewless.server.app import FeatureServer
    from skewless.server.config import TOKEN_ENV, ServerConfig
    from skewless.server.reload import load

    if bool(ssl_keyfile) != bool(ssl_certfile):
        raise click.BadParameter(
            "give both --ssl-keyfile and --ssl-certfile, or neither", param_hint="--ssl-certfile"
        )
    config = ServerConfig(
        project_dir=obj.project_dir,
        target_path=obj.target_path,
        redis_url=obj.url,
        strict=obj.strict,
        token=os.environ.get(TOKEN_ENV) or None,
        max_body_bytes=max_body_bytes,
        reload_interval=reload_interval,
        duckdb_path=duckdb_path,
        profiles_dir=profiles_dir,
        dbt_target=dbt_target,
    )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    loop, http = _stack()
    options = {
        "host": host,
        "port": port,
        "loop": loop,
        "http": http,
        "log_level": log_level,
        "access_log": access_log,
        "lifespan": "on",
        "server_header": False,
        # the app never reads the client address; only the access log shows it (then as
        # X-Forwarded-For says, from the trusted proxies uvicorn's --forwarded-allow-ips names).
        # Off, uvicorn skips its proxy-headers middleware on every request.
        "proxy_headers": access_log,
        "ssl_keyfile": str(ssl_keyfile) if ssl_keyfile else None,
        "ssl_certfile": str(ssl_certfile) if ssl_certfile else None,
    }
    # the definitions and Redis are checked here, so a bad start fails with one line
    loaded = load(config)
    if workers == 1:
        uvicorn.run(FeatureServer(config, loaded), **options)  # type: ignore[arg-type]
        return
    loaded.store.sync.close()
    # each worker process builds its own app from the same settings, passed as SKEWLESS_*
    os.environ.update(
        {
            "SKEWLESS_PROJECT_DIR": str(config.project_dir),
            "SKEWLESS_TARGET_PATH": config.target_path,
            "SKEWLESS_REDIS_URL": config.redis_url,
            "SKEWLESS_STRICT": "1" if config.strict else "",
            "SKEWLESS_SERVER_MAX_BODY_BYTES": str(max_body_bytes),
            "SKEWLESS_SERVER_RELOAD_INTERVAL": str(reload_interval),
        }
    )
    for name, value in (
        ("SKEWLESS_DUCKDB_PATH", duckdb_path),
        ("SKEWLESS_PROFILES_DIR", profiles_dir),
        ("DBT_TARGET", dbt_target),
    ):
        if value is not None:
            os.environ[name] = str(value)
    uvicorn.run(
        "skewless.server.app:app_from_env",
        factory=True,
        workers=workers,
        **options,  # type: ignore[arg-type]
    )
