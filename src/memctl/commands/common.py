"""What every command shares: the common options (docs/cli.md), the settings object
built from them, and the error handling that turns library errors into exit codes."""

import functools
import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer

from memctl import clock
from memctl.errors import BadInput, InternalError, MemctlError, NotFound
from memctl.lifecycle.policies import Policies, find_policies_file, load_policies
from memctl.lifecycle.values import check_tenant
from memctl.output import Output
from memctl.paths import Location, Project, resolve_project
from memctl.store import Database, open_database

if TYPE_CHECKING:
    from memctl.embeddings import Embedder

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Settings:
    """The resolved common options; opens the database and loads policies on demand."""

    db_option: str | None = None
    policies_option: str | None = None
    tenant_option: str | None = None  # --tenant or MEMCTL_TENANT
    all_tenants: bool = False
    json: bool = False
    quiet: bool = False
    debug: bool = False
    format: str = "table"  # --format (commands that print lists); "json" with --json
    command: str = ""
    out: Output = field(default_factory=Output)
    _policies: Policies | None = None
    _db: Database | None = None

    @functools.cached_property
    def location(self) -> Project:
        """The project, its database and config.yaml, as every command resolves them."""
        return resolve_project(self.db_option)

    @property
    def db_path(self) -> Location:
        """The database: a SQLite file, or a PostgreSQL URL (``str()`` masks its password)."""
        return self.location.db

    @property
    def project(self) -> Path:
        """The project root (docs/addressing.md): policies and settings are found there."""
        return self.location.root

    @property
    def policies_path(self) -> Path:
        return find_policies_file(self.policies_option, self.project)

    @property
    def policies(self) -> Policies:
        if self._policies is None:
            self._policies = load_policies(self.policies_path)
        return self._policies

    def now(self) -> float:
        return clock.now()

    def announce(self, text: str) -> None:
        """One stderr line about a wait (``memctl CMD: text``), unless ``-q``."""
        self.out.status(f"memctl {self.command}: {text}")

    def open(
        self, missing: Literal["fail", "create", "empty"] = "fail", migrate: bool = True
    ) -> Database:
        """The database. When its file does not exist: ``missing="create"`` creates it
        (commands that store), ``"empty"`` gives an empty in-memory one (dry runs of an
        import), ``"fail"`` raises NotFound (exit 1): maintenance and read commands on a
        project without a database say so instead of creating one (docs/addressing.md).
        With ``migrate=False`` its schema is left as it is (``memctl migrate``).
        """
        if self._db is None:
            path = self.db_path
            if missing == "fail" and isinstance(path, Path) and not path.exists():
                raise self._missing()
            db = open_database(
                path, create=missing == "create", migrate=migrate, notify=self._schema_upgraded
            )
            if missing == "fail" and db.stand_in:  # a PostgreSQL database without memctl's tables
                db.close()
                raise self._missing()
            self._db = db
        return self._db

    def _missing(self) -> NotFound:
        return NotFound(
            f"no memctl database at {self.db_path} (from {self.location.describe_db()}); "
            "run `memctl init` to set this project up, or pass --db"
        )

    def database(self, create: bool = False) -> Database:
        """The database as the operation layer asks for it (``api.context.Context``):
        created by a store, else it must exist (``open``'s ``"fail"``)."""
        return self.open("create" if create else "fail")

    def embedder(self) -> "Embedder | None":
        """The policies' model, loaded (and prepared on first use, said on stderr) only
        when an operation needs vectors."""
        from memctl.embeddings import get_embedder

        return get_embedder(self.policies.embedding_model, self.announce)

    def _schema_upgraded(self, line: str) -> None:
        """Once per upgrade, by the process that ran it; on stderr even with --json."""
        self.out.status(line)

    @property
    def tenant(self) -> str:
        """``--tenant`` > ``MEMCTL_TENANT`` > ``tenant:`` of .memctl/config.yaml > default."""
        return self.tenant_option or self.location.tenant or "default"

    @property
    def scope(self) -> str | None:
        """The tenant filter: None means every tenant (``--all-tenants``)."""
        return None if self.all_tenants else self.tenant

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database file, or postgresql://USER@HOST/DBNAME (env MEMCTL_DB).",
        show_default=False,
    ),
]
PoliciesOption = Annotated[
    str | None,
    typer.Option(
        "--policies", help="policies.yaml to use (env MEMCTL_POLICIES).", show_default=False
    ),
]
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        envvar="MEMCTL_TENANT",
        help="Tenant (isolation boundary; default: config.yaml's tenant, else 'default').",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks.", hidden=True)]

