"""Campaigns: the campaign model, its validation, the feed, schedule, pricing and pacing."""
