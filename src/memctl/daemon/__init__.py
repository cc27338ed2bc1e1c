"""The maintenance daemon (docs/daemon.md): cleanup, decay, prune, promote, embedding
backlog, daily snapshot and vector-index compaction on the ``schedule:`` of policies.yaml.

- ``jobs``: what each job runs (a plain registry of functions) and its default schedule;
- ``clocks``: where the daemon reads time and how it waits (real or simulated);
- ``runner``: the loop, one lifecycle-log row per run, failure streaks;
- ``lock``: one daemon per database.

When a job is due comes from ``lifecycle.schedules.next_run`` (local time, like cron).
"""
