"""The CampaignService's flow and servicer in this process, over the stack's MariaDB and Kafka."""
