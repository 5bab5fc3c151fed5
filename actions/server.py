"""The action server: rasa_sdk's own, which first starts writing the lead captures an earlier run kept
(``crm_writes.write_kept_from_an_earlier_run``). Run as ``python -m actions.server --actions actions``.

It reads reps' CalDAV calendars for the meeting slots it offers (``crm_core.scheduling.calendars.use``). That
is done at import, not under ``__main__``: Sanic's workers are new processes that import this module again."""

from rasa_sdk.__main__ import main

from actions.crm_writes import write_kept_from_an_earlier_run
from bot.calendars.caldav_busy import read_busy
from crm_core.scheduling import calendars

calendars.use(read_busy)

if __name__ == "__main__":
    write_kept_from_an_earlier_run()
    main()
