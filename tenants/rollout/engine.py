"""Applies pending migrations to one schema with a migration graph loaded once per process.

Django's `migrate` (which stock `migrate_schemas` runs once per schema) loads the migration
graph, replays every applied migration into a project state and renders ~300 historical models
each time. Every tenant launched from the same template has the same applied set, so here the
graph is loaded once per process and the rendered state of each distinct applied set is kept
and cloned per schema (Django's own `migrate` clones its pre-migration state the same way).
Only what differs per schema is read again: its `django_migrations` rows (one query).

Squashed migrations: a schema that applied all or none of the migrations a squash replaces
sees the same graph as the shared one; a schema that applied only some of them gets a graph of
its own (the slow, stock path), which is correct and rare.
"""

import copy
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal

from django.apps import apps as global_apps
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django_tenants.signals import schema_migrated, schema_pre_migration

from tenants.db import connection

from .plan import Graph, Key, migration_graph

_STATES_KEPT = 4

MigrationPlan = list[tuple[Migration, bool]]


class KeysRecorder(MigrationRecorder):
    """Django's recorder, answering the applied set as (app, name) keys only: every reader
    here (the engine, the executor's `check_replacements`) uses the keys, and building ~250
    model instances per schema, twice, was a few milliseconds of CPU a tenant."""

    def applied_migrations(self) -> dict[Key, Any]:
        if self.has_table():
            return dict.fromkeys(self.migration_qs.values_list("app", "name"))
        return {}


class SharedGraphExecutor(MigrationExecutor):
    """Django's executor, given a loader instead of building one from the database, and the
    recorder that already read the schema's migrations (it knows the table is there: no
    second listing of the schema's tables)."""

    def __init__(self, conn: BaseDatabaseWrapper, loader: MigrationLoader,
                 full_plan: MigrationPlan | None = None,
                 recorder: MigrationRecorder | None = None):
        self.connection = conn
        self.loader = loader
        self.recorder = recorder or KeysRecorder(conn)
        self.progress_callback = None
        self._full_plan = full_plan

    def check_replacements(self) -> None:
        # Reads the applied set again only when there are squashes to mark.
        if self.loader.replacements:
            super().check_replacements()

    def migration_plan(self, targets: Sequence[tuple[str, str | None]] | set[tuple[str, str]],
                       clean_start: bool = False) -> MigrationPlan:
        if clean_start and self._full_plan is not None and set(targets) == set(
                self.loader.graph.leaf_nodes()):
            return list(self._full_plan)
        return super().migration_plan(targets, clean_start=clean_start)


