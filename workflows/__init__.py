"""What runs in bulk or on a schedule: import, roll-up and report (Prefect flows)."""

from notifications.signal import install

# A flow that raises alerts (the overdue scan, a roll-up) signals the alerts-dispatch
# deployment after its commit, as every other entry point does (no-op without PREFECT_API_URL).
install()
