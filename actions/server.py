"""The action server: rasa_sdk's own, which first starts writing the lead captures an earlier run kept
(``crm_writes.write_kept_from_an_earlier_run``). Run as ``python -m actions.server --actions actions``."""

from rasa_sdk.__main__ import main

from actions.crm_writes import write_kept_from_an_earlier_run

if __name__ == "__main__":
    write_kept_from_an_earlier_run()
    main()
