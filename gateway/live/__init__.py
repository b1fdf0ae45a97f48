"""Live backend state kept by scheduled jobs: health probes, /metrics scrapes, policy reload."""
