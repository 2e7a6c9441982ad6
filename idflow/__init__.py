"""idflow: event-driven workflow engine for I&D vacancy procedures (entry points)."""
