"""A tenant app that exists only in tests and the rollout benchmark.

Its migration module is chosen by MIGRATION_MODULES (dgbox/settings/test.py reads
DGBOX_TEST_ROLLOUT_MIGRATIONS), so a test can ship "a new release" without touching the real
apps:

* `migrations`: 0001 creates `Marker` (the state every test database starts in);
* `migrations_v2`: adds 0002, a unique constraint on `Marker.code`. It really fails in a schema
  whose markers have duplicate codes, and only there: the poisoned tenant. It can also be told
  to stop half-way in one schema (to kill a rollout mid-migration): see 0002;
* `migrations_bench`: adds 0002, one nullable column (the benchmark's "one trivial migration").
"""
