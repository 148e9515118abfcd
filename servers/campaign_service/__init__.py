"""CampaignService: the campaign managers API process (server, service, management)."""
