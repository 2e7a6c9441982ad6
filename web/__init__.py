"""The web app (``idflow serve``): Dutch pages for recruiters and P&O, and a JSON API."""
