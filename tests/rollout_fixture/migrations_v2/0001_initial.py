from importlib import import_module

Migration = import_module("tests.rollout_fixture.migrations.0001_initial").Migration
