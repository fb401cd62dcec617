"""The live review's web page: a local Flask app over `reference.live_review` (domain logic there, routes here)."""
