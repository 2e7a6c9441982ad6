"""What runs in bulk or on a schedule: import, roll-up and report (Prefect flows)."""
