"""Campaigns: the campaign library every server shares (model, validation, instructions,
feed, schedule, pricing, pacing, wire format, store and KPIs); no process lives here."""
