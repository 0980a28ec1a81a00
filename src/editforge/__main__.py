import os

try:
    from editforge.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python was still loading: nothing started, nothing to say
    os._exit(130)  # not sys.exit: a second Ctrl-C during exit would print a traceback

main()
