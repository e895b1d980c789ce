"""The face library page served by the daemon itself (routes in enrolld.api.web): sessions,
the live activity feed, refusal reasons in words, and the templates and static files (plain
HTML, CSS and JavaScript, no build step and no third-party asset)."""
