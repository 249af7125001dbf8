"""CLI commands of the service: serve, keys, audit. ``nlp-guard`` loads this module only when one of
them is run or listed (``nlp_guard.cli.SERVICE_COMMANDS``), so the core never imports the service."""
from __future__ import annotations

import logging
import sys

import click

from importlib.util import find_spec

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "prometheus_client"):
    if find_spec(_dep) is None:  # fail when loaded, so `nlp-guard serve` explains the missing extra
        raise ModuleNotFoundError(f"No module named {_dep!r}", name=_dep)


def _settings(database_url: str | None):  # type: ignore[no-untyped-def]
    from .settings import Settings

    return Settings(database_url=database_url) if database_url else Settings()


def _sessions(database_url: str | None):  # type: ignore[no-untyped-def]
    from .db import make_engine, session_factory

    st = _settings(database_url)
    return session_factory(make_engine(st.database_url, st.sqlite_synchronous))


_db_option = click.option("--database-url", envvar="NLP_GUARD_DATABASE_URL",
                          help="SQLAlchemy URL (default: NLP_GUARD_DATABASE_URL or sqlite:///./nlp_guard.db)")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--rules-only", is_flag=True, help="Serve without the classifier (same as NLP_GUARD_RULES_ONLY=true); "
              "without it, serve refuses to start when no model is found.")
@_db_option
def serve(host: str, port: int, rules_only: bool, database_url: str | None) -> None:
    """Start the HTTP service (OpenAPI docs at /docs) with the model (NLP_GUARD_MODEL_DIR or the installed one)."""
    import uvicorn

    from nlp_guard.errors import ModelNotFoundError
    from nlp_guard.model import check_model_dir, find_model_dir

    from .main import create_app

    st = _settings(database_url)
    if rules_only:
        st = st.model_copy(update={"rules_only": True})
    if st.rules_only:
        model = "rules only, no model"
    else:
        try:
            path = find_model_dir(st.model_dir)
        except ModelNotFoundError as exc:
            raise click.ClickException(f"{exc}. Not starting: to serve with rules only, pass --rules-only "
                                       "or set NLP_GUARD_RULES_ONLY=true.") from None
        model = f"model {check_model_dir(path).version} from {path}"
        st = st.model_copy(update={"model_dir": path})  # the service loads the model announced here
    logging.basicConfig(level=st.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"nlp-guard: serving on http://{host}:{port} (database {st.database_url.split('://')[0]}, {model})",
               err=True)
    uvicorn.run(create_app(st), host=host, port=port, log_level=st.log_level, access_log=st.log_level == "debug")


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--tenant", required=True, help="Tenant the key belongs to.")
@click.option("--scopes", multiple=True, default=("check", "scan"), show_default=True,
              help="check, scan, admin; repeat the option or separate with commas.")
@_db_option
def keys_create(tenant: str, scopes: tuple[str, ...], database_url: str | None) -> None:
    """Create a key; the key itself is the LAST line of the output (shown once)."""
    from .keys import KeyError_, create_key

    sessions = _sessions(database_url)
    try:
        with sessions() as s, s.begin():
            key, row = create_key(s, tenant, scopes)
    except KeyError_ as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(f"created key {row.key_id} for tenant {row.tenant} with scopes {row.scopes}; store it now, "
               "it is not shown again:")
    click.echo(key)


@keys.command("list")
@click.option("--tenant", help="Only this tenant's keys.")
@_db_option
def keys_list(tenant: str | None, database_url: str | None) -> None:
    """List keys (ids, tenants, scopes; never the keys)."""
    from .keys import list_keys

    with _sessions(database_url)() as s:
        for k in list_keys(s, tenant):
            state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
            click.echo(f"{k.key_id}\t{k.tenant}\t{k.scopes}\t{k.created_at:%Y-%m-%d %H:%M}\t{state}")


@keys.command("revoke")
@click.argument("key_id")
@_db_option
def keys_revoke(key_id: str, database_url: str | None) -> None:
    """Revoke a key by its id."""
    from .keys import revoke

    with _sessions(database_url)() as s, s.begin():
        if not revoke(s, key_id):
            raise click.ClickException(f"no active key with id {key_id!r}")
    click.echo(f"revoked {key_id}")


@click.group()
def audit() -> None:
    """Check the audit log."""


@audit.command("verify")
@_db_option
def audit_verify(database_url: str | None) -> None:
    """Walk the hash chain; exit 1 naming the first bad entry."""
    from .audit import verify

    with _sessions(database_url)() as s:
        r = verify(s)
    if r.ok:
        click.echo(f"ok: {r.entries} entries, chain intact, head {r.head_hash}")
        return
    click.echo(f"audit log BROKEN at entry {r.bad_seq}: {r.reason}", err=True)
    sys.exit(1)
