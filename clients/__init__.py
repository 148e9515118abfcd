"""Command-line tools and load generators for campaign managers, devices and operators."""