_COMMON = [
    inspect.Parameter("db", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DbOption),
    inspect.Parameter(
        "policies", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=PoliciesOption
    ),
    inspect.Parameter(
        "tenant", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=TenantOption
    ),
    inspect.Parameter(
        "json_output", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOption
    ),
    inspect.Parameter(
        "quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=QuietOption
    ),
    inspect.Parameter(
        "debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=DebugOption
    ),
]


def check_format(given: str | None, json: bool, offered: Sequence[str]) -> str:
    """The output format from ``--format`` and ``--json`` (``--json`` = ``--format json``)."""
    if given is None:
        return "json" if json else "table"
    if given not in offered:
        raise BadInput(f"--format must be one of {', '.join(offered)}")
    if json and given != "json":
        raise BadInput(f"--json and --format {given} disagree; give one")
    return given


def run_guarded(settings: Settings, body: Callable[[], Any], policies_first: bool = True) -> Any:
    """Run a command body: library errors become one line and their exit code.

    Every command loads the policies file in use first, whether or not it needs it:
    a bad file is refused the same way everywhere (exit 2, ``file:line: ...``), never
    ignored by some commands and reported by others (~2 ms for the packaged file).
    ``policies_first=False`` is for ``doctor``, which reports a bad file as a finding."""
    try:
        check_tenant(settings.tenant)
        if policies_first:
            _ = settings.policies
        return body()
    except BrokenPipeError:
        # the reader went away (`memctl list | head -1`): stop quietly with the shell's
        # SIGPIPE status, as `ls | head` does, and keep Python from complaining at exit
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(141) from None
    except MemctlError as exc:
        if settings.debug:
            raise
        settings.out.error(exc, settings.command)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        sys.stderr.write("memctl: interrupted\n")
        raise typer.Exit(130) from None
    except Exception as exc:  # never a traceback for users (docs/cli.md)
        if settings.debug:
            raise
        settings.out.error(
            InternalError(f"internal error: {exc!r} (rerun with --debug)"), settings.command
        )
        raise typer.Exit(InternalError.exit_code) from None
    finally:
        settings.close()


def command_path(name: str) -> str:
    """The invoked command as typed after ``memctl`` (``policies show``, ``store``), so
    error lines name a group's command with its group; ``name`` outside click."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is None or " " not in ctx.command_path:
        return name
    return ctx.command_path.split(" ", 1)[1]


def command(
    app: typer.Typer,
    name: str,
    all_tenants: bool = False,
    formats: Sequence[str] | None = None,
    label: str | None = None,
    policies_first: bool = True,
) -> Callable[[F], F]:
    """Register ``fn(settings, **options)`` as a command that also takes the common options.

    The function's own parameters come first in ``--help``; ``--db``, ``--policies``,
    ``--tenant``, ``--json`` and ``-q`` are added here so every command has them, and
    ``--format`` (one of ``formats``, into ``settings.format``) for commands printing lists.
    ``label`` names the command in error lines (a group's command: "migrate up").
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        own = list(signature.parameters.values())[1:]  # drop ``settings``
        extra = list(_COMMON)
        if all_tenants:
            extra.append(
                inspect.Parameter(
                    "all_tenants",
                    inspect.Parameter.KEYWORD_ONLY,
                    default=False,
                    annotation=Annotated[
                        bool, typer.Option("--all-tenants", help="Every tenant, not just --tenant.")
                    ],
                )
            )
        if formats:
            extra.insert(
                3,
                inspect.Parameter(
                    "output_format",
                    inspect.Parameter.KEYWORD_ONLY,
                    default=None,
                    annotation=Annotated[
                        str | None,
                        typer.Option(
                            "--format",
                            help=f"Output: {'|'.join(formats)} (default table).",
                            show_default=False,
                        ),
                    ],
                ),
            )

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            settings = Settings(
                db_option=kwargs.pop("db"),
                policies_option=kwargs.pop("policies"),
                tenant_option=kwargs.pop("tenant"),
                all_tenants=kwargs.pop("all_tenants", False),
                json=kwargs.pop("json_output"),
                quiet=kwargs.pop("quiet"),
                debug=kwargs.pop("debug"),
                command=label or command_path(name),
            )
            given = kwargs.pop("output_format", None)
            settings.out = Output(json=settings.json, quiet=settings.quiet)

            def body() -> Any:
                if formats:
                    settings.format = check_format(given, settings.json, formats)
                    settings.json = settings.format == "json"
                    settings.out = Output(settings.json, settings.quiet, settings.format)
                return fn(settings, **kwargs)

            return run_guarded(settings, body, policies_first)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        app.command(name)(wrapper)
        return fn

    return decorate