class Engine:
    """Per-process migration machinery: one graph, rendered states per applied set."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.leaves = graph.loader.graph.leaf_nodes()
        self.full_plan = SharedGraphExecutor(connection, graph.loader).migration_plan(
            self.leaves, clean_start=True)
        self._states: OrderedDict[frozenset[Key], ProjectState] = OrderedDict()

    def loader_for(self, applied: set[Key]) -> MigrationLoader | None:
        """A loader sharing the graph with `applied` as its applied set, or None when the
        schema applied only part of a squash (its graph differs)."""
        base = self.graph.loader
        recorded: dict[Key, Any] = dict.fromkeys(applied)  # the executor reads only the keys
        for key, migration in base.replacements.items():
            statuses = [target in applied for target in migration.replaces]
            if all(statuses):
                recorded[key] = migration
            elif any(statuses):
                return None
            else:
                recorded.pop(key, None)
        loader = copy.copy(base)
        loader.applied_migrations = recorded
        return loader

    def state_for(self, executor: MigrationExecutor) -> ProjectState:
        """A fresh copy of the rendered project state of the executor's applied set."""
        key = frozenset(k for k in executor.loader.applied_migrations if k in self.graph.nodes)
        state = self._states.get(key)
        if state is None:
            state = _project_state(executor)
            state.apps  # render once: the expensive part # noqa: B018
            self._states[key] = state
            while len(self._states) > _STATES_KEPT:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        return state.clone()

    def migrate_current_schema(self, *, emit_signals: str = "auto",
                               on_migration: Callable[[str], None] | None = None) -> list[str]:
        """Apply every pending migration to the schema the connection is set to.

        All-or-nothing per schema when every pending migration is atomic (the usual case): a
        failure leaves the schema exactly as it was. Returns the applied migrations' keys.
        """
        schema_name = connection.schema_name
        recorder = KeysRecorder(connection)
        applied = set(recorder.applied_migrations())
        loader = self.loader_for(applied)
        executor: MigrationExecutor
        if loader is None:  # part of a squash applied: build this schema's own graph
            executor = MigrationExecutor(connection)
        else:
            executor = SharedGraphExecutor(connection, loader, self.full_plan, recorder)
        targets = executor.loader.graph.leaf_nodes()
        plan = executor.migration_plan(targets)
        if not plan:
            return []
        if on_migration is not None:
            def progress(action: str, migration: Migration | None = None,
                         fake: bool | None = False, /) -> None:
                if action == "apply_start" and migration is not None:
                    on_migration(f"{migration.app_label}.{migration.name}")

            executor.progress_callback = progress
        schema_pre_migration.send(sender=Engine, schema_name=schema_name)
        state = (self.state_for(executor) if loader is not None
                 else _project_state(executor))
        # pre_migrate receivers may add operations to the (shared) migration objects, e.g.
        # contenttypes' RenameContentType after a RenameModel: give them back afterwards so
        # the next schema does not get them twice.
        operations = {migration: list(migration.operations) for migration, _ in plan}
        signals = emit_signals == "always" or _changes_models(plan)
        try:
            atomic = all(migration.atomic for migration, _ in plan)
            with transaction.atomic() if atomic else _no_transaction():
                if signals:
                    emit_pre_migrate_signal(0, False, connection.alias, apps=state.apps,
                                            plan=plan)
                executor.migrate(targets, plan=plan, state=state)
                if signals:
                    # Every migration of the code is applied now, so the models of the
                    # running code are this schema's final state.
                    emit_post_migrate_signal(0, False, connection.alias, apps=global_apps,
                                             plan=plan)
        finally:
            for migration, ops in operations.items():
                # Migration() copies `operations` onto the instance; the stubs say ClassVar.
                migration.operations = ops  # type: ignore[misc]
        schema_migrated.send(sender=Engine, schema_name=schema_name)
        return [f"{m.app_label}.{m.name}" for m, _ in plan]


# pre/post_migrate cost ~70 queries per schema (a query or three per app: content types,
# permissions, Wagtail's snippet permissions), most of a small migration's time. Their
# receivers derive rows from the set of models and their options, so with emit_signals="auto"
# they are sent only when a migration may change those: these operations, or code
# (RunPython/RunSQL) whose effect cannot be known. A RenameModel is also what contenttypes'
# pre_migrate receiver needs to see.
_MODEL_OPERATIONS = ("CreateModel", "DeleteModel", "RenameModel", "AlterModelOptions",
                     "AlterModelTable", "RunPython", "RunSQL", "SeparateDatabaseAndState")


def _project_state(executor: MigrationExecutor) -> ProjectState:
    """The executor's project state with its applied migrations (Django's own helper)."""
    state: ProjectState = executor._create_project_state(  # type: ignore[attr-defined]
        with_applied_migrations=True)
    return state


def _changes_models(plan: MigrationPlan) -> bool:
    return any(type(op).__name__ in _MODEL_OPERATIONS
               for migration, _ in plan for op in migration.operations)


class _no_transaction:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> Literal[False]:
        return False


_engine: Engine | None = None


def get_engine() -> Engine:
    """This process's engine (inherited by forked workers when built before the fork)."""
    global _engine
    graph = migration_graph()
    if _engine is None or _engine.graph is not graph:
        _engine = Engine(graph)
    return _engine


def reset_engine() -> None:
    global _engine
    _engine = None
