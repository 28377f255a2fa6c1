"""Signals of the case engine, for the layers above it to act on without the engine knowing
them."""

from django.dispatch import Signal

#: Sent by services.cases.engine.take() inside its transaction whenever a case changes state,
#: with `case` (saved, in its new state). Receivers that reach outside the database (queue a
#: task, send something) must wait for the commit: `transaction.on_commit`.
case_decided = Signal()
