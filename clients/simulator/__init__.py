"""The user simulator: devices asking for ads and reporting what their users did."""
