"""The spec's operating loop as reports over Prometheus and the alert history.

``tarot-monitor incidents show ID`` writes a postmortem skeleton (:mod:`.postmortem`),
``tarot-monitor review`` the monthly threshold review (:mod:`.review`) and
``tarot-monitor capacity`` the quarterly capacity report (:mod:`.capacity`); their charts are
matplotlib PNGs (:mod:`.charts`, the ``reports`` extra), their PromQL is in :mod:`.queries` and
the trend maths in :mod:`.trend`. The command line is :mod:`.cli`.
"""
