"""The long-running service: the runner, doctor, the systemd unit, status, logging, permissions."""
