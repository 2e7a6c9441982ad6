"""Who hears about it, and how: routing (who), templates (what) and channels (how).

Alert causes are written to the outbox by the engine (``procedures.alerts``); ``dispatch``
turns them into deliveries per recipient and sends them through Apprise.
"""
