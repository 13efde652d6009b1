"""Rehearsal: a copy of a programme shifted to now, and the autopilot that flies it.

Two halves of one thing, used together by `regie rehearse`:

- `copies`: the rehearsal copy in the database — the programme's running order on compressed
  times, made in one transaction with the autopilot's token.
- `autopilot`: an ordinary client of the HTTP API that presses the buttons on the copy's
  planned times, and stops as soon as a moderator presses anything.
"""
