"""Rehearsal: a copy of a programme shifted to now, and the autopilot that flies it.

Two halves of one thing, used together by `regie rehearse`:

- `copies`: the rehearsal copy in the database — the programme's running order on compressed
  times, with placeholders in place of every hidden field, unlisted, deleted by `--delete` or
  once older than a day. A rehearsal is rehearsed in public (viewers, the console, the overlay
  all see it), so it must never carry the real show's secret: the real guests stay secret until
  the real show.
- `autopilot`: an ordinary client of the HTTP API that presses the buttons on the copy's
  planned times, and stops as soon as a moderator presses anything.
"""
