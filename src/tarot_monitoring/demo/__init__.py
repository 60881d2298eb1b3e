"""Reference bot workload for `tarot-monitor demo` and local fakes of the outside services it calls.

The fakes (:mod:`tarot_monitoring.demo.fakes`) stand in for OpenAI, the Telegram Bot API and the
payment provider, which neither the demo nor the test suite can reach.
"""
