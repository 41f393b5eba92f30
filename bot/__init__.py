"""Front Desk application: settings, wiring, CLI and the channel adapters."""
